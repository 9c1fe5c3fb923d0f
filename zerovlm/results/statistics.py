"""Intervals and tests for accuracies, as a reviewer accepts them.

Statements about one image are not independent: a model that misreads an image tends to get every statement about it
wrong (VSR and What'sUp hold several statements per image). Resampling statements would treat them as independent
and give intervals that are too narrow, so intervals resample images (groups): a cluster bootstrap.

- `accuracy_interval`: an interval for one accuracy. With one statement per image (or no groups given) the Wilson
  score interval, which keeps to [0, 1] and holds its level at small n and near 0 or 1; otherwise a percentile
  bootstrap that draws the images with replacement (`resamples` draws from numpy's `default_rng(seed)`, so the same
  inputs always give the same interval) and recomputes the accuracy over every statement of the drawn images.
  `always_bootstrap=True` bootstraps even with one statement per image (the tests compare it with Wilson there).
  `wilson(successes, n, level)` is the interval on its own.
- `paired_difference`: two settings scored on the same samples. The difference in accuracy (b - a) with a paired
  bootstrap interval (the same drawn images for both settings, so what the images share cancels), the discordant
  counts b01 (a wrong, b right) and b10 (a right, b wrong), and the exact McNemar two-sided p-value: under no
  difference each discordant pair goes either way with probability 1/2, so p = min(1, 2 P(X <= min(b01, b10)))
  with X ~ Bin(b01 + b10, 1/2) (1 with no discordant pairs), computed in exact integers (`mcnemar_exact`).
- `holm`: Holm-Bonferroni adjusted p-values for several comparisons in one sweep (step-down: the i-th smallest of m
  is multiplied by m - i + 1, then made monotone and capped at 1), in the input order; compare them with alpha.
- `min_detectable_difference`: for a paired comparison, the smallest difference it could show (alpha 0.05,
  power 0.8) given its n and its share of discordant pairs (Connor's approximation for McNemar's test).
- `seed_interval`: one setting run with several seeds (other random views, other diffusion noise): the mean over
  seeds with an interval resampling seeds and images together, and the spread between seeds.
- `align`: the two jobs' rows in one order (A's) so that the lists above pair the same samples. Jobs that scored
  different sets of samples are refused (ValueError naming what differs): no paired test on different samples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for `successes` out of `n` independent trials."""
    if n <= 0:
        raise ValueError("a Wilson interval needs at least one trial")
    z = _z(level)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _per_group(groups: Sequence[str] | None, n: int) -> tuple[np.ndarray, int]:
    """Each statement's group index and the number of groups (each statement its own group when None)."""
    if groups is None:
        return np.arange(n), n
    if len(groups) != n:
        raise ValueError(f"{len(groups)} groups for {n} statements")
    names, index = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    return index.reshape(-1), len(names)


def _draws(n_groups: int, resamples: int, seed: int) -> np.ndarray:
    """resamples x n_groups indices of groups drawn with replacement."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    return np.random.default_rng(seed).integers(0, n_groups, size=(resamples, n_groups))


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    alpha = 1 - level
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def accuracy_interval(correct: Sequence[bool], groups: Sequence[str] | None = None, level: float = 0.95,
                      resamples: int = 2000, seed: int = 0, always_bootstrap: bool = False) -> dict:
    """Accuracy of `correct` with its interval: Wilson with one statement per group (image) or no groups, else (or
    with `always_bootstrap`) a percentile bootstrap over groups. {"accuracy", "n", "low", "high", "method", "level",
    "groups"} and, for the bootstrap, "resamples"."""
    correct = np.asarray(correct, dtype=bool).reshape(-1)
    n = correct.size
    if n == 0:
        raise ValueError("no statements to take an accuracy over")
    _z(level)
    index, n_groups = _per_group(groups, n)
    out = {"accuracy": float(correct.mean()), "n": n}
    if n_groups == n and not always_bootstrap:
        low, high = wilson(int(correct.sum()), n, level)
        return {**out, "low": low, "high": high, "method": "wilson", "level": level, "groups": n_groups}
    sizes = np.bincount(index, minlength=n_groups)
    hits = np.bincount(index, weights=correct, minlength=n_groups)
    draws = _draws(n_groups, resamples, seed)
    accuracies = hits[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    low, high = _percentiles(accuracies, level)
    return {**out, "low": low, "high": high, "method": "bootstrap over images", "level": level,
            "resamples": resamples, "groups": n_groups}


def mcnemar_exact(b01: int, b10: int) -> float:
    """Exact two-sided McNemar p-value: min(1, 2 P(X <= min(b01, b10))) with X ~ Bin(b01 + b10, 1/2)."""
    n = b01 + b10
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b01, b10) + 1))
    return min(1.0, 2 * tail / 2**n)  # exact integers, one correctly rounded division


def paired_difference(a: Sequence[bool], b: Sequence[bool], groups: Sequence[str] | None = None,
                      level: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict:
    """Accuracy of b minus accuracy of a, scored on the same samples in the same order, with a paired bootstrap
    interval over groups (images), the discordant counts and the exact McNemar p-value."""
    a = np.asarray(a, dtype=bool).reshape(-1)
    b = np.asarray(b, dtype=bool).reshape(-1)
    if a.size != b.size:
        raise ValueError(f"the two settings scored {a.size} and {b.size} samples; pair them with align() first")
    n = a.size
    if n == 0:
        raise ValueError("no samples to compare")
    _z(level)
    index, n_groups = _per_group(groups, n)
    sizes = np.bincount(index, minlength=n_groups)
    gains = np.bincount(index, weights=b.astype(int) - a.astype(int), minlength=n_groups)  # integers, exact
    draws = _draws(n_groups, resamples, seed)
    differences = gains[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    low, high = _percentiles(differences, level)
    b01 = int((~a & b).sum())
    b10 = int((a & ~b).sum())
    return {"difference": (int(b.sum()) - int(a.sum())) / n, "a": float(a.mean()), "b": float(b.mean()), "n": n,
            "low": low, "high": high, "method": "paired bootstrap over images", "level": level,
            "resamples": resamples, "groups": n_groups, "b01": b01, "b10": b10, "p": mcnemar_exact(b01, b10)}


def min_detectable_difference(n: int, discordant: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest paired difference in accuracy a McNemar test on `n` paired samples detects with `power` at
    two-sided `alpha`, given the share of discordant pairs psi = discordant / n: the delta that solves Connor's
    (1987) sample size n = (z_{1-alpha/2} sqrt(psi) + z_power sqrt(psi - delta^2))^2 / delta^2. None where there is
    no discordant pair (no paired difference can show) or where even delta = psi would not (n too small)."""
    if n < 1 or discordant < 1:
        return None
    psi = discordant / n
    z_alpha, z_power = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(power)

    def needed(delta: float) -> float:
        return (z_alpha * math.sqrt(psi) + z_power * math.sqrt(max(psi - delta * delta, 0.0))) ** 2 / delta ** 2

    if needed(psi) > n:  # a difference cannot exceed the discordant share
        return None
    low, high = 1e-9, psi  # needed() falls as delta grows
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if needed(mid) > n else (low, mid)
    return high


