"""Speed that changes no result: batches prepared in the loader's worker processes, statements about one picture
sharing its prefix (the model's key/value cache), and nothing loaded for nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import SESSION_CACHE, read_jsonl
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image

from zerovlm.backbones.hf import HFVisionLanguageModel
from zerovlm.cli import CONFIG_PATH

NEEDS_TORCHVISION = {"qwen2_5_vl", "llava_onevision"}
FORMATS = {"instructblip": "{prompt}", "paligemma": "<image>answer en {prompt}"}
SHARES = {"llava": True, "llava_next": True, "smolvlm": True, "llava_onevision": True,
          "instructblip": False, "paligemma": False, "qwen2_5_vl": False}
STATEMENTS = ["Is the cube left of the sphere? Answer yes or no.", "Is the cube right of the big red sphere?",
              "Is it so?", "Is the sphere under the cube? Answer yes or no.", "Is the cube on the sphere?"]


def job(output_dir: Path, *overrides: str, cache_root: Path = SESSION_CACHE) -> tuple[dict, list[dict]]:
    """One job in this process, as `zerovlm` runs it: (metrics, rows)."""
    from zerovlm.run import evaluate

    with initialize_config_dir(CONFIG_PATH, version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    raw = OmegaConf.to_container(cfg, resolve=False)
    raw["paths"].update(output_dir=str(output_dir), cache_root=str(cache_root))
    resolved = OmegaConf.create(OmegaConf.to_container(OmegaConf.create(raw), resolve=True))
    if output_dir.parent.is_dir():  # as Hydra makes it; otherwise the job must say it cannot write there
        output_dir.mkdir(exist_ok=True)
    evaluate(resolved, output_dir)
    return json.loads((output_dir / "metrics.json").read_text()), read_jsonl(output_dir / "predictions.jsonl")


@pytest.mark.parametrize("family", [pytest.param(f, marks=pytest.mark.torchvision) if f in NEEDS_TORCHVISION else f
                                    for f in sorted(SHARES)])
def test_a_shared_prefix_gives_the_scores_of_separate_rows(family):
    """Statements about one picture: the picture and the prompt before them computed once, expanded over them,
    then only their own tokens; p_yes and caption scores equal the unshared rows' within 1e-5 (float32). Families
    whose processor output cannot be split fall back, and say so."""
    model = str(SESSION_CACHE / "models" / f"tiny_{family}")
    kwargs = {"name": family, "model": model, "tiny_random": family, "prompt_format": FORMATS.get(family)}
    shared, apart = HFVisionLanguageModel(**kwargs), HFVisionLanguageModel(**kwargs, share_prefix=False)
    a, b = Image.new("RGB", (64, 48), (10, 200, 30)), Image.new("RGB", (40, 60), (200, 20, 90))
    pictures = [a, a, b, a, b]
    prepared = shared.inputs.prepare(pictures, STATEMENTS)
    assert (prepared.suffix is not None) == SHARES[family] == shared.inputs.shares
    if SHARES[family]:  # two prefixes for five rows: the images' tokens are computed twice, not five times
        assert prepared.inputs["input_ids"].shape[0] == 2 and prepared.suffix["group"].tolist() == [0, 0, 1, 0, 1]
    got, expected = shared.answer(prepared), apart.score(pictures, STATEMENTS)
    assert [r["p_yes"] for r in got] == pytest.approx([r["p_yes"] for r in expected], abs=1e-5)
    assert [r["model_input"] for r in got] == [r["model_input"] for r in expected]
    options = [["A cube left of a sphere", "A cube right of a sphere", "A sphere", "Cube"], ["Two", "Two cubes"]]
    prepared = shared.inputs.prepare([a, b], ["Describe.", "Describe it."], options)
    assert (prepared.suffix is not None) == SHARES[family]
    got, expected = shared.answer(prepared), apart.choose([a, b], ["Describe.", "Describe it."], options)
    for g, e in zip(got, expected, strict=True):
        assert g["scores"] == pytest.approx(e["scores"], abs=1e-5) and g["prediction"] == e["prediction"]


def test_no_sharing_where_every_row_has_its_own_picture_or_the_model_generates(tiny_llava):
    a, b = Image.new("RGB", (64, 48), (10, 200, 30)), Image.new("RGB", (40, 60), (200, 20, 90))
    assert tiny_llava.inputs.prepare([a, b], STATEMENTS[:2]).suffix is None
    generating = HFVisionLanguageModel(name="g", model=str(SESSION_CACHE / "models" / "tiny_llava"),
                                       tiny_random="llava", scoring="generate")
    assert generating.inputs.prepare([a, a], STATEMENTS[:2]).suffix is None


@pytest.mark.slow
def test_workers_and_shared_prefixes_change_no_answer(whatsup_dir, tmp_path, monkeypatch):
    """What'sUp verification (4 statements per image) and caption choice (4 options per image): batches prepared
    in two worker processes with shared prefixes give the rows of the plain main-process path."""
    suffixes = []
    answer = HFVisionLanguageModel.answer

    def spy(self, prepared):
        suffixes.append(prepared.suffix is not None)
        return answer(self, prepared)

    monkeypatch.setattr(HFVisionLanguageModel, "answer", spy)
    for task in ("verify", "original"):
        common = ["dataset=whatsup_a", f"paths.whatsup_dir={whatsup_dir}", f"dataset.task={task}",
                  "dataset.limit=16", "backbone.batch_size=8"]
        _, plain = job(tmp_path / f"{task}-plain", *common, "num_workers=0", "backbone.share_prefix=false")
        assert suffixes and not any(suffixes)
        suffixes.clear()
        _, shared = job(tmp_path / f"{task}-shared", *common, "num_workers=0")
        assert suffixes and all(suffixes)  # every batch held statements about one image
        metrics, workers = job(tmp_path / f"{task}-workers", *common, "num_workers=2")
        assert metrics["num_workers"] == 2 and metrics["seconds"]["loader_inputs"] > 0
        for rows in (shared, workers):
            assert [r["id"] for r in rows] == [r["id"] for r in plain]
            assert [r["model_input"] for r in rows] == [r["model_input"] for r in plain]
            if task == "verify":
                assert [r["p_yes"] for r in rows] == pytest.approx([r["p_yes"] for r in plain], abs=1e-5)
            else:
                for r, p in zip(rows, plain, strict=True):
                    assert r["scores"] == pytest.approx(p["scores"], abs=1e-5)
        assert [r["p_yes"] for r in workers] == [r["p_yes"] for r in shared]  # the same arithmetic, anywhere
        pictures = sorted((tmp_path / f"{task}-workers" / "inputs").iterdir())
        assert pictures and all(Image.open(p).tobytes() == Image.open(tmp_path / f"{task}-plain" / "inputs" / p.name)
                                .tobytes() for p in pictures)
        suffixes.clear()


def test_a_finished_job_run_again_loads_no_model(tmp_path, monkeypatch):
    import zerovlm.run

    first, rows = job(tmp_path / "job", "dataset.limit=6")

    def refuse(*args, **kwargs):
        raise AssertionError("a finished job must not build its models")

    monkeypatch.setattr(zerovlm.run, "build_stage", refuse)
    monkeypatch.setattr(zerovlm.run, "ViewMaker", refuse)
    again, rows_again = job(tmp_path / "job", "dataset.limit=6")
    assert rows_again == rows and again["resumed_samples"] == 12  # 6 of dev, 6 of test
    assert {k: again[k] for k in ("accuracy", "n", "interval")} == {k: first[k] for k in ("accuracy", "n", "interval")}


def test_views_all_in_the_cache_do_not_load_the_generator(tmp_path, monkeypatch):
    from zerovlm.generators.zero123 import Zero123Pipeline

    common = ["generator=tiny_zero123", "views=left", "dataset.limit=4", "dataset.splits=[test]",
              "generator.steps=2"]
    first, _ = job(tmp_path / "first", *common)
    assert first["views_generated"] == 2 and first["views_cached"] == 2  # two scenes, two statements each

    def refuse(*args, **kwargs):
        raise AssertionError("every view is cached: the generator's weights must not be loaded")

    monkeypatch.setattr(Zero123Pipeline, "from_pretrained", refuse)
    again, _ = job(tmp_path / "again", *common)
    assert again["views_generated"] == 0 and again["views_cached"] == 4


def test_generated_views_are_written_beside_the_model_and_all_there_at_the_end(tmp_path):
    from zerovlm.cache import ViewCache
    from zerovlm.data.synthetic import SyntheticDataset
    from zerovlm.generators.oracle import OracleRenderer
    from zerovlm.views import ViewMaker

    cache = ViewCache(tmp_path / "views")
    maker = ViewMaker([{"name": "origin"}, {"name": "left", "azimuth": -90}], OracleRenderer(), cache)
    dataset = SyntheticDataset(num_scenes=4, image_size=32)
    samples = [dataset[0], dataset[2]]
    assert samples[0].meta["image"] != samples[1].meta["image"]
    views = maker.batch(samples)
    assert maker.batch(samples) is not None and maker.generated == 2 and maker.cached == 2  # served before written
    maker.flush()
    files = sorted(cache.root.rglob("*.png"))
    assert len(files) == 2 and {Image.open(f).tobytes() for f in files} == {v[1][1].tobytes() for v in views}
    reader = maker.reader()
    assert reader.batch(samples) is not None and reader.cached == 2 and reader.generated == 0
    reader.can_generate = False  # as for a generator that is a model: its views wait for the device
    assert reader.batch([SyntheticDataset(num_scenes=3, image_size=32, seed=5)[0]]) is None
    assert reader.cached == 2 and reader.generated == 0  # nothing counted for a batch handed on
    assert ViewMaker([{"name": "left"}], torch.nn.Linear(1, 1), cache).reader().can_generate is False


@pytest.mark.parametrize("workers", [0, 2])
def test_a_corrupt_view_in_the_cache_is_made_again_and_counted_never_fed_to_the_model(tmp_path, workers):
    common = ["views=left", "dataset.limit=8", f"num_workers={workers}"]
    first, rows = job(tmp_path / "first", *common, cache_root=tmp_path / "cache")
    files = sorted((tmp_path / "cache" / "views").rglob("*.png"))
    assert first["views_corrupt_remade"] == 0 and len(files) == first["views_generated"] >= 2
    intact = files[0].read_bytes()
    files[0].write_bytes(intact[: len(intact) // 2])  # truncated by a crash or a full disk
    files[1].write_bytes(b"not a png")
    again, rows_again = job(tmp_path / "again", *common, cache_root=tmp_path / "cache")
    assert (again["views_corrupt_remade"], again["views_generated"]) == (2, 2)
    assert files[0].read_bytes() == intact and Image.open(files[1]).size  # replaced by whole views
    assert [r["p_yes"] for r in rows_again] == [r["p_yes"] for r in rows]
    assert all(Image.open(p).tobytes() == Image.open(tmp_path / "first" / "inputs" / p.name).tobytes()
               for p in (tmp_path / "again" / "inputs").iterdir())


def test_a_cache_that_cannot_be_written_fails_at_once_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match=rf"{blocker}/views cannot be written .*set paths.cache_root"):
        job(tmp_path / "job", "views=left", "dataset.limit=2", cache_root=blocker)
    assert not (tmp_path / "job" / "shards").exists()  # before any work
    with pytest.raises(PermissionError, match=rf"{blocker}/job cannot be written .*set hydra.run.dir"):
        job(blocker / "job", "dataset.limit=2")
    # a tiny random model is written on first use: where that cannot be, the folder and the setting are named
    with pytest.raises(Exception, match=rf"{blocker}/models/tiny_llava does not exist yet and "  # Hydra wraps it
                       rf"{blocker}/models cannot be written .*set paths.cache_root"):
        job(tmp_path / "job", "dataset.limit=2", cache_root=blocker)
