"""Accuracy overall and per split, relation, meta-category, negative type and label. Unparsed answers (and, in
caption choice, ties) count as wrong and are reported (`unparsed`), so accuracy is always over every sample.

Overall and per split, a 95 % `interval`: a bootstrap over images (statements about one image are not
independent; fixed seed, 2000 resamples) or Wilson's where each image has one statement; `interval.method` says
which (zerovlm/results/statistics.py).

Every accuracy comes with the baseline it must beat: on true/false statements `majority`, the accuracy of always
giving the more common label (What'sUp verification is 25 % true: always "no" scores 0.75); in caption choice
`chance`, the mean of 1 / number of options.

Likelihood scoring on dev and test adds `calibrated`: the p_yes threshold best on dev, applied to test, reported
beside the plain 0.5 (`splits.test`).

Caption choice (What'sUp's own task) adds its paper's pair and set accuracy: a pair (left/right, on/under,
in front/behind of one object pair) counts when both its images are right, a set when all four are; over the
complete pairs and sets present (the What'sUp code divides by N/2 and N/4: the same when all are complete).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from zerovlm.results.statistics import accuracy_interval

OPPOSITE_PAIRS = (("left of", "right of"), ("on", "under"), ("in front of", "behind"))


def _accuracy(rows: list[dict]) -> dict:
    n = len(rows)
    correct = sum(r["correct"] for r in rows)
    out = {"n": n, "correct": correct, "accuracy": correct / n, "unparsed": sum(r["prediction"] is None for r in rows)}
    if "options" in rows[0]:
        out["chance"] = sum(1 / len(r["options"]) for r in rows) / n
    else:
        true = sum(bool(r["label"]) for r in rows)
        out["majority"] = max(true, n - true) / n
    return out


def _by(rows: list[dict], key, with_interval: bool = False) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[str(key(r))].append(r)
    return {k: {**_accuracy(v), **({"interval": interval(v)} if with_interval else {})}
            for k, v in sorted(groups.items())}


def pair_and_set_accuracy(rows: list[dict]) -> dict:
    by_pair: dict[str, dict[str, bool]] = defaultdict(dict)
    for r in rows:
        if r.get("pair") is not None:  # What'sUp's controlled subsets name the object pair; other sets have none
            by_pair[r["pair"]][r["relation"]] = r["correct"]
    pairs = [(p[a], p[b]) for p in by_pair.values() for a, b in OPPOSITE_PAIRS if a in p and b in p]
    sets = [p for p in by_pair.values() if len(p) == 4]
    return {
        "pair_accuracy": sum(a and b for a, b in pairs) / len(pairs) if pairs else None, "pairs": len(pairs),
        "set_accuracy": sum(all(p.values()) for p in sets) / len(sets) if sets else None, "sets": len(sets),
    }


def calibrated(rows: list[dict]) -> dict | None:
    """The p_yes threshold that is best on dev, applied to test (beside the plain 0.5 in `splits`).

    Candidates are 0.5 and the midpoints between the dev p_yes values; a tie between thresholds goes to the one
    nearest 0.5. None unless every row has p_yes (likelihood scoring) and both dev and test are present."""
    if any(r.get("p_yes") is None for r in rows):
        return None
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    if not dev or not test:
        return None
    p = np.array([r["p_yes"] for r in dev])
    label = np.array([bool(r["label"]) for r in dev])
    values = np.unique(p)
    candidates = np.unique(np.concatenate([[0.5], (values[1:] + values[:-1]) / 2]))
    accuracy = ((p[None, :] > candidates[:, None]) == label[None, :]).mean(axis=1)
    best = np.flatnonzero(accuracy == accuracy.max())
    threshold = float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])
    test_correct = [(r["p_yes"] > threshold) == bool(r["label"]) for r in test]
    return {"threshold": threshold, "dev_accuracy": float(accuracy.max()),
            "test_accuracy": sum(test_correct) / len(test), "test_n": len(test)}


def image_of(row: dict) -> str:
    """The image a prediction row is about (its `image`, its id where it has none): the group intervals resample."""
    return row.get("image", row["id"])


def interval(rows: list[dict]) -> dict:
    """The 95 % interval of the rows' accuracy, resampling images (a row's `image`; its id when it has none)."""
    found = accuracy_interval([r["correct"] for r in rows], [image_of(r) for r in rows])
    return {k: found[k] for k in ("low", "high", "method", "level", "resamples", "groups") if k in found}


def compute_metrics(rows: list[dict]) -> dict:
    if not rows:
        raise ValueError("no predictions to score: an accuracy of 0/0 is not a result")
    choice = "options" in rows[0]
    metrics = {
        **_accuracy(rows),
        "interval": interval(rows),
        "splits": _by(rows, lambda r: r["split"], with_interval=True),
        "relations": _by(rows, lambda r: r["relation"]),
        "negative_types": _by(rows, lambda r: r["negative_type"]),
    }
    if any(r.get("category") for r in rows):
        metrics["categories"] = _by(rows, lambda r: r.get("category"))
    if choice and "question" in rows[0]:
        metrics["task"] = "multiple_choice"
        metrics.update(choice_metrics(rows))
    elif choice:
        metrics["task"] = "caption_choice"
        metrics["ties"] = metrics["unparsed"]
        metrics.update(pair_and_set_accuracy(rows))
    else:
        metrics["labels"] = _by(rows, lambda r: "true" if r["label"] else "false")
        threshold = calibrated(rows)
        if threshold is not None:
            metrics["calibrated"] = threshold
    return metrics


def circular_accuracy(rows: list[dict]) -> dict:
    """CircularEval: the copies of a question (its `group`: its options rotated, or reordered by the benchmark)
    count as one, right only when every copy is right; overall, per type and per category, the mean over groups
    (3DSRBench's compute_3dsrbench_results_circular.py)."""
    groups: dict[str, dict] = {}
    for r in rows:
        g = groups.setdefault(r["group"], {"correct": True, "category": r["category"], "type": r.get("type")})
        g["correct"] = g["correct"] and r["correct"]

    def mean(selected: list[dict]) -> dict:
        return {"accuracy": sum(g["correct"] for g in selected) / len(selected), "n": len(selected)}

    out = {**mean(list(groups.values())), "copies": len(rows)}
    out["categories"] = {c: mean([g for g in groups.values() if g["category"] == c])
                         for c in sorted({g["category"] for g in groups.values()})}
    types = sorted({g["type"] for g in groups.values() if g["type"] is not None})
    if types:
        out["types"] = {t: mean([g for g in groups.values() if g["type"] == t]) for t in types}
    return out


def cv_bench_accuracy(rows: list[dict]) -> dict:
    """CV-Bench's combined score, as its card defines it: ((accuracy on ADE20K + on COCO) / 2 + on Omni3D) / 2;
    a part whose sources are not all present is None, and so is the combined score then."""
    by_source = {k: v["accuracy"] for k, v in _by(rows, lambda r: r.get("source")).items()}
    two_d = (by_source["ADE20K"] + by_source["COCO"]) / 2 if {"ADE20K", "COCO"} <= set(by_source) else None
    three_d = by_source.get("Omni3D")
    combined = (two_d + three_d) / 2 if two_d is not None and three_d is not None else None
    return {"cv_bench_accuracy": combined, "accuracy_2d": two_d, "accuracy_3d": three_d}


def choice_metrics(rows: list[dict]) -> dict:
    """Multiple-choice questions: accuracy per category (task, relation, subtype) and per source as each benchmark
    reports it; CircularEval where questions come in copies; CV-Bench's combined score."""
    out: dict = {"categories": _by(rows, lambda r: r["category"])}
    if any(r.get("source") for r in rows):
        out["sources"] = _by(rows, lambda r: r.get("source"))
    if any(r.get("type") for r in rows):
        out["types"] = _by(rows, lambda r: r.get("type"))
    if len({r["group"] for r in rows}) < len(rows):
        out["circular"] = circular_accuracy(rows)
    if rows[0].get("benchmark") == "cv_bench":
        out.update(cv_bench_accuracy(rows))
    return out
