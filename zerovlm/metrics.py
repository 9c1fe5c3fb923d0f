"""Accuracy overall and per split, relation, negative type and label. Unparsed answers count as wrong and are
reported (`unparsed`), so accuracy is always over every sample."""

from __future__ import annotations

from collections import defaultdict


def _accuracy(rows: list[dict]) -> dict:
    n = len(rows)
    correct = sum(r["correct"] for r in rows)
    return {"n": n, "correct": correct, "accuracy": correct / n, "unparsed": sum(r["prediction"] is None for r in rows)}


def _by(rows: list[dict], key) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[str(key(r))].append(r)
    return {k: _accuracy(v) for k, v in sorted(groups.items())}


def compute_metrics(rows: list[dict]) -> dict:
    if not rows:
        raise ValueError("no predictions to score: an accuracy of 0/0 is not a result")
    return {
        **_accuracy(rows),
        "splits": _by(rows, lambda r: r["split"]),
        "relations": _by(rows, lambda r: r["relation"]),
        "negative_types": _by(rows, lambda r: r["negative_type"]),
        "labels": _by(rows, lambda r: "true" if r["label"] else "false"),
    }