def seed_interval(correct: np.ndarray, groups: Sequence[str] | None = None, level: float = 0.95,
                  resamples: int = 2000, seed: int = 0) -> dict:
    """The mean accuracy over seeds of one setting (`correct`: seeds x samples, the same samples in the same
    order), with a bootstrap interval that resamples seeds and images together (each draw: seeds with
    replacement, images with replacement, the mean over the drawn seeds of the accuracy on the drawn images), and
    the spread between seeds (their accuracies' standard deviation, ddof 1)."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2 or correct.shape[0] < 2:
        raise ValueError(f"seed_interval needs at least two seeds' results, seeds x samples; got {correct.shape}")
    n_seeds, n = correct.shape
    index, n_groups = _per_group(groups, n)
    sizes = np.bincount(index, minlength=n_groups)
    hits = np.stack([np.bincount(index, weights=c, minlength=n_groups) for c in correct])  # seeds x groups
    rng = np.random.default_rng(seed)
    seed_draws = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    image_draws = rng.integers(0, n_groups, size=(resamples, n_groups))
    drawn_hits = hits[:, image_draws].sum(axis=2)  # seeds x resamples
    drawn_sizes = sizes[image_draws].sum(axis=1)  # resamples
    per_seed = drawn_hits / drawn_sizes  # seeds x resamples
    means = np.take_along_axis(per_seed.T, seed_draws, axis=1).mean(axis=1)
    low, high = _percentiles(means, level)
    accuracies = correct.mean(axis=1)
    return {"accuracy": float(accuracies.mean()), "n": n, "seeds": n_seeds, "low": low, "high": high,
            "seed_sd": float(accuracies.std(ddof=1)), "seed_min": float(accuracies.min()),
            "seed_max": float(accuracies.max()), "method": "bootstrap over seeds and images", "level": level,
            "resamples": resamples, "groups": n_groups}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p-values must lie in [0, 1], got {list(pvalues)}")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted.tolist()


def _examples(ids: set) -> str:
    shown = sorted(ids, key=str)[:3]
    return ", ".join(repr(i) for i in shown) + (", ..." if len(ids) > 3 else "")


def align(rows_a: list[dict], rows_b: list[dict], key: str = "id") -> tuple[list[dict], list[dict]]:
    """Both jobs' rows in A's order. Raises ValueError unless both scored exactly the same samples, once each."""
    for name, rows in (("A", rows_a), ("B", rows_b)):
        counts = Counter(r[key] for r in rows)
        repeated = {i for i, count in counts.items() if count > 1}
        if repeated:
            raise ValueError(f"job {name} holds {len(repeated)} {key!r} values more than once: {_examples(repeated)}")
    by_id = {r[key]: r for r in rows_b}
    only_a = {r[key] for r in rows_a} - by_id.keys()
    only_b = by_id.keys() - {r[key] for r in rows_a}
    if only_a or only_b:
        raise ValueError(f"the two jobs scored different samples ({len(only_a)} {key!r} values only in A"
                         + (f": {_examples(only_a)}" if only_a else "") + f"; {len(only_b)} only in B"
                         + (f": {_examples(only_b)}" if only_b else "") + "); a paired comparison needs the same ones")
    return list(rows_a), [by_id[r[key]] for r in rows_a]
