"""Scoring and merging: every sample counted once, unparsed answers counted as wrong and reported."""

from __future__ import annotations

import json

import pytest

from zerovlm.results.metrics import compute_metrics
from zerovlm.writer import merge_shards


def row(i, split, label, prediction, relation="left of", negative_type="none"):
    return {"id": f"s{i}", "split": split, "label": label, "prediction": prediction,
            "correct": prediction is not None and prediction == label, "relation": relation,
            "negative_type": negative_type}


def test_accuracy_overall_and_per_group():
    rows = [row(0, "dev", True, True), row(1, "dev", False, True, "behind", "relation_swap"),
            row(2, "test", False, None, "behind", "object_swap"), row(3, "test", True, True)]
    m = compute_metrics(rows)
    assert (m["n"], m["correct"], m["accuracy"], m["unparsed"]) == (4, 2, 0.5, 1)
    assert {k: {f: v for f, v in m.items() if f != "interval"} for k, m in m["splits"].items()} == {
        "dev": {"n": 2, "correct": 1, "accuracy": 0.5, "unparsed": 0, "majority": 0.5},
        "test": {"n": 2, "correct": 1, "accuracy": 0.5, "unparsed": 1, "majority": 0.5}}
    assert m["relations"]["behind"] == {"n": 2, "correct": 0, "accuracy": 0.0, "unparsed": 1, "majority": 1.0}
    assert m["negative_types"]["none"]["accuracy"] == 1.0
    assert m["negative_types"]["object_swap"]["unparsed"] == 1
    assert m["labels"]["true"]["accuracy"] == 1.0 and m["labels"]["false"]["accuracy"] == 0.0


def test_intervals_resample_images_or_are_wilson_with_one_statement_per_image():
    from zerovlm.results.statistics import wilson

    one_each = [row(i, "test", i % 2 == 0, i % 3 == 0) for i in range(40)]  # no image key: each row its own
    m = compute_metrics(one_each)
    assert m["interval"]["method"] == "wilson" and m["interval"]["groups"] == 40
    assert (m["interval"]["low"], m["interval"]["high"]) == pytest.approx(wilson(m["correct"], 40))
    # four statements per image, all right or all wrong together: the bootstrap over images is about twice as wide
    clustered = [dict(row(4 * i + k, "test", True, i % 2 == 0), image=f"img{i}") for i in range(40) for k in range(4)]
    m = compute_metrics(clustered)
    assert m["interval"]["method"] == "bootstrap over images" and m["interval"]["resamples"] == 2000
    assert m["interval"]["groups"] == 40 and m["splits"]["test"]["interval"] == m["interval"]
    naive = wilson(m["correct"], m["n"])
    assert (m["interval"]["high"] - m["interval"]["low"]) > 1.6 * (naive[1] - naive[0])
    assert compute_metrics(clustered)["interval"] == m["interval"]  # fixed seed


def test_every_accuracy_has_its_majority_baseline():
    # What'sUp verification: one true statement in four, so always answering "no" scores 0.75
    rows = [row(4 * i + k, "test", k == 0, True) for i in range(3) for k in range(4)]
    m = compute_metrics(rows)
    assert m["accuracy"] == 0.25 and m["majority"] == 0.75 and m["splits"]["test"]["majority"] == 0.75
    assert m["labels"]["true"]["majority"] == 1.0


def test_no_rows_is_an_error_not_zero():
    with pytest.raises(ValueError, match="0/0"):
        compute_metrics([])


def _write_shard(shards, rank, rows, generated, cached, corrupt=0):
    shards.mkdir(parents=True, exist_ok=True)
    (shards / f"predictions.rank{rank}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (shards / f"stats.rank{rank}.json").write_text(json.dumps(
        {"views_generated": generated, "views_cached": cached, "views_corrupt": corrupt,
         "seconds": {"backbone": 1.5}}))


def test_merge_keeps_one_row_per_sample_and_sums_stats(tmp_path):
    _write_shard(tmp_path / "shards", 0, [row(0, "dev", True, True), row(2, "dev", True, False)], 2, 1)
    _write_shard(tmp_path / "shards", 1, [row(1, "dev", True, True), row(2, "dev", True, False)], 3, 0, corrupt=2)
    rows, stats = merge_shards(tmp_path, expected=3)
    assert [r["id"] for r in rows] == ["s0", "s1", "s2"]
    assert stats == {"views_generated": 5, "views_cached": 1, "views_corrupt": 2, "seconds": {"backbone": 3.0},
                     "duplicates_removed": 1, "generator_counts": {}, "prior_counts": {}}


