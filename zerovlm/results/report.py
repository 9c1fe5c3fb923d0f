"""`zerovlm-report SWEEP_DIR`: one row per job of a sweep, accuracy overall and per split with 95 % intervals,
beside the baseline it must beat (majority label on true/false statements, chance in caption choice), and each
job's paired difference from its baseline job (`--baseline views=origin` by default: the original image, otherwise
the same setting; a job without one says why).
`zerovlm-report compare JOB_A JOB_B`: one paired comparison. `zerovlm-report power SWEEP_DIR`: the smallest paired
difference each comparison could detect.

Writes report.md, report.png and report_paired.png (zerovlm/results/plots.py), and the tidy results.csv and
results.parquet (zerovlm/results/tidy.py: a row per job and split, numbers as numbers) into the sweep directory and
prints the table; the ZeroVLM paper's numbers stand in columns of their own where a job's setting matches one
(experiments/published.yaml). Every multirun prints it at its end (SweepReportCallback in conf/config.yaml), also
when a job failed (listed with its error), and with logger=wandb logs it as the sweep's "summary" run. A folder
holding several sweeps gets one report per sweep. Imports no torch.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import yaml
from hydra.experimental.callback import Callback

from zerovlm.console import SWEEP_SIZE, sweep_size
from zerovlm.files import write_bytes_atomic, writing_into
from zerovlm.results.paired import (
    DEFAULT_BASELINE,
    check_baseline,
    compare,
    compare_sweep,
    describe,
    find_baseline,
    parse_baseline,
    setting,
)
from zerovlm.results.tidy import detectable, job_rows, paper_rows, seed_rows, setting_columns, write_results

log = logging.getLogger(__name__)
PAPER_COLUMNS = ("paper (test)", "ours - paper (pts)", "paper in our interval")
CHANCE_NOTE = "Note: tiny random backbone - its answers are at chance; these numbers test the pipeline, not a VLM."


def _job_record(job_dir: Path) -> dict | None:
    """job.yaml: the overrides and choices of the run that made the job's predictions (written with its
    config.yaml; a later run refused for another setting changes neither, while Hydra rewrites .hydra/)."""
    path = job_dir / "job.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else None


def _overrides(job_dir: Path) -> dict[str, str]:
    """The job's command-line overrides (`+group=x` named `group`)."""
    record = _job_record(job_dir)
    if record is not None:
        items = record["overrides"]
    else:  # a job from before job.yaml
        path = job_dir / ".hydra" / "overrides.yaml"
        items = yaml.safe_load(path.read_text()) if path.exists() else []
    return {key.lstrip("+~"): value for key, value in (item.split("=", 1) for item in items or [] if "=" in item)}


