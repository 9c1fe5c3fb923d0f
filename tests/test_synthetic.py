"""The synthetic dataset: sizes, splits, labels and the two kinds of false statement."""

from __future__ import annotations

from collections import Counter

import pytest

from zerovlm.data.synthetic import RELATIONS, SyntheticDataset, make_scene, statement, true_relations

ALL = ["train", "dev", "test"]


def test_sizes_splits_and_balance():
    ds = SyntheticDataset(num_scenes=40, splits=ALL)
    assert len(ds) == 80
    scenes = Counter(r["split"] for r in ds.records if r["label"])
    assert scenes == {"train": 20, "dev": 10, "test": 10}
    assert Counter(r["label"] for r in ds.records) == {True: 40, False: 40}
    assert Counter(r["negative_type"] for r in ds.records) == {"none": 40, "relation_swap": 20, "object_swap": 20}
    ids = [r["id"] for r in ds.records]
    assert len(set(ids)) == len(ids)


def test_split_selection_and_limit():
    full = SyntheticDataset(num_scenes=40, splits=ALL)
    dev = SyntheticDataset(num_scenes=40, splits=["dev"])
    assert {r["split"] for r in dev.records} == {"dev"}
    assert [r["id"] for r in dev.records] == [r["id"] for r in full.records if r["split"] == "dev"]
    limited = SyntheticDataset(num_scenes=40, splits=["dev", "test"], limit=7)  # the first 7 of each split
    both = [r for r in full.records if r["split"] in ("dev", "test")]
    ids = [r["id"] for r in limited.records]
    first = {split: [r["id"] for r in both if r["split"] == split][:7] for split in ("dev", "test")}
    assert sorted(ids) == sorted(first["dev"] + first["test"])
    assert ids == [r["id"] for r in both if r["id"] in set(ids)]  # in the dataset's order
    assert Counter(r["split"] for r in limited.records) == {"dev": 7, "test": 7}


def test_scene_is_independent_of_the_others():
    a = SyntheticDataset(num_scenes=10, splits=ALL, seed=3)
    b = SyntheticDataset(num_scenes=30, splits=ALL, seed=3)
    assert make_scene(3, 4) == make_scene(3, 4)
    assert [r["id"] for r in a.records][:2] == [r["id"] for r in b.records][:2]
    assert a[0].image.tobytes() == b[0].image.tobytes()
    assert make_scene(3, 4) != make_scene(4, 4)


def test_statements_are_true_and_false_as_labelled():
    ds = SyntheticDataset(num_scenes=40, splits=ALL)
    for sample in (ds[i] for i in range(len(ds))):
        objects, camera = make_scene(0, sample.meta["scene_index"])
        names = [o.name for o in objects]
        holds = {(names[a], rel, names[b]) for a, rel, b in true_relations(objects, camera)}
        fact = (sample.subject, sample.relation, sample.object)
        assert sample.statement == statement(*fact)
        assert (fact in holds) == sample.label
        if sample.negative_type == "relation_swap":
            twin = ds[ds.records.index(next(r for r in ds.records if r["id"] == sample.id.replace("false", "true")))]
            assert sample.relation == RELATIONS[twin.relation][1]
            assert (sample.subject, sample.object) == (twin.subject, twin.object)
        if sample.negative_type == "object_swap":
            colours = {o.color for o in objects}
            swapped = sample.subject if sample.subject not in names else sample.object
            assert swapped not in names and swapped.split()[0] not in colours


def test_empty_selection_and_unknown_split_fail():
    with pytest.raises(ValueError, match="selected no samples"):
        SyntheticDataset(num_scenes=1, splits=["train"])
    with pytest.raises(ValueError, match="validation"):
        SyntheticDataset(num_scenes=4, splits=["validation"])


@pytest.mark.parametrize("limit", [-1, 0, 2.5, True])
def test_a_limit_is_a_positive_number_or_null(limit):
    from zerovlm.data.records import RecordDataset

    with pytest.raises(ValueError, match=rf"dataset.limit={limit!r}: a limit is a positive number"):
        SyntheticDataset(num_scenes=4, limit=limit)
    with pytest.raises(ValueError, match="a limit is a positive number"):
        RecordDataset("vsr_random", [], limit=limit)
