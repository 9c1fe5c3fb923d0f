"""A sweep's results as one tidy table: results.csv and results.parquet beside report.md.

One row per job and scope: the job overall, each split, and each subset metrics.json scores apart (meta-category,
relation, negative type, label; `scope` names which, `subset` the value). Every setting key is a column of its
own (stage, dataset, views, generator, layout, prompt, backbone, prior, seed, and every other option the sweep
set), and every number is a number: n, correct, accuracy, its interval (low, high, method, groups), the baseline
to beat and its kind, unparsed. The overall row of a compared job adds the paired comparison with its baseline job
(the difference with its interval, the discordant counts b01 and b10, McNemar's p, Holm's p, the smallest
difference the comparison could detect at alpha 0.05 and power 0.8); the test row adds the ZeroVLM paper's number
for the setting and the sample count it fits. Settings run with several seeds add a row per setting with
`scope=seeds`: the mean over seeds, an interval resampling seeds and images, the spread between seeds.
"""

from __future__ import annotations

from pathlib import Path

from zerovlm.files import write_bytes_atomic
from zerovlm.results.metrics import image_of
from zerovlm.results.paired import SETTING_KEYS, option_name, read_rows
from zerovlm.results.published import published_rows
from zerovlm.results.statistics import min_detectable_difference, seed_interval

SUBSETS = {"categories": "category", "relations": "relation", "negative_types": "negative_type", "labels": "label"}
# numeric whatever a sweep's rows hold (a column all blank stays a number column)
COUNTS = ("n", "correct", "groups", "unparsed", "b01", "b10", "paper_n", "seeds")
NUMBERS = ("accuracy", "low", "high", "baseline", "difference", "difference_low", "difference_high", "mcnemar_p",
           "holm_p", "min_detectable_difference", "paper_accuracy", "seed_sd", "seed_min", "seed_max")
COMPARISON = ("comparison", "vs_job", "difference", "difference_low", "difference_high", "b01", "b10", "mcnemar_p",
              "holm_p", "min_detectable_difference")


def setting_columns(config: dict, options: dict[str, str]) -> dict:
    """The job's setting, a column per key: SETTING_KEYS by option name (a group), then every other option the
    sweep set on the command line."""
    if not config:  # a job without its config.yaml: what its overrides say
        return dict(options)
    cells = {k: option_name(config.get(k)) if k not in ("stage", "seed") else config.get(k) for k in SETTING_KEYS}
    cells.update({k: v for k, v in options.items() if k not in cells})
    return cells


def _scored(m: dict) -> dict:
    interval = m.get("interval", {})
    kind = "chance" if "chance" in m else ("majority" if "majority" in m else None)
    return {"n": m.get("n"), "correct": m.get("correct"), "accuracy": m["accuracy"], "low": interval.get("low"),
            "high": interval.get("high"), "interval_method": interval.get("method"),
            "groups": interval.get("groups"), "baseline": m.get(kind) if kind else None, "baseline_kind": kind,
            "unparsed": m.get("unparsed")}


def comparison_columns(found: dict, job: Path, name_of, comparisons: int = 1) -> dict:
    """The overall row's comparison with its baseline job ({} cells where there is none, saying why)."""
    if not found:
        return {}
    if found.get("baseline") == job:
        return {"comparison": "baseline"}
    if "refused" in found:
        return {"comparison": "refused: different samples", "vs_job": name_of(found["baseline"])}
    if "why" in found:
        return {"comparison": f"no baseline: {found['why']}"}
    c = found["comparison"]
    return {"comparison": "compared", "vs_job": name_of(found["baseline"]), "difference": c["difference"],
            "difference_low": c["low"], "difference_high": c["high"], "b01": c["b01"], "b10": c["b10"],
            "mcnemar_p": c["p"], "holm_p": c.get("p_holm"),
            "min_detectable_difference": detectable(c, comparisons)}


def detectable(comparison: dict, comparisons: int) -> float | None:
    """The smallest paired difference a comparison could show with power 0.8 at the level its Holm-adjusted p is
    first held to among the sweep's `comparisons`: alpha 0.05 / comparisons (Bonferroni, Holm's strictest step)."""
    return min_detectable_difference(comparison["n"], comparison["b01"] + comparison["b10"],
                                     alpha=0.05 / max(1, comparisons))