def _choices(job_dir: Path) -> dict[str, str]:
    """The config group options the job ran with (views, prompt, ... also those an experiment preset chose)."""
    record = _job_record(job_dir)
    if record is not None:
        choices = record["choices"]
    elif (job_dir / ".hydra" / "hydra.yaml").exists():
        choices = yaml.safe_load((job_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]["runtime"]["choices"]
    else:
        return {}
    return {group: str(option) for group, option in choices.items() if not group.startswith("hydra/")}


def with_interval(m: dict) -> str:
    """"0.583 [0.320, 0.806]": an accuracy and its 95 % interval (metrics.json's `interval`)."""
    if "interval" not in m:
        return f"{m['accuracy']:.3f}"
    return f"{m['accuracy']:.3f} [{m['interval']['low']:.3f}, {m['interval']['high']:.3f}]"


def interval_note(methods: list[str]) -> str:
    """What the bracketed intervals are, for the line under the table."""
    named = {"wilson": "Wilson's (one statement per image)",
             "bootstrap over images": "a bootstrap over images (2000 resamples, seed 0)"}
    return "Accuracies with their 95 % interval: " + " or ".join(named.get(m, m) for m in methods) + "."


def _paired_cells(found: dict, job: Path, sweep_dir: Path, comparisons: int = 1) -> dict:
    """The report's cells for a job's comparison with its baseline job."""
    if found.get("baseline") == job:
        return {"vs baseline": "baseline"}
    if "refused" in found:
        return {"vs baseline": "different samples: not compared"}
    if "why" in found:
        return {"vs baseline": "no baseline job: see below"}
    if "comparison" not in found:
        return {}
    c = found["comparison"]
    base = found["baseline"].relative_to(sweep_dir) if found["baseline"] != sweep_dir else "."
    smallest = detectable(c, comparisons)
    return {"vs baseline": f"{c['difference']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}] (job {base})",
            "p (Holm)": f"{c['p']:.3g} ({c['p_holm']:.3g})",
            "detectable": "not at this n" if smallest is None else f"±{smallest:.3f}"}


def _config(job: Path) -> dict:
    """The job's resolved config.yaml ({} when it has none)."""
    path = job / "config.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def _paper_cells(config: dict, metrics: dict) -> tuple[dict, list[float]]:
    """The ZeroVLM paper's number for the job's setting on test (experiments/published.yaml), beside ours: the
    number with the sample count it fits, ours minus it, and whether it lies inside our 95 % interval; and the
    numbers themselves (percent)."""
    test = metrics["splits"].get("test")
    found = paper_rows(config) if test is not None else []
    if not found:
        return {}, []
    printed: dict[str, list[dict]] = {}  # one number printed in two tables is shown once
    for r in found:
        printed.setdefault(r["printed"], []).append(r)
    shown = []
    for number, rows in printed.items():
        tables = ", ".join(r["table"] for r in rows)
        n = rows[0]["n"]
        shown.append(f"{number} (Table{'s' if len(rows) > 1 else ''} {tables}; n {'≈ ' + str(n) if n else 'unknown'})")
    values = [rows[0]["accuracy"] for rows in printed.values()]
    cells = {"paper (test)": " / ".join(shown),
             "ours - paper (pts)": " / ".join(f"{100 * test['accuracy'] - v:+.1f}" for v in values)}
    if "interval" in test:
        inside = [test["interval"]["low"] <= v / 100 <= test["interval"]["high"] for v in values]
        cells["paper in our interval"] = " / ".join("yes" if i else "no" for i in inside)
    return cells, values


def _point(row: dict, metrics: dict, paper: list[float], comparison: dict | None) -> dict:
    """A finished job as the pictures draw it: test accuracy (overall without a test split), its interval, the
    baseline to beat, the paper's numbers, the paired difference from its baseline job. `row` names it later."""
    shown = metrics["splits"].get("test", metrics)
    interval = shown.get("interval", {})
    point = {"row": row, "group": metrics.get("setting", {}).get("dataset", ""), "accuracy": shown["accuracy"],
             "low": interval.get("low"), "high": interval.get("high"), "majority": shown.get("majority"),
             "chance": shown.get("chance"), "paper": paper}
    if comparison is not None:
        point["paired"] = {k: comparison[k] for k in ("difference", "low", "high", "p_holm")}
    return point


def write_pictures(sweep_dir: Path, points: list[dict], label_keys: list[str], baseline: str,
                   note: str | None) -> list[Path]:
    """report.png (accuracy per setting with its interval, baseline and the paper's numbers, by dataset) and
    report_paired.png (each setting's paired difference from its baseline job)."""
    from zerovlm.results.plots import accuracy_png, paired_png

    for point in points:
        point["label"] = " ".join(f"{k}={point['row'][k]}" for k in label_keys) or point["row"]["job"]
    keys = ("label", "group", "accuracy", "low", "high", "majority", "chance", "paper")
    entries = [{k: p[k] for k in keys} for p in points]
    test = all(p["row"].get("test acc") for p in points)
    written = [accuracy_png(entries, sweep_dir / "report.png", note=note,
                            title="test accuracy per setting (95 % interval)" if test else None)]
    paired = [{"label": p["label"], "group": p["group"], **p["paired"]} for p in points if "paired" in p]
    if paired:
        written.append(paired_png(paired, sweep_dir / "report_paired.png", baseline, note=note))
    return written


def find_jobs(folder: Path) -> list[Path]:
    """Every job directory under `folder` (Hydra's .hydra/ or a metrics.json), in job-number order."""
    found = {p.parent for p in folder.glob("**/.hydra")} | {p.parent for p in folder.glob("**/metrics.json")}
    if not found:
        raise FileNotFoundError(f"{folder}: no job directory (no .hydra/ or metrics.json below it; did the sweep run?)")
    return sorted(found, key=lambda p: (len(p.relative_to(folder).parts), int(p.name) if p.name.isdigit() else 0,
                                        str(p)))


def _refusal(job: Path) -> str:
    """"ok" for a finished job, or, where a later run with another setting was refused in its directory, that
    refusal (the row's setting stays the one that made its predictions)."""
    if (job / "error.json").exists():
        error = json.loads((job / "error.json").read_text())
        if error["type"] == "OtherSetting":
            return f"ok; a later run with another setting was refused ({error['differences']})"
    return "ok"


def _failure(job: Path) -> str:
    """The status of a job without metrics.json: its error's last line (error.json, written by the job)."""
    if (job / "error.json").exists():
        error = json.loads((job / "error.json").read_text())
        return f"failed: {error['type']}: {error['last_line']}"
    return "no result (still running, or stopped before it could say why)"


def _config_value(config: dict, key: str, choices: dict[str, str]) -> str:
    """A job's value of an option it did not override: its config group choice, or the key in its config."""
    if key in choices:
        return choices[key]
    value = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def collect(sweep_dir: str | Path, baseline: str = DEFAULT_BASELINE, strict: bool = False
            ) -> tuple[list[str], list[dict], bool, list[str], list[str], list[dict], list[dict]]:
    """(columns, rows, any tiny random backbone, interval methods, comparisons not made and why, the pictures'
    points, the tidy results' rows: zerovlm/results/tidy.py) for every job
    directory: a finished one with its metrics, a failed one with its error's last line (`status`). Each finished
    job is compared with its `baseline` job (zerovlm/results/paired.py) where the sweep has one; `strict` (a
    baseline the user named): one naming an option no job has is an error.

    There is a column for every command-line override, and for every config group whose option differs between
    jobs without being overridden (a preset's rows, e.g. experiment=paper_table3 choosing views and prompt);
    `write_report` shows the columns that are the same in every job once, above the table."""
    sweep_dir = Path(sweep_dir)
    jobs = find_jobs(sweep_dir)
    keys: list[str] = []
    splits: list[str] = []
    rows, tiny, methods, points = [], False, set(), []
    choices = {job: _choices(job) for job in jobs}
    configs = {job: _config(job) for job in jobs}
    finished = [job for job in jobs if (job / "metrics.json").exists()]
    spec = parse_baseline(baseline)
    if strict:
        check_baseline(spec, [setting(configs[job]) for job in finished if configs[job]])
    # one job alone is compared with nothing, and says nothing about it
    paired = compare_sweep({job: configs[job] for job in finished}, spec) if len(finished) > 1 else {}
    unfinished = {job: setting(configs[job]) for job in jobs if job not in finished and configs[job]}
    for job, found in paired.items():  # a baseline job that failed (or still runs) is named as such
        if "why" in found and (base := find_baseline(setting(configs[job]), unfinished, spec)) is not None:
            found["why"] = f"its baseline job {base.relative_to(sweep_dir)} has no result (failed, or still running)"
    comparisons = sum("comparison" in found for found in paired.values())
    varying = [g for g in dict.fromkeys(g for c in choices.values() for g in c)  # not a group's own defaults
               if "@" not in g and len({c.get(g) for c in choices.values()}) > 1]  # (prior_wording@prior.templates)
    options = {}
    for job in jobs:
        options[job] = _overrides(job)
        options[job].update({g: choices[job][g] for g in varying if g not in options[job] and g in choices[job]})
        keys += [k for k in options[job] if k not in keys]
    def name_of(job: Path) -> str:
        return str(job.relative_to(sweep_dir)) if job != sweep_dir else "."

    results, cells = [], {}
    for job in jobs:  # an option a job did not override: its value from the job's config, not a blank
        overrides = {k: options[job][k] if k in options[job] else _config_value(configs[job], k, choices[job])
                     for k in keys}
        name = name_of(job)
        if job not in finished:
            rows.append({"job": name, **overrides, "status": _failure(job)})
            results.append({"job": name, **setting_columns(configs[job], options[job]), "status": _failure(job),
                            "scope": "overall", "subset": "all"})
            continue
        metrics = json.loads((job / "metrics.json").read_text())
        if "accuracy" not in metrics:  # a render or compare_views job: no answers to score
            extra = {k: round(metrics[k], 3) for k in ("psnr", "mae") if k in metrics}
            rows.append({"job": name, **overrides, "status": "ok", "n": metrics["n"], **extra})
            results.append({"job": name, **setting_columns(configs[job], options[job]), "status": "ok",
                            "scope": "overall", "subset": "all", "n": metrics["n"], **extra})
            continue
        splits += [s for s in metrics["splits"] if s not in splits]
        tiny |= bool(metrics.get("tiny_random_backbone"))
        floor = "chance" if "chance" in metrics else "majority"
        status = _refusal(job)  # the setting asked of it last is not the one that made these predictions
        row = {"job": name, **overrides, "status": status, "n": metrics["n"], "accuracy": with_interval(metrics),
               "baseline": f"{metrics[floor]:.3f} ({floor})" if floor in metrics else ""}
        row.update({f"{s} acc": with_interval(metrics["splits"][s]) for s in metrics["splits"]})
        methods |= {m["interval"]["method"] for m in [metrics, *metrics["splits"].values()] if "interval" in m}
        if "calibrated" in metrics:  # likelihood scoring on dev and test: the dev-chosen threshold, on test
            row["test acc (dev threshold)"] = f"{metrics['calibrated']['test_accuracy']:.3f}"
        for extra in ("pair_accuracy", "set_accuracy"):  # What'sUp's caption choice
            if metrics.get(extra) is not None:
                row[extra.replace("_accuracy", " acc")] = f"{metrics[extra]:.3f}"
        if "circular" in metrics:  # CircularEval (3DSRBench's, or dataset.circular=true)
            row["circular acc"] = f"{metrics['circular']['accuracy']:.3f} (n={metrics['circular']['n']})"
        if metrics.get("cv_bench_accuracy") is not None:  # the card's combined score
            row["CV-Bench score"] = f"{metrics['cv_bench_accuracy']:.3f}"
        row["unparsed"] = metrics["unparsed"]
        row["skipped"] = sum(metrics.get("skipped", {}).values())
        row.update(_paired_cells(paired.get(job, {}), job, sweep_dir, comparisons))
        cells[job] = setting_columns(configs[job], options[job])
        results += job_rows(job, name, cells[job], status, metrics, configs[job], paired.get(job, {}), name_of,
                            comparisons)
        paper_cells, paper = _paper_cells(configs[job], metrics)
        row.update(paper_cells)
        rows.append(row)
        points.append(_point(row, metrics, paper, paired.get(job, {}).get("comparison")))
    extras = [c for c in ("test acc (dev threshold)", "pair acc", "set acc", "circular acc", "CV-Bench score")
              if any(c in r for r in rows)]
    compared = [c for c in ("vs baseline", "p (Holm)", "detectable", *PAPER_COLUMNS) if any(c in r for r in rows)]
    status = ["status"] if any(r["status"] != "ok" for r in rows) else []
    views = [c for c in ("psnr", "mae") if any(c in r for r in rows)]  # compare_views jobs
    scored = ["accuracy", "baseline", *[f"{s} acc" for s in splits], *extras, "unparsed", "skipped"] \
        if any("accuracy" in r for r in rows) else []
    columns = ["job", *keys, *status, "n", *views, *scored, *compared]
    refused = [found["refused"] for found in paired.values() if "refused" in found]
    no_baseline: dict[str, list[str]] = {}
    for job, found in paired.items():
        if "why" in found:
            no_baseline.setdefault(found["why"], []).append(str(job.relative_to(sweep_dir)) if job != sweep_dir
                                                            else ".")
    refused += [f"job{'s' if len(names) > 1 else ''} {', '.join(names)}: {why}" for why, names in no_baseline.items()]
    results += seed_rows([job for job in finished if job in cells], cells, name_of)
    if paired and all(found.get("baseline") == job for job, found in paired.items()):
        refused.append(f"every job has {baseline}, so each is its own baseline job; name what the others are "
                       f"compared with, e.g. {baseline},group=option")
    return columns, rows, tiny, sorted(methods), refused, points, results


def markdown(columns: list[str], rows: list[dict]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def tables(columns: list[str], rows: list[dict]) -> str:
    """One table, or where jobs ran on several datasets a table per dataset (in the sweep's order), each with the
    columns that have a value in it (a benchmark without a dev split has no dev column)."""
    datasets = list(dict.fromkeys(r.get("dataset", "") for r in rows))
    if "dataset" not in columns or len(datasets) < 2:
        return markdown(columns, rows)
    parts = []
    for name in datasets:
        part = [r for r in rows if r.get("dataset", "") == name]
        shown = [c for c in columns if c != "dataset" and any(str(r.get(c, "")) != "" for r in part)]
        parts.append(f"### dataset={name}\n\n{markdown(shown, part)}")
    return "\n".join(parts)


def seeds_table(rows: list[dict], keys: list[str]) -> str:
    """The settings run with several seeds: the mean over seeds with its interval (seeds and images resampled
    together), the spread between seeds."""
    if not rows:
        return ""
    shown = [k for k in keys if k != "seed" and any(k in r for r in rows)]
    table = [{**{k: r.get(k, "") for k in shown}, "seeds": r["seed"], "jobs": r["job"],
              "mean accuracy": f"{r['accuracy']:.3f} [{r['low']:.3f}, {r['high']:.3f}]",
              "sd between seeds": f"{r['seed_sd']:.3f}", "min - max": f"{r['seed_min']:.3f} - {r['seed_max']:.3f}"}
             for r in rows]
    return ("\nOver seeds (each setting's jobs that differ only in seed: the mean, a 95 % interval resampling seeds "
            "and images together, 2000 resamples, seed 0):\n\n"
            + markdown([*shown, "seeds", "jobs", "mean accuracy", "sd between seeds", "min - max"], table))


def paired_note(baseline: str, refused: list[str]) -> str:
    lines = [f"vs baseline: accuracy minus that of the job with {baseline} and otherwise the same setting, on the "
             "same samples, with its 95 % paired bootstrap interval over images; p: exact McNemar on the "
             "discordant samples (Holm-adjusted over the sweep's comparisons in brackets); detectable: the smallest "
             "paired difference this comparison could show with power 0.8 at alpha 0.05 over the sweep's "
             "comparisons (0.05 / their number), given its n and its share of discordant samples (zerovlm-report "
             "power SWEEP_DIR)."]
    lines += [f"Not compared: {why}" for why in refused]
    if refused:
        lines.append("Another baseline: zerovlm-report SWEEP_DIR --baseline group=option[,group=option] (or "
                     "hydra.callbacks.report.baseline=... when launching).")
    return "\n".join(lines)


def write_report(sweep_dir: str | Path, baseline: str = DEFAULT_BASELINE, strict: bool = False) -> str:
    """Write report.csv (every column) and report.md (swept columns; the fixed ones listed above)."""
    sweep_dir = Path(sweep_dir)
    columns, rows, tiny, methods, refused, points, results = collect(sweep_dir, baseline, strict)
    (sweep_dir / "report.csv").unlink(missing_ok=True)  # an older version's table as text: results.csv now
    if results:
        with writing_into(sweep_dir, "hydra.sweep.dir"):
            write_results(sweep_dir, results)
    options = [c for c in columns[1:columns.index("n")] if c != "status"]
    fixed = [c for c in options if len(rows) > 1 and len({r.get(c, "") for r in rows}) == 1]
    head = f"Same in every job: {' '.join(f'{c}={rows[0][c]}' for c in fixed)}\n\n" if fixed else ""
    text = head + tables([c for c in columns if c not in fixed], rows)
    failed = sum(not r["status"].startswith("ok") for r in rows)
    text += f"\n{failed} of {len(rows)} jobs failed or left no result: see their zerovlm.log.\n" if failed else ""
    text += f"\n{interval_note(methods)}\n" if methods else ""
    text += f"\n{paired_note(baseline, refused)}\n" if "vs baseline" in columns else ""
    text += seeds_table([r for r in results if r["scope"] == "seeds"], [c for c in options if c not in fixed])
    if PAPER_COLUMNS[0] in columns:
        text += ("\npaper (test): the ZeroVLM paper's number for this setting (experiments/published.yaml; n is "
                 "inferred from its printed digits, not stated), shown beside ours, never mixed in.\n")
    text += f"\n{CHANCE_NOTE}\n" if tiny else ""
    if points:
        labels = [c for c in options if c not in fixed and c != "dataset"]
        note = "tiny random backbone: answers at chance" if tiny else None
        pictures = write_pictures(sweep_dir, points, labels, baseline, note)
        text += f"\nPictures: {', '.join(p.name for p in pictures)}\n"
    else:
        pictures = []
    for stale in {"report.png", "report_paired.png"} - {p.name for p in pictures}:  # an earlier report's
        (sweep_dir / stale).unlink(missing_ok=True)
    with writing_into(sweep_dir, "hydra.sweep.dir"):
        write_bytes_atomic(sweep_dir / "report.md", text.encode())
    return text + f"\nSweep directory: {sweep_dir.resolve()}\n"


_UNREPORTED: list[tuple] = []  # (sweep directory, logger config, baseline) this process launched, until reported


def print_report(sweep_dir: str | Path, logger_cfg=None, baseline: str = DEFAULT_BASELINE) -> None:
    """Print and write the sweep's report; with a logger configured, also as the sweep's W&B "summary" run."""
    try:
        print("\n" + write_report(sweep_dir, baseline), flush=True)
        results = Path(sweep_dir) / "results.parquet"
        if logger_cfg is not None and results.exists():
            import pandas as pd

            from zerovlm.results.wandb_report import log_sweep_summary

            log_sweep_summary(logger_cfg, Path(sweep_dir), pd.read_parquet(results),
                              [Path(sweep_dir) / name for name in ("report.png", "report_paired.png")])
    except Exception as error:  # noqa: BLE001 - a report problem must not hide the jobs' results
        log.warning("sweep report failed: %s", error)


def sweep_baseline(sweep_dir: Path) -> str:
    """The baseline the sweep's own report used (its multirun.yaml's hydra.callbacks.report.baseline, which an
    experiment may set), so that a rebuilt report compares as the first one did; the default without one."""
    path = Path(sweep_dir) / "multirun.yaml"
    if path.exists():
        config = yaml.safe_load(path.read_text()) or {}
        found = (((config.get("hydra") or {}).get("callbacks") or {}).get("report") or {}).get("baseline")
        if found:
            return str(found)
    return DEFAULT_BASELINE


def report_folder(folder: str | Path, baseline: str | None = None, strict: bool = False) -> str:
    """The report of a sweep or run directory; a folder holding several sweeps (outputs/multirun) gets one report
    per sweep (each a directory with Hydra's multirun.yaml), never one table mixing them. Without a `baseline`,
    each sweep's own (sweep_baseline)."""
    folder = Path(folder)
    sweeps = sorted(p.parent for p in folder.glob("*/**/multirun.yaml"))
    if (folder / "multirun.yaml").exists() or not sweeps:
        return write_report(folder, baseline or sweep_baseline(folder), strict)
    return "\n".join(f"## {sweep}\n\n{write_report(sweep, baseline or sweep_baseline(sweep), strict)}"
                     for sweep in sweeps)


class SweepReportCallback(Callback):
    """Prints the sweep's table when a multirun ends. When a job fails, Hydra ends the sweep with that job's error
    once every job has run, without calling on_multirun_end: the entry point then prints the table
    (`report_unfinished_sweep`), failed jobs included, and the exit status stays non-zero. Each job is compared
    with its `baseline` job (`hydra.callbacks.report.baseline`, which an experiment preset may set)."""

    def __init__(self, baseline: str = DEFAULT_BASELINE) -> None:
        self.baseline = baseline

    def on_multirun_start(self, config, **kwargs) -> None:
        _UNREPORTED[:] = [(str(config.hydra.sweep.dir), config.get("logger"), self.baseline)]
        size = sweep_size(config)  # for "job 3/8" in each job's progress bar and final line
        if size is None:
            os.environ.pop(SWEEP_SIZE, None)
        else:
            os.environ[SWEEP_SIZE] = str(size)

    def on_multirun_end(self, config, **kwargs) -> None:
        _UNREPORTED.clear()
        print_report(config.hydra.sweep.dir, config.get("logger"), self.baseline)


def report_unfinished_sweep() -> None:
    """The table of a sweep that ended with an error (called by the entry point on its way out)."""
    if _UNREPORTED and Path(_UNREPORTED[0][0]).is_dir():
        print_report(*_UNREPORTED.pop())


def power_table(sweep_dir: Path, baseline: str = DEFAULT_BASELINE, strict: bool = False) -> str:
    """Each comparison of a sweep with the smallest paired difference it could detect (power 0.8, alpha 0.05 over
    the sweep's comparisons)."""
    *_, results = collect(sweep_dir, baseline, strict)
    compared = [r for r in results if r.get("comparison") == "compared"]
    if not compared:
        return f"{sweep_dir}: no job is compared with a baseline job ({baseline}), so there is no power to report\n"
    rows = [{"job": r["job"], "vs job": r["vs_job"], "n": r["n"], "discordant": r["b01"] + r["b10"],
             "difference": f"{r['difference']:+.3f} [{r['difference_low']:+.3f}, {r['difference_high']:+.3f}]",
             "smallest detectable": "not at this n" if r["min_detectable_difference"] is None
             else f"±{r['min_detectable_difference']:.3f}",
             "seen": "yes" if r["holm_p"] < 0.05 else "no"} for r in compared]
    return (markdown(list(rows[0]), rows) + f"\nsmallest detectable: the paired difference a McNemar test on these n "
            f"samples shows with power 0.8 at alpha 0.05 / {len(compared)} (the sweep's {len(compared)} comparisons, "
            "Holm's strictest step), given the share of discordant samples (Connor's 1987 approximation; the exact "
            "test the report runs has a little less power, about 0.75 to 0.78 in simulations); a smaller true "
            "difference is likely missed. seen: Holm-adjusted p below 0.05.\n")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["power"]:
        parser = argparse.ArgumentParser(prog="zerovlm-report power",
                                         description="each comparison's smallest detectable paired difference")
        parser.add_argument("sweep_dir", type=Path)
        parser.add_argument("--baseline", default=None, help=f"as for the report (default {DEFAULT_BASELINE})")
        args = parser.parse_args(argv[1:])
        try:
            print(power_table(args.sweep_dir, args.baseline or sweep_baseline(args.sweep_dir),
                              args.baseline is not None), end="")
        except ValueError as error:
            parser.exit(2, f"zerovlm-report power: {error}\n")
        return
    if argv[:1] == ["compare"]:
        parser = argparse.ArgumentParser(prog="zerovlm-report compare",
                                         description="B against A on the samples both scored: paired difference "
                                                     "with its bootstrap interval, exact McNemar p")
        parser.add_argument("job_a", type=Path, help="a job directory (predictions.jsonl)")
        parser.add_argument("job_b", type=Path, help="another job directory, scored on the same samples")
        args = parser.parse_args(argv[1:])
        try:
            print(describe(compare(args.job_a, args.job_b)), end="")
        except ValueError as error:
            parser.exit(2, f"zerovlm-report compare: {error}\n")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="zerovlm-report compare JOB_A JOB_B: a paired comparison of two jobs; "
                                            "zerovlm-report power SWEEP_DIR: what each comparison could detect")
    parser.add_argument("sweep_dir", help="a Hydra sweep (or run) directory")
    parser.add_argument("--baseline", default=None,
                        help="the options of each job's baseline job (default: the sweep's own, as its report "
                             f"used it, else {DEFAULT_BASELINE}); an option no job of the sweep has is an error")
    args = parser.parse_args(argv)
    try:
        print(report_folder(args.sweep_dir, args.baseline, strict=args.baseline is not None),
              end="")
    except ValueError as error:
        parser.exit(2, f"zerovlm-report: {error}\n")


if __name__ == "__main__":
    main()
