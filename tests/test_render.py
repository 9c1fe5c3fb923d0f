"""The ray caster: deterministic, geometrically right (projection, colours, relations), oracle views exact."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from zerovlm.data.synthetic import SyntheticDataset, make_scene, true_relations
from zerovlm.generators.base import ViewRequest
from zerovlm.generators.oracle import OracleRenderer
from zerovlm.render import COLORS, Camera, SceneObject, render
from zerovlm.views import Pose


def _hue(rgb) -> float:
    return colorsys.rgb_to_hsv(*(np.asarray(rgb) / 255.0))[0]


def test_render_is_deterministic():
    objects, camera = make_scene(0, 3)
    a, b = render(objects, camera, 128), render(objects, camera, 128)
    assert a.size == (128, 128) and a.mode == "RGB"
    assert a.tobytes() == b.tobytes()


def test_camera_frame_and_projection():
    camera = Camera(polar=90.0, azimuth=-90.0, radius=5.0)
    position, right, up, forward = camera.frame()
    np.testing.assert_allclose(position, [0.0, -5.0, 0.35], atol=1e-12)
    np.testing.assert_allclose(right, [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(up, [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(forward, [0, 1, 0], atol=1e-12)
    assert camera.project([0.0, 0.0, 0.35], 256) == pytest.approx((128.0, 128.0))
    u, v = camera.project([1.0, 0.0, 0.35], 256)
    assert u > 128 and v == pytest.approx(128.0)


def test_relative_pose_moves_the_camera_like_zero123():
    base = Camera(polar=60.0, azimuth=-90.0, radius=5.0)
    left = base.moved(0, -90, 0)
    assert (left.polar, left.azimuth, left.radius) == (60.0, -180.0, 5.0)
    above = base.moved(-90, 0, 0)
    assert above.polar == -30.0  # over the top: the camera looks down from the far side
    assert above.frame()[0][2] > base.frame()[0][2]


@pytest.mark.parametrize("index", range(6))
def test_each_object_centre_shows_its_colour(index):
    objects, camera = make_scene(0, index)
    image = np.asarray(render(objects, camera, 256))
    for obj in objects:
        # a point on the object's surface facing the camera: its centre moved towards the camera
        position = camera.frame()[0]
        toward = position - np.array(obj.center)
        surface = np.array(obj.center) + toward / np.linalg.norm(toward) * obj.size * 0.45
        depth_ok = all(
            camera.to_camera(o.center)[2] > camera.to_camera(surface)[2] or o is obj for o in objects
        )
        if not depth_ok:
            continue  # occluded from this camera
        u, v = camera.project(surface, 256)
        pixel = image[int(v), int(u)]
        assert abs(_hue(pixel) - _hue(COLORS[obj.color])) < 0.03, (obj, pixel)


def test_true_relations_follow_the_projection():
    for index in range(20):
        objects, camera = make_scene(0, index)
        for a, relation, b in true_relations(objects, camera):
            ua, _ = camera.project(objects[a].center, 256)
            ub, _ = camera.project(objects[b].center, 256)
            da, db = camera.to_camera(objects[a].center)[2], camera.to_camera(objects[b].center)[2]
            if relation == "left of":
                assert ua < ub
            elif relation == "right of":
                assert ua > ub
            elif relation == "in front of":
                assert da < db
            elif relation == "behind":
                assert da > db
            elif relation == "on":
                assert objects[a].center[2] - objects[a].size / 2 == pytest.approx(objects[b].top)
            else:
                assert relation == "under"
                assert objects[b].center[2] - objects[b].size / 2 == pytest.approx(objects[a].top)


def test_sphere_silhouette_is_where_it_projects():
    sphere = SceneObject("sphere", "red", (0.0, 0.0, 0.35), 0.6)
    camera = Camera(polar=90.0, azimuth=-90.0, radius=5.0)
    image = np.asarray(render([sphere], camera, 256))
    r, g, b = (image[..., k].astype(int) for k in range(3))
    red = (r > 40) & (r > 2 * g) & (r > 2 * b)  # lit or in shade, the sphere is the only red thing
    rows, cols = np.nonzero(red)
    assert abs(cols.mean() - 127.5) < 0.5 and abs(rows.mean() - 127.5) < 0.5
    # apparent radius: focal * r / distance (sphere seen at distance 5 from its centre)
    f = 128 / np.tan(np.radians(20))
    expected = f * 0.3 / np.sqrt(5**2 - 0.3**2)
    assert (cols.max() - cols.min() + 1) / 2 == pytest.approx(expected, abs=1.5)


def test_oracle_renders_true_novel_views():
    sample = SyntheticDataset(num_scenes=4, splits=["train", "dev", "test"])[0]
    oracle = OracleRenderer()
    same, left = oracle.generate([ViewRequest(sample, Pose("origin"), 0),
                                  ViewRequest(sample, Pose("left", 0, -90, 0), 0)])
    assert same.tobytes() == sample.image.tobytes()
    scene = sample.meta["scene"]
    objects = [SceneObject(o["shape"], o["color"], tuple(o["center"]), o["size"]) for o in scene["objects"]]
    expected = render(objects, Camera(**scene["camera"]).moved(0, -90, 0), sample.image.size[0])
    assert left.tobytes() == expected.tobytes()
    assert left.tobytes() != sample.image.tobytes()


def test_oracle_needs_a_scene():
    from zerovlm.data.sample import Sample

    photo = SyntheticDataset(num_scenes=2, splits=["train", "dev", "test"])[0]
    photo = Sample(**{**photo.__dict__, "meta": {}})
    with pytest.raises(ValueError, match=f"sample {photo.id}.*generator=oracle"):
        OracleRenderer().condition_digest(photo)
