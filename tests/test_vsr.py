"""VSR: the real annotation files (counts, types, relations), captions, images, downloads, bad input."""

from __future__ import annotations

import http.server
import json
import threading
from collections import Counter
from functools import partial

import pytest
from conftest import SHARED_VSR, needs_vsr, placeholder_image

from zerovlm.data.jsonl import read_jsonl
from zerovlm.data.relations import UNCATEGORIZED, vsr_meta_categories
from zerovlm.data.vsr import VSRDataset, parse_caption

COUNTS = {"random": {"train": 7680, "dev": 1097, "test": 2195}, "zeroshot": {"train": 3489, "dev": 340, "test": 1222}}


@needs_vsr
@pytest.mark.parametrize("variant", ["random", "zeroshot"])
def test_real_files_have_the_published_counts_and_types(variant):
    for split, n in COUNTS[variant].items():
        lines = read_jsonl(SHARED_VSR / variant / f"{split}.jsonl")
        assert len(lines) == n
        for _, r in lines:
            assert type(r["label"]) is int and r["label"] in (0, 1)
            assert isinstance(r["vote_true_validator_id"], str) and r["vote_true_validator_id"].startswith("[")
        dataset = VSRDataset(name=f"vsr_{variant}", annotations_dir=str(SHARED_VSR / variant), splits=[split])
        assert len(dataset) == n
        assert {r.split for r in dataset.records} == {split}


@needs_vsr
def test_relations_and_meta_categories():
    relations = Counter()
    for split in COUNTS["random"]:
        relations.update(r["relation"] for _, r in read_jsonl(SHARED_VSR / "random" / f"{split}.jsonl"))
    assert len(relations) == 66  # the validated data's relations
    categories = vsr_meta_categories()
    assert set(categories.values()) == {"Adjacency", "Directional", "Orientation", "Projective", "Proximity",
                                        "Topological", "Unallocated"}
    assert categories["among"] == "Unallocated"  # listed twice: the last listing wins, as in VSR's script
    assert "congruent" not in categories
    assert set(relations) - set(categories) == {"congruent"}
    test = VSRDataset(annotations_dir=str(SHARED_VSR / "random"), splits=["dev", "test"])
    assert len(test) == 1097 + 2195
    assert {r.category for r in test.records if r.relation == "congruent"} <= {UNCATEGORIZED}
    assert Counter(r.category for r in test.records)["Projective"] == 398 + 843


@pytest.mark.parametrize(("caption", "relation", "expected"), [
    ("The cat is on the table.", "on", ("cat", "is", "table")),
    ("The people are at the left side of the bus.", "at the left side of", ("people", "are", "bus")),
    ("The cake consists of the dog.", "consists of", ("cake", "", "dog")),
    ("The dining table is touching the teddy bear", "touching", ("dining table", "is", "teddy bear")),
    ("A cat on a table.", "on", None),
])
def test_parse_caption(caption, relation, expected):
    assert parse_caption(caption, relation) == expected


@needs_vsr
def test_subject_and_object_come_from_the_caption_not_the_truncated_fields():
    dataset = VSRDataset(name="vsr_zeroshot", annotations_dir=str(SHARED_VSR / "zeroshot"), splits=["train"])
    truncated = [(line, r) for line, r in read_jsonl(SHARED_VSR / "zeroshot" / "train.jsonl")
                 if f"The {r['subj']} " not in r["caption"]]
    assert truncated  # the pitfall SOURCE.md names ("orse", "andbag")
    by_line = {r.meta["line"]: r for r in dataset.records}
    for line, raw in truncated:
        assert raw["caption"].startswith(f"The {by_line[line].subject} ")


@needs_vsr
def test_images_are_found_in_coco_folders_or_one_merged_folder(coco_dir, tmp_path):
    split_folders = VSRDataset(annotations_dir=str(SHARED_VSR / "random"), splits=["test"], image_root=str(coco_dir),
                               limit=5)
    sample = split_folders[0]
    assert sample.image.size == (64, 48) and sample.id == "vsr_random-test-00001"
    assert sample.statement == "The person is inside the refrigerator." and sample.label is True
    assert sample.category == "Topological" and sample.negative_type == "none"
    merged = tmp_path / "merged"
    for r in split_folders.records:
        placeholder_image(merged / r.meta["image"], seed=1)
    assert VSRDataset(annotations_dir=str(SHARED_VSR / "random"), splits=["test"], image_root=str(merged),
                      limit=5)[4].image.size == (64, 48)