def test_merge_fails_when_samples_are_missing(tmp_path):
    _write_shard(tmp_path / "shards", 0, [row(0, "dev", True, True)], 0, 0)
    with pytest.raises(RuntimeError, match="1 samples were scored but the dataset has 2"):
        merge_shards(tmp_path, expected=2)


def choice_row(pair, relation, correct, split="test"):
    return {"id": f"{pair}-{relation}", "split": split, "label": 0, "prediction": 0 if correct else None,
            "correct": correct, "relation": relation, "negative_type": "none", "options": ["a", "b", "c", "d"],
            "pair": pair, "category": None}


def test_caption_choice_reports_whatsups_pair_and_set_accuracy():
    rows = [choice_row("mug|plate", "on", True), choice_row("mug|plate", "under", True),
            choice_row("mug|plate", "left of", True), choice_row("mug|plate", "right of", False),
            choice_row("cup|box", "on", True), choice_row("cup|box", "under", True),
            choice_row("cup|box", "left of", True), choice_row("cup|box", "right of", True)]
    m = compute_metrics(rows)
    assert m["task"] == "caption_choice" and m["accuracy"] == 7 / 8 and m["ties"] == 1
    assert (m["pair_accuracy"], m["pairs"]) == (3 / 4, 4)  # on/under x2 and left/right of cup|box
    assert (m["set_accuracy"], m["sets"]) == (1 / 2, 2)
    assert m["relations"]["right of"]["accuracy"] == 0.5
    assert m["chance"] == 0.25 and "majority" not in m  # the right caption is always option 0: chance, not majority
    assert "labels" not in m


def test_meta_categories_are_reported_when_the_dataset_has_them():
    rows = [dict(row(0, "test", True, True), category="Projective"),
            dict(row(1, "test", True, False), category="Topological")]
    m = compute_metrics(rows)
    assert m["categories"] == {"Projective": {"n": 1, "correct": 1, "accuracy": 1.0, "unparsed": 0, "majority": 1.0},
                               "Topological": {"n": 1, "correct": 0, "accuracy": 0.0, "unparsed": 0, "majority": 1.0}}


def _p(i, split, label, p_yes):
    return dict(row(i, split, label, p_yes > 0.5), p_yes=p_yes)


def test_calibrated_threshold_is_chosen_on_dev_and_applied_to_test():
    # a model that says yes too easily: on dev, the true ones sit above 0.8, the false ones at 0.6-0.7
    dev = [_p(0, "dev", True, 0.9), _p(1, "dev", True, 0.85), _p(2, "dev", False, 0.7), _p(3, "dev", False, 0.6)]
    test = [_p(4, "test", True, 0.95), _p(5, "test", False, 0.65), _p(6, "test", False, 0.75),
            _p(7, "test", True, 0.4)]
    m = compute_metrics(dev + test)
    assert m["splits"]["test"]["accuracy"] == 0.25  # at 0.5
    assert m["calibrated"] == {"threshold": pytest.approx(0.775), "dev_accuracy": 1.0, "test_accuracy": 0.75,
                               "test_n": 4}


def test_no_calibration_without_dev_or_without_p_yes():
    assert "calibrated" not in compute_metrics([_p(0, "test", True, 0.9), _p(1, "test", False, 0.2)])
    assert "calibrated" not in compute_metrics([row(0, "dev", True, True), row(1, "test", True, None)])


def test_a_line_cut_short_by_a_crash_is_dropped_and_any_other_bad_line_fails(tmp_path):
    from zerovlm.writer import completed, read_shards

    shards = tmp_path / "shards"
    shards.mkdir()
    good = json.dumps(row(0, "dev", True, True))
    (shards / "predictions.rank0.jsonl").write_text(good + "\n" + good.replace("s0", "s1") + "\n" + good[:25])
    rows, partial = read_shards(shards)
    assert [r["id"] for r in rows] == ["s0", "s1"] and partial == 1
    assert completed(tmp_path) == ({"s0", "s1"}, 1)
    (shards / "predictions.rank0.jsonl").write_text(good + "\n" + good[:25] + "\n" + good + "\n")
    with pytest.raises(ValueError, match=r"predictions.rank0.jsonl:2: not a prediction row"):
        read_shards(shards)
