"""What'sUp: the release's layout, the three tasks, splits by object pair, clear errors."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import WHATSUP_PAIRS

from zerovlm.data.whatsup import WhatsUpDataset, parse_file_name, resolve_image, split_pairs

BOTH = ["dev", "test"]


def test_file_names_give_objects_and_relation():
    assert parse_file_name("data/controlled_images/beer-bottle_on_armchair.jpeg") == ("beer bottle", "on", "armchair")
    assert parse_file_name("x/mug_left_of_plate.jpeg") == ("mug", "left of", "plate")
    assert parse_file_name("cube_in-front_of_sphere.png") == ("cube", "in front of", "sphere")
    assert parse_file_name("cube_near_sphere.png") is None


def test_image_paths_resolve_relative_to_data_dir(whatsup_dir, tmp_path):
    path = resolve_image(whatsup_dir, "controlled_images", "data/controlled_images/mug_on_plate.jpeg")
    assert path == whatsup_dir / "controlled_images" / "mug_on_plate.jpeg" and path.is_file()
    nested = tmp_path / "data" / "controlled_images"
    nested.mkdir(parents=True)
    (nested / "mug_on_plate.jpeg").write_bytes((path).read_bytes())
    assert resolve_image(tmp_path, "controlled_images", "data/controlled_images/mug_on_plate.jpeg") == \
        nested / "mug_on_plate.jpeg"


def test_verify_task_makes_one_true_and_three_relation_swapped_statements(whatsup_dir):
    ds = WhatsUpDataset(name="whatsup_a", subset="A", data_dir=str(whatsup_dir), splits=BOTH, task="verify")
    assert len(ds) == len(WHATSUP_PAIRS["A"]) * 4 * 4
    assert Counter(r.negative_type for r in ds.records) == {"none": 24, "relation_swap": 72}
    first = ds[0]
    assert first.statement == "A mug on a plate" and first.label is True and first.relation == "on"
    assert (first.subject, first.object) == ("mug", "plate")
    false = [ds[i] for i in range(1, 4)]
    assert [s.statement for s in false] == ["A mug under a plate", "A mug to the left of a plate",
                                            "A mug to the right of a plate"]
    assert [s.relation for s in false] == ["under", "left of", "right of"] and not any(s.label for s in false)


def test_original_task_is_the_four_way_caption_choice(whatsup_dir):
    ds = WhatsUpDataset(name="whatsup_b", subset="B", data_dir=str(whatsup_dir), splits=BOTH, task="original")
    assert len(ds) == len(WHATSUP_PAIRS["B"]) * 4
    sample = ds[0]
    assert sample.options == ["A cube to the left of a sphere", "A cube to the right of a sphere",
                              "A cube in front of a sphere", "A cube behind a sphere"]
    assert sample.answer == 0 and sample.meta["pair"] == "cube|sphere"


def test_zerovlm_task_derives_both_kinds(whatsup_dir):
    ds = WhatsUpDataset(name="whatsup_a", subset="A", data_dir=str(whatsup_dir), splits=BOTH, task="zerovlm")
    assert Counter(r.negative_type for r in ds.records) == {"none": 24, "relation_swap": 24, "object_swap": 24}
    swapped = next(r for r in ds.records if r.negative_type == "relation_swap")
    assert swapped.statement == "A mug under a plate" and swapped.meta["swap"]["opposite"] is True
    objects = {o.replace("-", " ") for pair in WHATSUP_PAIRS["A"] for o in pair}
    for r in ds.records:
        if r.negative_type == "object_swap":
            new = r.meta["swap"]["to"]
            assert new in objects and new not in r.meta["pair"].split("|") and new in r.statement


def test_splits_keep_an_object_pair_together_and_are_seeded(whatsup_dir):
    dev = WhatsUpDataset(name="whatsup_a", subset="A", data_dir=str(whatsup_dir), splits=["dev"], task="original")
    test = WhatsUpDataset(name="whatsup_a", subset="A", data_dir=str(whatsup_dir), splits=["test"], task="original")
    dev_pairs, test_pairs = {r.meta["pair"] for r in dev.records}, {r.meta["pair"] for r in test.records}
    assert not dev_pairs & test_pairs and len(dev_pairs) == len(test_pairs) == 3
    assert all(Counter(r.meta["pair"] for r in dev.records)[p] == 4 for p in dev_pairs)
    pairs = [(f"a{i}", f"b{i}") for i in range(20)]
    halves = {"dev": 0.5, "test": 0.5}
    assert split_pairs(pairs, halves, 0) == split_pairs(list(reversed(pairs)), halves, 0)  # order-free
    assert Counter(split_pairs(pairs, halves, 0).values()) == {"dev": 10, "test": 10}
    assert split_pairs(pairs, halves, 0) != split_pairs(pairs, halves, 1)


def test_missing_release_files_say_where_to_get_them(tmp_path, whatsup_dir):
    with pytest.raises(FileNotFoundError, match=r"controlled_clevr_dataset.json not found.*whatsup_vlms"):
        WhatsUpDataset(subset="B", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"paths.whatsup_dir \(dataset.data_dir\) is not set"):
        WhatsUpDataset(subset="A", data_dir=None)
    annotations = (whatsup_dir / "controlled_images_dataset.json").read_text()
    (tmp_path / "controlled_images_dataset.json").write_text(annotations)
    with pytest.raises(FileNotFoundError, match=r"sample whatsup_a-mug_on_plate: image .*/mug_on_plate.jpeg does"):
        WhatsUpDataset(subset="A", data_dir=str(tmp_path), splits=BOTH).check_images()
    with pytest.raises(ValueError, match="selected no samples"):
        WhatsUpDataset(subset="A", data_dir=str(tmp_path), splits=BOTH, on_missing="skip")


def test_malformed_records_fail_with_their_index(tmp_path):
    (tmp_path / "controlled_images_dataset.json").write_text(json.dumps([{"image_path": "x_on_y.jpeg",
                                                                           "caption_options": ["a", "b"]}]))
    with pytest.raises(ValueError, match=r"record 0: expected"):
        WhatsUpDataset(subset="A", data_dir=str(tmp_path))
    (tmp_path / "controlled_images_dataset.json").write_text("[{")
    with pytest.raises(ValueError, match=r"controlled_images_dataset.json:1: not valid JSON"):
        WhatsUpDataset(subset="A", data_dir=str(tmp_path))