@needs_vsr
def test_missing_images_fail_with_sample_and_path_or_are_skipped_and_counted(tmp_path):
    def vsr(**kwargs):
        return VSRDataset(annotations_dir=str(SHARED_VSR / "random"), splits=["test"], image_root=str(tmp_path),
                          **kwargs)

    # missing images fail when the dataset is made, before any model loads, saying how many are missing
    with pytest.raises(FileNotFoundError, match=r"sample vsr_random-test-00001: image .*000000451431.jpg does not "
                       r"exist \(1 of the 1 images of dataset=vsr_random are missing\)\. Set paths.coco_dir "
                             r"\(dataset.image_root\)"):
        vsr(limit=1).check_images()
    placeholder_image(tmp_path / "train2017" / "000000451431.jpg", seed=1)
    (tmp_path / "val2017").mkdir()
    (tmp_path / "val2017" / "000000072556.jpg").write_bytes(b"not an image")  # test-00003's
    with pytest.raises(FileNotFoundError, match=r"test-00002: image .*000000287427.jpg does not exist \(1 of the 3"):
        vsr(limit=3).check_images()
    skipping = vsr(on_missing="skip")  # missing and damaged images are told apart in the counts
    assert len(skipping) == 1 and skipping.records[0].meta["image"] == "000000451431.jpg"
    assert skipping.skipped == {"missing_image": 2192, "corrupt_image": 2}  # test-00003 and one more
    # an image that exists but cannot be decoded fails when loaded, saying it is damaged (not where to look)
    placeholder_image(tmp_path / "train2017" / "000000287427.jpg", seed=2)
    dataset = vsr(limit=3)
    dataset.check_images()  # present, if damaged
    with pytest.raises(OSError, match=r"sample vsr_random-test-00003: image .*000000072556.jpg exists but cannot "
                       r"be decoded .*damaged or not an image .*dataset.on_missing=skip") as error:
        dataset[2]
    assert "image_root" not in str(error.value)
    with pytest.raises(ValueError, match="selected no samples"):
        VSRDataset(annotations_dir=str(SHARED_VSR / "random"), splits=["dev"], image_root=str(tmp_path),
                   on_missing="skip")


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))


def test_malformed_lines_fail_with_file_and_line(tmp_path):
    good = json.dumps({"image": "a.jpg", "image_link": "http://x/train2017/a.jpg", "caption": "The cat is on the mat.",
                       "label": 1, "relation": "on"})
    _write(tmp_path / "test.jsonl", [good, "", "{not json"])
    with pytest.raises(ValueError, match=r"test.jsonl:3: not valid JSON"):
        VSRDataset(annotations_dir=str(tmp_path), splits=["test"])
    _write(tmp_path / "test.jsonl", [good, good.replace('"label": 1', '"label": "1"')])
    with pytest.raises(ValueError, match=r"test.jsonl:2: field 'label' should be int"):
        VSRDataset(annotations_dir=str(tmp_path), splits=["test"])
    _write(tmp_path / "test.jsonl", [good.replace("The cat is on the mat.", "On the mat sits a cat.")])
    with pytest.raises(ValueError, match=r"test.jsonl:1: caption 'On the mat sits a cat.' is not"):
        VSRDataset(annotations_dir=str(tmp_path), splits=["test"])
    with pytest.raises(FileNotFoundError, match=r"dev.jsonl not found: set paths.vsr_splits_dir to VSR's data/splits"):
        VSRDataset(annotations_dir=str(tmp_path), splits=["dev"])
    with pytest.raises(ValueError, match="VSR's splits"):
        VSRDataset(annotations_dir=str(tmp_path), splits=["validation"])


def test_offline_hub_says_to_use_a_local_directory(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="set paths.vsr_splits_dir to VSR's data/splits folder"):
        VSRDataset(hf_repo="cambridgeltl/vsr_random", splits=["test"])


class _FlakyImageServer(http.server.SimpleHTTPRequestHandler):
    """Serves a directory on loopback; the first request of every file fails with 503."""

    seen: set = set()

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path not in self.seen:
            self.seen.add(self.path)
            self.send_error(503)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@needs_vsr
def test_download_images_fetches_missing_ones_once_with_retries(tmp_path):
    served = tmp_path / "served"
    lines = (SHARED_VSR / "random" / "test.jsonl").read_text().splitlines()[:3]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_FlakyImageServer, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        annotations = tmp_path / "annotations"
        annotations.mkdir()
        records = []
        for k, line in enumerate(lines):
            r = json.loads(line)
            placeholder_image(served / "train2017" / r["image"], seed=k)
            r["image_link"] = f"{base}/train2017/{r['image']}"
            records.append(json.dumps(r))
        _write(annotations / "test.jsonl", records)
        cache = tmp_path / "cache"
        dataset = VSRDataset(annotations_dir=str(annotations), splits=["test"], download_images=True,
                             image_cache_dir=str(cache))
        assert sorted(p.name for p in cache.iterdir()) == sorted(json.loads(x)["image"] for x in lines)
        assert dataset[2].image.size == (64, 48)
        requests = len(_FlakyImageServer.seen)
        VSRDataset(annotations_dir=str(annotations), splits=["test"], download_images=True, image_cache_dir=str(cache))
        assert len(_FlakyImageServer.seen) == requests  # nothing fetched twice
    finally:
        server.shutdown()
