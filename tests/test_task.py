"""The ZeroVLM task setting: negatives of both kinds, seeded per sample, uncountable ones counted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SHARED_VSR, needs_vsr

from zerovlm.data.records import Record
from zerovlm.data.task import derive_negatives
from zerovlm.data.vsr import VSRDataset


def rec(i, subject, relation, obj, image):
    return Record(id=f"r{i}", split="test", image_path=Path(image), statement=f"The {subject} is {relation} the {obj}.",
                  label=True, relation=relation, subject=subject, object=obj, meta={"image": image})


RECORDS = [rec(0, "cat", "left of", "dog", "a.jpg"), rec(1, "cup", "touching", "table", "b.jpg"),
           rec(2, "man", "on", "horse", "c.jpg")]
OBJECTS = {"a.jpg": {"cat", "dog", "sofa"}, "b.jpg": {"cup", "table"}, "c.jpg": {"man", "horse"}}
RELATIONS = ["left of", "right of", "touching", "on", "under", "near"]


def test_each_true_statement_gets_one_negative_of_each_kind():
    out, skipped = derive_negatives(RECORDS, OBJECTS, RELATIONS, ["relation_swap", "object_swap"], seed=0)
    assert [r.id for r in out] == ["r0", "r0-relation_swap", "r0-object_swap", "r1", "r1-relation_swap",
                                   "r1-object_swap", "r2", "r2-relation_swap", "r2-object_swap"]
    assert not skipped
    by_id = {r.id: r for r in out}
    assert by_id["r0-relation_swap"].statement == "The cat is right of the dog."  # the opposite, when there is one
    assert by_id["r0-relation_swap"].meta["swap"] == {"from": "left of", "to": "right of", "opposite": True}
    assert by_id["r2-relation_swap"].statement == "The man is under the horse."
    touching = by_id["r1-relation_swap"]  # no opposite: another relation of the vocabulary, marked as such
    assert touching.relation in RELATIONS and touching.relation != "touching"
    assert touching.meta["swap"]["opposite"] is False
    for r in out:
        assert r.label == (r.negative_type == "none")
        if r.negative_type == "object_swap":
            new = r.meta["swap"]["to"]
            assert new not in OBJECTS[r.meta["image"]]  # never an object named about that image
            assert new in {o for objs in OBJECTS.values() for o in objs}


def test_negatives_are_seeded_per_sample():
    a, _ = derive_negatives(RECORDS, OBJECTS, RELATIONS, ["relation_swap", "object_swap"], seed=0)
    b, _ = derive_negatives(RECORDS[1:], OBJECTS, RELATIONS, ["relation_swap", "object_swap"], seed=0)
    assert [r.statement for r in a[3:]] == [r.statement for r in b]  # independent of the other samples
    c, _ = derive_negatives(RECORDS * 1, OBJECTS, RELATIONS, ["object_swap"], seed=0)
    assert [r.negative_type for r in c] == ["none", "object_swap"] * 3


def test_what_cannot_be_made_is_counted_not_hidden():
    odd = rec(3, "cat", "on", "dog", "a.jpg")
    odd.statement = "A cat sits on a dog."  # the object words are not where the text would need them
    no_candidates = {"a.jpg": {"cat", "dog"}}
    out, skipped = derive_negatives([odd], no_candidates, RELATIONS, ["relation_swap", "object_swap"], seed=0)
    assert [r.negative_type for r in out] == ["none", "relation_swap"]
    assert skipped == {"object_swap_no_candidate": 1}
    with pytest.raises(ValueError, match="dataset.negatives"):
        derive_negatives([odd], OBJECTS, RELATIONS, ["colour_swap"], seed=0)


@needs_vsr
def test_vsr_zerovlm_task_on_the_real_test_split():
    ds = VSRDataset(annotations_dir=str(SHARED_VSR / "random"), splits=["test"], task="zerovlm")
    trues = sum(r.label for r in VSRDataset(annotations_dir=str(SHARED_VSR / "random"), splits=["test"]).records)
    assert len(ds) == 3 * trues and not ds.skipped
    first = ds.records[:3]
    assert [r.statement for r in first] == ["The person is inside the refrigerator.",
                                            "The person is outside the refrigerator.", first[2].statement]
    assert first[2].statement.startswith("The person is inside the ") and first[2].object != "refrigerator"
    verbs = [r for r in ds.records if r.negative_type == "relation_swap" and r.meta["swap"]["from"] == "consists of"]
    assert verbs and all(" is " in r.statement or r.relation in {"contains", "has as a part"} for r in verbs)


def _objects(variant: str, split: str) -> set[str]:
    from zerovlm.data.jsonl import read_jsonl
    from zerovlm.data.vsr import parse_caption

    parsed = [parse_caption(r["caption"], r["relation"])
              for _, r in read_jsonl(SHARED_VSR / variant / f"{split}.jsonl")]
    return {p[0] for p in parsed} | {p[2] for p in parsed}


@needs_vsr
def test_vsr_zeroshot_object_swaps_stay_within_the_test_concepts():
    train, test = _objects("zeroshot", "train"), _objects("zeroshot", "test")
    assert not train & test  # what the zero-shot split is for
    ds = VSRDataset(annotations_dir=str(SHARED_VSR / "zeroshot"), splits=["test"], task="zerovlm")
    swapped = [r.meta["swap"]["to"] for r in ds.records if r.negative_type == "object_swap"]
    assert len(swapped) == sum(r.label for r in ds.records) and set(swapped) <= test


def test_object_swaps_draw_from_the_records_split_when_asked():
    records = [replace(r, split=split) for r, split in zip(RECORDS, ["dev", "test", "test"], strict=False)]
    split_objects = {"dev": {"cat", "table", "lamp"}, "test": {"dog", "sofa", "cup", "plate", "mug"}}
    out, _ = derive_negatives(records, OBJECTS, RELATIONS, ["object_swap"], seed=0, split_objects=split_objects)
    for r in out:
        if r.negative_type == "object_swap":
            assert r.meta["swap"]["to"] in split_objects[r.split]
