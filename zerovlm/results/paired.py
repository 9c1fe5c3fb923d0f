"""Paired comparisons between jobs that scored the same samples: `zerovlm-report` compares every job of a sweep
with its baseline job, and `zerovlm-report compare JOB_A JOB_B` any two jobs.

A job's baseline is the job of the same sweep whose setting (SETTING_KEYS of its resolved config.yaml) equals its
own except in the groups the baseline names, where it has the named options (default: views=origin, the original
image with otherwise the same setting; an experiment preset may name another, e.g. views=origin,prior=none). A job
without one says why (`why_not_compared`), and a baseline naming an option no job of the sweep has is an error.
The difference in accuracy (job - baseline) comes with a paired bootstrap interval over images and an exact
McNemar p-value, Holm-adjusted over all comparisons of the sweep (zerovlm/results/statistics.py). Jobs that scored
different samples are refused, never compared silently.
"""

from __future__ import annotations

import json
from pathlib import Path

from zerovlm.results.metrics import image_of
from zerovlm.results.statistics import align, holm, paired_difference

# What makes two jobs the same setting (also what a resumed job must match: zerovlm/run.py)
SETTING_KEYS = ("stage", "dataset", "views", "generator", "layout", "prompt", "backbone", "prior", "seed")
DEFAULT_BASELINE = "views=origin"


def parse_baseline(text: str) -> dict[str, str]:
    """"views=origin,prompt=plain" -> {"views": "origin", "prompt": "plain"}."""
    items = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if not items or any(len(item) != 2 for item in items):
        raise ValueError(f"--baseline {text!r}: write it as group=option[,group=option], e.g. {DEFAULT_BASELINE}")
    unknown = [k for k, _ in items if k.strip() not in SETTING_KEYS]
    if unknown:
        raise ValueError(f"--baseline names {unknown}: choose among {', '.join(SETTING_KEYS)}")
    return {k.strip(): v.strip() for k, v in items}


def setting(config: dict) -> dict:
    """The SETTING_KEYS of a job's resolved config (its config.yaml)."""
    return {k: config.get(k) for k in SETTING_KEYS}


def option_name(value) -> str:
    """A group's option as the command line names it (a group left empty, prior=none, is null in the config)."""
    if value is None:
        return "none"
    return str(value.get("name")) if isinstance(value, dict) else str(value)


def check_baseline(spec: dict[str, str], settings: list[dict]) -> None:
    """Fail, naming the sweep's options, where the baseline names an option that no job of the sweep has (a typo:
    prompt=plian)."""
    for key, value in spec.items():
        present = sorted({option_name(s.get(key)) for s in settings})
        if value not in present:
            raise ValueError(f"--baseline {key}={value}: no job of this sweep has {key}={value}; its jobs have "
                             f"{key}={', '.join(present)}")


def why_not_compared(job_setting: dict, candidates: dict[Path, dict], spec: dict[str, str]) -> str:
    """Why a job has no baseline job: no job has the baseline's options, or none has them with this job's other
    settings (naming the first setting that differs)."""
    wanted = ",".join(f"{k}={v}" for k, v in spec.items())
    matching = [s for s in candidates.values() if is_baseline(s, spec)]
    if not matching:
        return f"no job of the sweep has {wanted}"
    differ = sorted({k for s in matching for k in SETTING_KEYS if k not in spec and s[k] != job_setting[k]})
    own = ", ".join(f"{k}={option_name(job_setting[k])}" for k in differ)
    return f"no job with {wanted} has this job's {own}"


def is_baseline(job_setting: dict, spec: dict[str, str]) -> bool:
    return all(option_name(job_setting.get(k)) == v for k, v in spec.items())


def find_baseline(job_setting: dict, candidates: dict[Path, dict], spec: dict[str, str]) -> Path | None:
    """The candidate with the spec's options and otherwise the job's own setting."""
    for path, other in candidates.items():
        if is_baseline(other, spec) and all(other[k] == job_setting[k] for k in SETTING_KEYS if k not in spec):
            return path
    return None


def read_rows(job: Path) -> list[dict]:
    with open(Path(job) / "predictions.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def compare(job_a: Path, job_b: Path) -> dict:
    """job_b against job_a on the samples both scored: accuracies, b - a with its paired interval, McNemar.
    Raises ValueError when they scored different samples."""
    try:
        a, b = align(read_rows(job_a), read_rows(job_b))
    except ValueError as error:
        raise ValueError(f"{job_a} vs {job_b}: {error}") from None
    groups = [image_of(r) for r in a]
    result = paired_difference([r["correct"] for r in a], [r["correct"] for r in b], groups)
    return {"job_a": str(job_a), "job_b": str(job_b), **result}


def compare_sweep(configs: dict[Path, dict], spec: dict[str, str]) -> dict[Path, dict]:
    """For each job (its resolved config; jobs without one are left out): {"baseline": its baseline job (or None and
    "why"), "comparison": compare(...) with `p_holm`, or "refused": why}; the baseline job itself gets
    {"baseline": itself}. Holm over every comparison made."""
    settings = {job: setting(config) for job, config in configs.items() if config}
    out: dict[Path, dict] = {}
    for job, own in settings.items():
        if is_baseline(own, spec):
            out[job] = {"baseline": job}
            continue
        base = find_baseline(own, settings, spec)
        out[job] = {"baseline": base}
        if base is None:
            out[job]["why"] = why_not_compared(own, settings, spec)
        else:
            try:
                out[job]["comparison"] = compare(base, job)
            except ValueError as error:
                out[job]["refused"] = str(error)
    made = [r["comparison"] for r in out.values() if "comparison" in r]
    for comparison, adjusted in zip(made, holm([c["p"] for c in made]), strict=True):
        comparison["p_holm"] = adjusted
    return out


def describe(comparison: dict) -> str:
    """Several lines saying what `compare` found, for the console."""
    c = comparison
    return (f"A: {c['job_a']}\nB: {c['job_b']}\n"
            f"n = {c['n']} samples scored by both ({c['groups']} images)\n"
            f"accuracy A {c['a']:.3f}, B {c['b']:.3f}\n"
            f"B - A = {c['difference']:+.3f}, 95 % paired bootstrap interval [{c['low']:+.3f}, {c['high']:+.3f}] "
            f"({c['resamples']} resamples over images, seed 0)\n"
            f"discordant: A wrong B right {c['b01']}, A right B wrong {c['b10']}; exact McNemar p = {c['p']:.4g}\n")