def paper_rows(config: dict) -> list[dict]:
    """The ZeroVLM paper's published rows for a job's setting on test (none with a 3D prior, which it never ran)."""
    if not config or config.get("prior") is not None:
        return []
    names = {k: option_name(config.get(k)) for k in ("dataset", "views", "prompt", "backbone")}
    return published_rows(names["dataset"], "test", names["views"], names["prompt"], names["backbone"])


def paper_columns(config: dict) -> dict:
    """The ZeroVLM paper's number (as a fraction) for the job's setting on test, and the n it fits."""
    found = paper_rows(config)
    if not found:
        return {}
    first = found[0]  # where two tables print different numbers for one setting, the first; report.md shows both
    return {"paper_accuracy": first["accuracy"] / 100, "paper_n": first.get("n"),
            "paper_tables": ", ".join(sorted({str(r["table"]) for r in found if r["printed"] == first["printed"]}))}


def job_rows(job: Path, name: str, setting_cells: dict, status: str, metrics: dict, config: dict,
             found: dict, name_of, comparisons: int = 1) -> list[dict]:
    """The tidy rows of one finished job (`comparisons`: how many the sweep made, for the detectable difference)."""
    base = {"job": name, **setting_cells, "status": status}
    rows = [{**base, "scope": "overall", "subset": "all", **_scored(metrics),
             **comparison_columns(found, job, name_of, comparisons)}]
    for split, m in metrics.get("splits", {}).items():
        rows.append({**base, "scope": "split", "subset": split, **_scored(m),
                     **(paper_columns(config) if split == "test" and config else {})})
    for key, scope in SUBSETS.items():
        for value, m in (metrics.get(key) or {}).items():
            rows.append({**base, "scope": scope, "subset": value, **_scored(m)})
    return rows


def seed_rows(finished: list[Path], cells: dict[Path, dict], name_of) -> list[dict]:
    """A row per setting that ran with two or more seeds: the mean over its seeds, the interval resampling seeds
    and images together, the spread between seeds. Seeds are paired by sample id (the same samples in each)."""
    by_setting: dict[tuple, list[Path]] = {}
    for job in finished:
        key = tuple(sorted((k, str(v)) for k, v in cells[job].items() if k != "seed"))
        by_setting.setdefault(key, []).append(job)
    out = []
    for key, jobs in by_setting.items():
        if len({cells[j].get("seed") for j in jobs}) < 2:
            continue
        runs = [read_rows(j) for j in jobs]
        ids = sorted(set.intersection(*({r["id"] for r in rows} for rows in runs)))
        if not ids:
            continue
        by_id = [{r["id"]: r for r in rows} for rows in runs]
        correct = [[bool(rows[i]["correct"]) for i in ids] for rows in by_id]
        groups = [image_of(by_id[0][i]) for i in ids]
        found = seed_interval(correct, groups)
        # `seed` stays a number column: the seeds' values are in `subset`, their jobs in `job`
        out.append({**dict(key), "seed": None, "job": ",".join(name_of(j) for j in jobs), "status": "ok",
                    "scope": "seeds", "subset": ",".join(str(cells[j]["seed"]) for j in jobs), "n": found["n"],
            "accuracy": found["accuracy"], "low": found["low"], "high": found["high"],
            "interval_method": found["method"], "groups": found["groups"], "seeds": found["seeds"],
            "seed_sd": found["seed_sd"], "seed_min": found["seed_min"], "seed_max": found["seed_max"]})
    return out


def write_results(sweep_dir: Path, rows: list[dict]) -> list[Path]:
    """results.csv and results.parquet (pandas), every column of every row, numbers as numbers."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    for column in frame.columns:  # a column of numbers and blanks stays numeric: counts as integers
        column_values = [r.get(column) for r in rows]
        values = [v for v in column_values if v is not None]
        if column in COUNTS or values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            frame[column] = pd.array(column_values, dtype="Int64")
        elif column in NUMBERS or values and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 for v in values):
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    csv, parquet = Path(sweep_dir) / "results.csv", Path(sweep_dir) / "results.parquet"
    text = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    write_bytes_atomic(csv, frame.to_csv(index=False).encode())  # whole files or none
    write_bytes_atomic(parquet, text.to_parquet(index=False))
    return [csv, parquet]
