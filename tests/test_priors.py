"""SpatialPIN-style 3D priors: geometry, the oracle's accuracy on synthetic scenes, a depth model through the
real pipeline, the text, the cache."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import SESSION_CACHE
from omegaconf import OmegaConf

from zerovlm.cli import CONFIG_PATH
from zerovlm.data.synthetic import SyntheticDataset, make_scene, true_relations
from zerovlm.priors.geometry import Object3D, back_project, closest_per_direction, focal_length, shot_angle
from zerovlm.priors.spatialpin import SpatialPrior
from zerovlm.render import Camera, SceneObject, render_layers

WORDING = OmegaConf.to_container(OmegaConf.load(f"{CONFIG_PATH}/prior_wording/spatialpin.yaml"))
ALL = ["train", "dev", "test"]
CENTRE_TOLERANCE = 0.25  # scene units; objects are 0.5-0.75 across, partly hidden ones are the worst case


class FixedBoxes:
    """A test double for the zero-shot detector: the boxes it is given, for the names it knows."""

    kind = None

    def __init__(self, boxes: dict[str, tuple[int, int, int, int]]) -> None:
        self.given = boxes

    def fingerprint(self) -> dict:
        return {"fixed": sorted(self.given)}

    def boxes(self, image, names):
        return {n: self.given.get(n) for n in names}


def test_back_projection_follows_the_pinhole():
    depth = np.full((4, 6), 2.0)
    mask = np.zeros((4, 6), dtype=bool)
    mask[0, 5] = True
    f = focal_length(4, 90.0)
    assert f == pytest.approx(2.0)
    (x, y, z), = back_project(depth, mask, 90.0)
    assert (x, y, z) == pytest.approx(((5.5 - 3) * 2 / f, 2.0, (2 - 0.5) * 2 / f))


def test_render_layers_agree_with_the_camera():
    cube = SceneObject("cube", "red", (0.0, 0.0, 0.35), 0.7)
    camera = Camera(polar=90.0, azimuth=-90.0, radius=5.0)
    image, depth, index = render_layers([cube], camera, 64)
    assert np.asarray(image).tolist() == np.asarray(render_layers([cube], camera, 64)[0]).tolist()
    assert index[32, 32] == 0 and index[0, 0] == -1
    assert depth[32, 32] == pytest.approx(5.0 - 0.35)  # the cube's front face, along the optical axis
    assert math.isinf(depth[0, 0])  # sky


def _recovered(prior, sample):
    scene = prior.scene(sample)
    return {o["name"]: o for o in scene["objects"]}, scene


def test_oracle_prior_recovers_true_centres_and_relations_on_synthetic_scenes():
    prior = SpatialPrior(fov=40.0, templates=WORDING)
    dataset = SyntheticDataset(num_scenes=40, splits=ALL)
    errors, checked = [], 0
    for i in range(0, len(dataset), 2):  # the true statement of each scene
        sample = dataset[i]
        found, scene = _recovered(prior, sample)
        camera = Camera(**sample.meta["scene"]["camera"])
        assert scene["pitch"] == pytest.approx(90.0 - camera.polar, abs=0.5) and scene["shot"] == "horizontal"
        truth = {f"{o['color']} {o['shape']}": o for o in sample.meta["scene"]["objects"]}
        for name, obj in found.items():
            x, up, forward = camera.to_camera(truth[name]["center"])
            errors.append(np.linalg.norm(np.subtract(obj["center"], (x, forward, up))))
        a, b = found[sample.subject]["center"], found[sample.object]["center"]
        derived = {"left of": a[0] < b[0], "right of": a[0] > b[0], "in front of": a[1] < b[1],
                   "behind": a[1] > b[1], "on": a[2] > b[2], "under": a[2] < b[2]}
        assert derived[sample.relation], (sample.id, sample.statement, a, b)
        checked += 1
    assert checked == 40 and max(errors) < CENTRE_TOLERANCE and np.mean(errors) < 0.12


def test_every_true_relation_of_a_scene_shows_in_the_nearest_objects_per_direction():
    prior = SpatialPrior(fov=40.0, templates=WORDING)
    dataset = SyntheticDataset(num_scenes=12, splits=ALL)
    # where the object lies, seen from the subject, when "<subject> is <relation> <object>" holds
    where = {"left of": "right", "right of": "left", "in front of": "back", "behind": "front", "on": "down",
             "under": "up"}
    checked = 0
    for i in range(0, len(dataset), 2):
        sample = dataset[i]
        objects, camera = make_scene(0, sample.meta["scene_index"])
        for a, relation, b in true_relations(objects, camera):
            sample.subject, sample.object = objects[a].name, objects[b].name
            located = [Object3D(**o) for o in prior.scene(sample)["objects"]]
            nearest = closest_per_direction(located)
            assert nearest[0][where[relation]][0] == 1, (sample.id, relation, located)
            checked += 1
    assert checked > 20


def test_shot_angle_from_the_ground():
    cube = SceneObject("cube", "red", (0.0, 0.0, 0.35), 0.7)
    for polar, expected in [(85.0, "horizontal"), (20.0, "top-down")]:
        _, depth, index = render_layers([cube], Camera(polar=polar, azimuth=-90.0, radius=5.0), 96)
        shot, pitch = shot_angle(depth, (index == -1) & np.isfinite(depth), 40.0)
        assert shot == expected and pitch == pytest.approx(90.0 - polar, abs=0.5)
    assert shot_angle(np.full((4, 4), np.inf), np.ones((4, 4), bool), 40.0) == ("unknown", None)


SCENE = {"objects": [{"name": "cat", "center": [0.1, 2.0, 0.0], "size": [0.4, 0.4, 0.3]},
                     {"name": "dog", "center": [-0.5, 2.5, 0.1], "size": [0.6, 0.6, 0.5]},
                     {"name": "zebra", "center": None, "size": None}],
         "shot": "horizontal", "pitch": 10.0, "kind": "metric"}


def test_prior_text_snapshot():
    text = SpatialPrior(fov=40.0, templates=WORDING).text(SCENE)
    assert text == (
        "3D information about the objects, estimated from the image. Coordinate system: x points right, y points "
        "away from the viewer, z points up; positions and sizes in cm.\n"
        "Obj 1 (cat): 3D center (10, 200, 0) cm; size 40 x 40 x 30 cm (width x depth x height); closest per "
        "direction: left: Obj 2 (79 cm), up: Obj 2 (79 cm), back: Obj 2 (79 cm).\n"
        "Obj 2 (dog): 3D center (-50, 250, 10) cm; size 60 x 60 x 50 cm (width x depth x height); closest per "
        "direction: right: Obj 1 (79 cm), down: Obj 1 (79 cm), front: Obj 1 (79 cm).\n"
        "Obj 3 (zebra): not found in the image.\n"
        "Camera shot angle: horizontal.")
    relative = SpatialPrior(fov=40.0, templates=WORDING).text({**SCENE, "kind": "relative"})
    assert "relative units" in relative and "3D center (0.10, 2.00, 0.00) units" in relative


def test_a_depth_model_through_the_real_pipeline_with_a_detector_double(tmp_path):
    sample = SyntheticDataset(num_scenes=4, splits=ALL)[0]
    detector = FixedBoxes({sample.subject: (60, 90, 120, 150), sample.object: (150, 80, 210, 140)})
    prior = SpatialPrior(depth=str(SESSION_CACHE / "models" / "tiny_depth_anything"), depth_tiny_random=True,
                         detector="oracle", fov=40.0, cache_dir=str(tmp_path), templates=WORDING)
    prior.detector = detector  # the double stands in for OWLv2
    text, scene = prior(sample)
    assert scene["kind"] == "relative" and "relative units" in text
    assert all(o["center"] is not None and all(np.isfinite(o["center"])) for o in scene["objects"])
    assert text.count("Obj ") >= 2 and "Camera shot angle:" in text
    again, _ = prior(sample)
    assert again == text and prior.counts == {"priors_computed": 1, "priors_cached": 1}
    missing = FixedBoxes({sample.subject: (60, 90, 120, 150)})
    prior.detector = missing
    text, _ = prior(sample)
    assert f"Obj 2 ({sample.object}): not found in the image." in text and prior.counts["objects_not_found"] == 1


def test_the_oracle_refuses_photos():
    from zerovlm.data.sample import Sample

    photo = SyntheticDataset(num_scenes=2, splits=ALL)[0]
    photo = Sample(**{**photo.__dict__, "meta": {}})
    with pytest.raises(ValueError, match=f"sample {photo.id}: prior.depth=oracle"):
        SpatialPrior(templates=WORDING).scene(photo)


def test_the_model_path_end_to_end_with_tiny_depth_and_detector_models(tmp_path):
    cfg = OmegaConf.load(f"{CONFIG_PATH}/prior/spatialpin_tiny.yaml")
    prior = SpatialPrior(depth=str(SESSION_CACHE / "models" / "tiny_depth_anything"), depth_tiny_random=True,
                         detector=str(SESSION_CACHE / "models" / "tiny_owlv2"), detector_tiny_random=True,
                         detector_threshold=cfg.detector_threshold, fov=cfg.fov, templates=WORDING)
    sample = SyntheticDataset(num_scenes=2, splits=ALL)[0]
    boxes = prior.detector.boxes(sample.image, [sample.subject, sample.object])
    assert set(boxes) == {sample.subject, sample.object}
    assert all(b is None or (len(b) == 4 and b[0] <= b[2] and b[1] <= b[3]) for b in boxes.values())
    text, scene = prior(sample)
    assert text.startswith("3D information about the objects") and scene["kind"] == "relative"
    assert prior.fingerprint()["detector"]["weights"] and prior.fingerprint()["depth"]["weights"]


def test_sam_refines_boxes_to_masks_inside_them(tmp_path):
    sample = SyntheticDataset(num_scenes=2, splits=ALL)[0]
    box = (60, 90, 120, 150)
    prior = SpatialPrior(segmenter=str(SESSION_CACHE / "models" / "tiny_sam"), segmenter_tiny_random=True,
                         fov=40.0, templates=WORDING)
    mask = prior.segmenter.mask(sample.image, box)
    assert mask.shape == (256, 256) and mask.dtype == bool
    assert not mask[:, :60].any() and not mask[:89].any() and not mask[:, 121:].any()  # never outside the box
    prior.detector = FixedBoxes({sample.subject: box, sample.object: (150, 80, 210, 140)})
    prior.depth = prior.oracle
    text, _ = prior(sample)
    assert prior.fingerprint()["segmenter"]["segmenter"].endswith("tiny_sam") and "Obj 1" in text
