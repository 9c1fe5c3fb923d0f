"""Poses, the seeded random view, and the content-addressed view cache."""

from __future__ import annotations

import numpy as np
from PIL import Image

from zerovlm.cache import ViewCache, image_digest
from zerovlm.data.synthetic import SyntheticDataset
from zerovlm.generators.oracle import OracleRenderer
from zerovlm.views import ViewMaker, derived_seed, random_pose, resolve_poses

FOUR = [{"name": "origin", "label": "original image"}, {"name": "left", "azimuth": -90},
        {"name": "right", "azimuth": 90}, {"name": "random", "random": True}]


def test_derived_seed_is_stable_across_processes():
    # sha256-based: the same in every process and on every rank, unlike hash()
    assert derived_seed(0, "synthetic-00000-true", "random") == 5646822820141517638


def test_random_pose_follows_the_reference_demo():
    pose = random_pose(derived_seed(0, "synthetic-00000-true", "random"))
    assert (pose.polar, pose.azimuth, pose.radius) == (-13.0, 130.0, 0.0)  # from -13.03 and 130.37
    rng = np.random.default_rng(123)
    # the demo's lines: x = int(np.round(np.arcsin(np.random.uniform(-1.0, 1.0)) * 160.0 / np.pi)), y likewise
    expected_polar = int(np.round(np.arcsin(rng.uniform(-1.0, 1.0)) * 160.0 / np.pi))
    expected_azimuth = int(np.round(rng.uniform(-150.0, 150.0)))
    got = random_pose(123)
    assert (got.polar, got.azimuth) == (expected_polar, expected_azimuth)
    draws = [random_pose(s) for s in range(500)]
    assert all(-80 <= p.polar <= 80 and -150 <= p.azimuth <= 150 for p in draws)
    assert all(p.polar.is_integer() and p.azimuth.is_integer() for p in draws)  # whole degrees, as the demo


def test_resolve_poses_per_image():
    a = resolve_poses(FOUR, "s1", 0)
    assert [p.name for p in a] == ["origin", "left", "right", "random"]
    assert (a[1].polar, a[1].azimuth, a[1].radius) == (0.0, -90.0, 0.0)
    assert a[0].display == "original image" and a[1].display == "left view image"
    assert resolve_poses(FOUR, "s1", 0)[3] == a[3]
    assert resolve_poses(FOUR, "s2", 0)[3] != a[3]
    assert resolve_poses(FOUR, "s1", 1)[3] != a[3]


def test_cache_put_is_atomic_and_round_trips(tmp_path):
    cache = ViewCache(tmp_path)
    image = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    key = cache.key(generator={"g": 1}, condition="c", pose=[0, 90, 0], seed=7)
    assert cache.get(key) is None
    path = cache.put(key, image)
    assert path.parent.name == key[:2]
    assert [p.name for p in path.parent.iterdir()] == [f"{key}.png"]  # no temporary file left behind
    assert cache.get(key).tobytes() == image.tobytes()
    assert image_digest(cache.get(key)) == image_digest(image)


def test_cache_key_covers_everything_that_sets_pixels():
    base = dict(generator={"generator": "oracle", "renderer": "1"}, condition="abc", pose=[0, 90, 0], seed=1)
    keys = {ViewCache.key(**base)}
    for change in [dict(generator={"generator": "oracle", "renderer": "2"}), dict(condition="abd"),
                   dict(pose=[0, 90, 0.5]), dict(seed=2)]:
        keys.add(ViewCache.key(**{**base, **change}))
    assert len(keys) == 5
    assert ViewCache.key(**base) == ViewCache.key(**dict(reversed(list(base.items()))))


class CountingOracle(OracleRenderer):
    def __init__(self):
        super().__init__()
        self.calls = []

    def generate(self, requests):
        self.calls.append([r.pose.name for r in requests])
        return super().generate(requests)


