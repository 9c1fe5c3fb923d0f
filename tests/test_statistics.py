"""Intervals and tests against known values: textbook Wilson, scipy's binomial test, hand-worked Holm and McNemar."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from zerovlm.results.statistics import accuracy_interval, align, holm, mcnemar_exact, paired_difference, wilson


def outcomes(n, accuracy):
    """n outcomes with exactly round(n * accuracy) correct, shuffled."""
    correct = np.arange(n) < round(n * accuracy)
    return np.random.default_rng(7).permutation(correct).tolist()


def test_wilson_8_of_10_textbook_and_scipy():
    low, high = wilson(8, 10)
    assert (low, high) == (pytest.approx(0.4902, abs=5e-5), pytest.approx(0.9433, abs=5e-5))
    reference = binomtest(8, 10).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == (pytest.approx(reference.low, abs=1e-9), pytest.approx(reference.high, abs=1e-9))
    r = accuracy_interval([True] * 8 + [False] * 2)
    assert (r["method"], r["groups"], r["level"], r["accuracy"]) == ("wilson", 10, 0.95, 0.8)
    assert (r["low"], r["high"]) == (low, high)


@pytest.mark.parametrize("successes, n, level", [(0, 7, 0.95), (7, 7, 0.95), (0, 1, 0.99), (1, 1, 0.9), (3, 50, 0.9)])
def test_wilson_matches_scipy_and_stays_in_unit_interval(successes, n, level):
    low, high = wilson(successes, n, level)
    reference = binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    assert 0.0 <= low <= successes / n <= high <= 1.0
    assert (low, high) == (pytest.approx(reference.low, abs=1e-9), pytest.approx(reference.high, abs=1e-9))


def test_one_statement_per_image_is_wilson():
    correct = outcomes(50, 0.7)
    by_image = accuracy_interval(correct, [f"img{i}" for i in range(50)])
    assert by_image["method"] == "wilson" and "resamples" not in by_image
    assert (by_image["low"], by_image["high"]) == wilson(35, 50)


def test_bootstrap_is_reproducible_and_seeded():
    correct = outcomes(300, 0.6)
    groups = [f"img{i // 3}" for i in range(300)]
    first = accuracy_interval(correct, groups, seed=3)
    assert first == accuracy_interval(correct, groups, seed=3)
    assert (first["method"], first["groups"], first["resamples"]) == ("bootstrap over images", 100, 2000)
    other = accuracy_interval(correct, groups, seed=4)
    assert (first["low"], first["high"]) != (other["low"], other["high"])


def test_bootstrap_with_one_statement_per_image_is_close_to_wilson():
    correct = outcomes(2000, 0.7)
    r = accuracy_interval(correct, [f"img{i}" for i in range(2000)], always_bootstrap=True)
    low, high = wilson(1400, 2000)
    assert r["method"] == "bootstrap over images"
    assert r["low"] == pytest.approx(low, abs=0.01) and r["high"] == pytest.approx(high, abs=0.01)


def test_images_with_correlated_statements_widen_the_interval():
    # 100 images x 4 statements, all right or all wrong together: in effect 100 observations, not 400.
    per_image = outcomes(100, 0.7)
    correct = [c for c in per_image for _ in range(4)]
    groups = [f"img{i}" for i in range(100) for _ in range(4)]
    r = accuracy_interval(correct, groups)
    naive_low, naive_high = wilson(280, 400)
    ratio = (r["high"] - r["low"]) / (naive_high - naive_low)
    assert 1.7 < ratio < 2.3  # sqrt(4) = 2: the design effect of 4 perfectly correlated statements
    assert r["low"] < 0.7 < r["high"]


@pytest.mark.parametrize("b01, b10", [(1, 9), (9, 1), (0, 5), (5, 5), (4, 6), (30, 45), (0, 1), (200, 260)])
def test_mcnemar_exact_matches_scipy(b01, b10):
    assert mcnemar_exact(b01, b10) == pytest.approx(binomtest(min(b01, b10), b01 + b10, 0.5).pvalue, rel=1e-12)


def test_mcnemar_hand_value_and_no_discordant_pairs():
    assert mcnemar_exact(1, 9) == 2 * 11 / 1024 == 0.021484375
    assert mcnemar_exact(0, 0) == 1.0


def test_paired_difference_counts_discordant_pairs():
    # 20 samples: 5 both right, 5 both wrong, b01 = 1 (a wrong, b right), b10 = 9 (a right, b wrong).
    a = [True] * 5 + [False] * 5 + [False] * 1 + [True] * 9
    b = [True] * 5 + [False] * 5 + [True] * 1 + [False] * 9
    r = paired_difference(a, b)
    assert (r["b01"], r["b10"], r["p"]) == (1, 9, 0.021484375)
    assert (r["a"], r["b"], r["difference"], r["n"], r["groups"]) == (0.7, 0.3, -0.4, 20, 20)
    assert r["low"] <= -0.4 <= r["high"] < 0


def test_paired_difference_of_identical_settings_is_zero():
    correct = outcomes(400, 0.7)
    r = paired_difference(correct, correct, [f"img{i // 4}" for i in range(400)])
    assert (r["difference"], r["low"], r["high"], r["p"], r["b01"], r["b10"]) == (0.0, 0.0, 0.0, 1.0, 0, 0)
    assert (r["groups"], r["resamples"], r["method"]) == (100, 2000, "paired bootstrap over images")


def test_paired_bootstrap_draws_the_same_images_for_both_settings():
    # b fixes 10 of a's 300 errors and breaks nothing: every paired resample gains >= 0, and the interval is far
    # narrower than the two accuracies' own intervals, which it would not be with images drawn independently.
    a = outcomes(1000, 0.7)
    wrong = [i for i, c in enumerate(a) if not c][:10]
    b = [c or i in wrong for i, c in enumerate(a)]
    groups = [f"img{i}" for i in range(1000)]
    r = paired_difference(a, b, groups)
    assert (r["difference"], r["b01"], r["b10"]) == (0.01, 10, 0)
    assert 0.0 <= r["low"] < 0.01 < r["high"] <= 0.025
    single = accuracy_interval(a, groups)
    assert r["high"] - r["low"] < (single["high"] - single["low"]) / 2
    assert r["p"] == pytest.approx(2 / 1024)


def test_paired_difference_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="align"):
        paired_difference([True, False], [True])


def test_holm_hand_worked():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.01, 0.02, 0.03]) == pytest.approx([0.03, 0.04, 0.04])
    assert holm([0.5, 0.6, 0.2]) == pytest.approx([1.0, 1.0, 0.6])  # 0.5 * 2 is capped at 1, 0.6 * 1 raised to it
    assert holm([0.02]) == [0.02] and holm([]) == []


def test_holm_is_monotone_in_the_raw_order():
    raw = np.random.default_rng(1).uniform(0, 0.2, 30).tolist()
    adjusted = holm(raw)
    order = np.argsort(raw)
    assert np.all(np.diff(np.asarray(adjusted)[order]) >= 0)
    assert all(r <= p <= 1 for r, p in zip(raw, adjusted, strict=True))


def test_holm_refuses_values_outside_unit_interval():
    with pytest.raises(ValueError):
        holm([0.1, 1.5])


def rows(*ids):
    return [{"id": i, "correct": i.endswith("1")} for i in ids]


def test_align_reorders_b_to_a():
    a, b = align(rows("s2", "s0", "s1"), rows("s0", "s1", "s2"))
    assert [r["id"] for r in a] == [r["id"] for r in b] == ["s2", "s0", "s1"]


def test_align_refuses_different_samples_with_counts():
    with pytest.raises(ValueError, match=r"5 'id' values only in A: 's1', 's2', 's3', \.\.\.; 1 only in B: 'x'"):
        align(rows("s0", "s1", "s2", "s3", "s4", "s5"), rows("s0", "x"))
    with pytest.raises(ValueError, match=r"0 'id' values only in A; 1 only in B: 's9'"):
        align(rows("s0"), rows("s0", "s9"))


def test_align_refuses_repeated_ids():
    with pytest.raises(ValueError, match="job B holds 1 'id' values more than once: 's0'"):
        align(rows("s0", "s1"), rows("s0", "s1", "s0"))


def test_min_detectable_difference_solves_connors_sample_size_and_has_its_power():
    import numpy as np

    from zerovlm.results.statistics import min_detectable_difference

    # Connor (1987): n = (z_.975 sqrt(psi) + z_.8 sqrt(psi - d^2))^2 / d^2; at psi = 0.2, d = 0.1 that is 154.6
    assert min_detectable_difference(155, 31) == pytest.approx(0.1, abs=5e-4)
    assert min_detectable_difference(100, 0) is None  # nothing discordant: no paired difference can show
    assert min_detectable_difference(4000, 800) < min_detectable_difference(400, 80)  # more samples, smaller
    # at that difference, McNemar's test (chi-square, 1 df) rejects in about 80 % of simulated sweeps
    n, psi = 400, 0.2
    delta = min_detectable_difference(n, int(psi * n))
    rng = np.random.default_rng(0)
    counts = rng.multinomial(n, [(psi + delta) / 2, (psi - delta) / 2, 1 - psi], size=4000)
    b01, b10 = counts[:, 0], counts[:, 1]
    rejected = (b01 - b10) ** 2 / np.maximum(b01 + b10, 1) > 3.841458820694124
    assert rejected.mean() == pytest.approx(0.8, abs=0.03)


def test_seed_interval_resamples_seeds_and_images_and_reports_their_spread():
    import numpy as np

    from zerovlm.results.statistics import accuracy_interval, seed_interval

    groups = [str(i // 2) for i in range(200)]
    same = np.tile(np.arange(200) % 3 == 0, (3, 1))  # three seeds that agree on every sample
    found = seed_interval(same, groups)
    alone = accuracy_interval(same[0], groups)
    assert found["seed_sd"] == 0 and found["accuracy"] == alone["accuracy"] and found["seeds"] == 3
    assert found["low"] == pytest.approx(alone["low"], abs=0.02) and found["high"] == pytest.approx(alone["high"],
                                                                                                   abs=0.02)
    apart = np.stack([np.arange(200) < k for k in (100, 140, 180)])  # seeds at 0.5, 0.7 and 0.9
    spread = seed_interval(apart, groups)
    assert spread["accuracy"] == pytest.approx(0.7) and spread["seed_sd"] == pytest.approx(0.2)
    assert (spread["seed_min"], spread["seed_max"]) == (0.5, 0.9)
    assert spread["high"] - spread["low"] > 2 * (accuracy_interval(apart[1], groups)["high"] - 0.7)  # seeds widen it
    with pytest.raises(ValueError, match="two seeds"):
        seed_interval(same[:1], groups)
