"""What the backbone receives: with one view, the dataset's photo itself, pixel for pixel, and the copy kept in
inputs/ is that same picture."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from zerovlm.cache import ViewCache
from zerovlm.data.vsr import VSRDataset
from zerovlm.generators.oracle import OracleRenderer
from zerovlm.predict import SpatialQAModule
from zerovlm.prompts import PromptBuilder
from zerovlm.results.visualize import input_picture
from zerovlm.stitch import Layout
from zerovlm.views import ViewMaker
from zerovlm.writer import save_input

RECORDS = [("000000000139.jpg", "train2017", "The chair is left of the table.", "left of"),
           ("000000000285.jpg", "val2017", "The bear is under the plane.", "under")]


class Recording:
    """The real backbone, remembering the pictures it was given."""

    def __init__(self, backbone) -> None:
        self.backbone, self.pictures = backbone, []

    def score(self, pictures, prompts, samples):
        self.pictures += pictures
        return self.backbone.score(pictures, prompts, samples)


def vsr_like(tmp_path):
    """A VSR split file and COCO-sized JPEG photos (640 x 480 and 480 x 640) of noise."""
    rng = np.random.default_rng(0)
    lines = []
    for k, (image, folder, caption, relation) in enumerate(RECORDS):
        path = tmp_path / "coco" / folder / image
        path.parent.mkdir(parents=True, exist_ok=True)
        shape = (480, 640, 3) if k == 0 else (640, 480, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path, quality=90)
        lines.append(json.dumps({"image": image, "image_link": f"http://images.cocodataset.org/{folder}/{image}",
                                 "caption": caption, "label": 1, "relation": relation}))
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.jsonl").write_text("\n".join(lines) + "\n")
    return VSRDataset(annotations_dir=str(tmp_path / "splits"), image_root=str(tmp_path / "coco"))


def test_the_origin_view_reaches_the_backbone_pixel_identical_to_the_dataset_image(tmp_path, tiny_llava):
    dataset = vsr_like(tmp_path)
    views = ViewMaker([{"name": "origin", "label": "original image"}], OracleRenderer(), ViewCache(tmp_path / "v"))
    backbone = Recording(tiny_llava)
    module = SpatialQAModule(views, Layout("grid"), PromptBuilder("plain", "{statement}"), backbone, {})
    out = module.predict_step([dataset[0], dataset[1]])
    (tmp_path / "inputs").mkdir()
    for k, (image, folder, _, _) in enumerate(RECORDS):
        with Image.open(tmp_path / "coco" / folder / image) as photo:
            expected = np.asarray(photo.convert("RGB"))
        received = np.asarray(backbone.pictures[k])
        assert received.shape == expected.shape and np.array_equal(received, expected)
        save_input(tmp_path / "inputs", dataset[k].id, out["pictures"][k])
        assert np.array_equal(np.asarray(input_picture(tmp_path / "inputs", dataset[k].id)), expected)


def test_separate_images_are_kept_one_file_each(tmp_path):
    rng = np.random.default_rng(2)
    images = [Image.fromarray(rng.integers(0, 256, (h, 40, 3), dtype=np.uint8)) for h in (30, 50)]
    save_input(tmp_path, "s1", images)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s1.0.png", "s1.1.png"]
    for k, image in enumerate(images):
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"s1.{k}.png")), np.asarray(image))
    assert input_picture(tmp_path, "s1").size[0] > 2 * 40  # shown side by side
    assert input_picture(tmp_path, "s2") is None