def test_view_maker_generates_once_then_serves_the_cache(tmp_path):
    sample = SyntheticDataset(num_scenes=2, splits=["train", "dev", "test"])[0]
    generator = CountingOracle()
    first = ViewMaker(FOUR, generator, ViewCache(tmp_path), seed=0)
    views = first(sample)
    assert [p.name for p, _ in views] == ["origin", "left", "right", "random"]
    assert views[0][1] is sample.image  # the input image itself, never generated
    assert generator.calls == [["left", "right", "random"]]  # all missing poses of a sample in one call
    assert (first.generated, first.cached) == (3, 0)
    first.flush()  # written by a thread beside the model: all in the cache once flushed

    again = ViewMaker(FOUR, generator, ViewCache(tmp_path), seed=0)
    cached = again(sample)
    assert (again.generated, again.cached) == (0, 3) and len(generator.calls) == 1
    assert [im.tobytes() for _, im in cached] == [im.tobytes() for _, im in views]

    other_seed = ViewMaker(FOUR, generator, ViewCache(tmp_path), seed=1)
    other_seed(sample)
    assert (other_seed.generated, other_seed.cached) == (1, 2)  # only the random view depends on the seed


def test_a_batch_sends_all_its_missing_views_in_one_call_and_shares_views_between_statements(tmp_path):
    dataset = SyntheticDataset(num_scenes=2, splits=["train", "dev", "test"])
    samples = [dataset[i] for i in range(4)]  # two scenes, a true and a false statement each
    generator = CountingOracle()
    maker = ViewMaker(FOUR[:3], generator, ViewCache(tmp_path), seed=0)
    views = maker.batch(samples)
    assert generator.calls == [["left", "right", "left", "right"]]  # one call, one view per scene and pose
    assert (maker.generated, maker.cached) == (4, 4)
    assert views[0][1][1].tobytes() == views[1][1][1].tobytes()
    single = ViewMaker(FOUR[:3], OracleRenderer(), ViewCache(tmp_path / "other"), seed=0)
    assert [[im.tobytes() for _, im in v] for v in views] == [[im.tobytes() for _, im in single(s)] for s in samples]


def test_the_random_view_is_one_per_image_shared_by_its_statements(tmp_path):
    """The paper's Ra-V: one random view per image, whichever statement about it is asked."""
    dataset = SyntheticDataset(num_scenes=2, splits=["train", "dev", "test"])
    samples = [dataset[i] for i in range(4)]  # two scenes, a true and a false statement each
    assert samples[0].image_key == samples[1].image_key != samples[2].image_key
    assert samples[0].id != samples[1].id
    generator = CountingOracle()
    maker = ViewMaker(FOUR, generator, ViewCache(tmp_path), seed=0)
    views = maker.batch(samples)
    assert generator.calls == [["left", "right", "random", "left", "right", "random"]]  # one random view per scene
    assert views[0][3][0] == views[1][3][0] and views[0][3][1].tobytes() == views[1][3][1].tobytes()
    assert resolve_poses(FOUR, samples[0].image_key, 0)[3] == views[0][3][0]


def test_checkpoint_digest_names_local_weights_or_the_cached_hub_commit(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from zerovlm.files import checkpoint_digest

    local = tmp_path / "local"
    local.mkdir()
    (local / "config.json").write_text("{}")
    first = checkpoint_digest(str(local))
    (local / "config.json").write_text('{"changed": 1}')
    assert len(first) == 64 and checkpoint_digest(str(local)) != first
    # a hub id: the commit of the snapshot in the cache, by the file that marks it
    hub = tmp_path / "hub"
    repo = hub / "models--org--model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("c0ffee")
    (repo / "snapshots" / "c0ffee" / "unet").mkdir(parents=True)
    (repo / "snapshots" / "c0ffee" / "unet" / "config.json").write_text("{}")
    (repo / "snapshots" / "c0ffee" / "config.json").write_text("{}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    assert checkpoint_digest("org/model") == "c0ffee"
    assert checkpoint_digest("org/model", marker="unet/config.json") == "c0ffee"
    assert checkpoint_digest("org/other") is None
