"""Every real backbone config on a twin of its checkpoint built from the checkpoint's own non-weight files
(../shared/checkpoints, or $ZEROVLM_CHECKPOINT_FILES): what those files do is what these tests see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, SESSION_CACHE
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from zerovlm.backbones.hf import HFVisionLanguageModel, pad_to_square
from zerovlm.backbones.twins import TWINS, checkpoint_files_root, ensure_twin, files_of
from zerovlm.cli import CONFIG_PATH
from zerovlm.stitch import Layout

FILES = checkpoint_files_root()
needs_files = pytest.mark.skipif(not FILES.is_dir(), reason=f"no real checkpoint files at {FILES} (set "
                                 "ZEROVLM_CHECKPOINT_FILES to a folder of org__name checkpoint folders)")
pytestmark = needs_files

BACKBONES = {p.stem: OmegaConf.load(p) for p in sorted((Path(CONFIG_PATH) / "backbone").glob("*.yaml"))}
REAL = {name: cfg.model for name, cfg in BACKBONES.items() if not cfg.get("tiny_random")}
TORCHVISION = {"qwen2_5_vl", "llava_onevision"}  # their processors carry a video processor built on torchvision


def _param(name: str):
    family = TWINS[REAL[name]][0]
    return pytest.param(name, marks=pytest.mark.torchvision) if family in TORCHVISION else name


def twin(model: str) -> Path:
    return ensure_twin(model, SESSION_CACHE / "twins" / model.replace("/", "__"))


def backbone_from_config(name: str, *overrides: str):
    """The backbone exactly as a run makes it (Hydra composes the config, instantiate builds it), on the twin."""
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            f"paths.cache_root={SESSION_CACHE}", "paths.output_dir=/tmp/out", f"backbone={name}",
            f"backbone.model={twin(REAL[name])}", "backbone.dtype=float32",
            *([] if TWINS[REAL[name]][0] == "clip" else ["backbone.attn_implementation=null"]), *overrides])
    return instantiate(cfg.backbone, _convert_="all")


@pytest.fixture(scope="module")
def pictures():
    colours = [(230, 25, 25), (25, 200, 25), (25, 25, 230), (240, 220, 20)]
    views = [Image.new("RGB", (256, 256), c) for c in colours]
    return {"photo": Image.new("RGB", (640, 480), (90, 120, 150)), "grid": Layout("grid").stitch(views),
            "horizontal": Layout("horizontal").stitch(views), "views": views, "colours": colours}


def test_every_real_backbone_config_has_a_twin_recipe():
    assert set(REAL.values()) <= set(TWINS)


@pytest.mark.parametrize("name", [_param(n) for n in sorted(REAL) if TWINS[REAL[n]][0] != "clip"])
def test_real_config_on_its_twin_scores_generates_and_chooses(name, pictures):
    """Likelihood, generation, caption choice and multiple choice on the code path of a real run."""
    picture = pictures["grid"]
    prompts = ['Is the following statement about the image true? "The cube is left of the sphere." Answer yes or no.',
               "Is it? Answer yes or no."]
    backbone = backbone_from_config(name)
    scored = backbone.score([picture, picture], prompts)
    assert all(0 < r["p_yes"] < 1 and r["prediction"] == (r["p_yes"] > 0.5) for r in scored)
    alone = backbone.score([picture], prompts[1:])[0]
    assert alone["p_yes"] == pytest.approx(scored[1]["p_yes"], abs=1e-5)  # shared prefix or not, batch or not
    generated = backbone_from_config(name, "backbone.scoring=generate", "backbone.max_new_tokens=3")
    answer = generated.score([picture], prompts[:1])[0]
    assert isinstance(answer["raw"], str) and answer["p_yes"] is None
    captions = backbone.choose([picture], ["Describe the image."], [["A cube left of a sphere", "A cube"]])[0]
    letters = backbone.choose([picture], ["Where is the cube?\nA. left\nB. right\nAnswer with the option's letter."],
                              [["A", "B"]])[0]
    for result in (captions, letters):
        assert len(result["scores"]) == 2 and all(np.isfinite(result["scores"]))


def test_llava_twin_is_the_real_checkpoint_but_its_sizes():
    folder = twin("llava-hf/llava-1.5-7b-hf")
    info = json.loads((folder / "twin.json").read_text())
    real = files_of("llava-hf/llava-1.5-7b-hf")
    for name in info["real_files"]:
        if name != "config.json":
            assert (folder / name).read_bytes() == (real / name).read_bytes(), name
    assert info["stand_ins"] == {} and info["stand_in_files"] == []
    config, original = (json.loads((f / "config.json").read_text()) for f in (folder, real))
    assert config["vision_config"]["image_size"] == 336 and config["vision_config"]["patch_size"] == 14
    assert {k for k, v in original.items() if config[k] != v} == {"text_config", "vision_config"}
    backbone = HFVisionLanguageModel(name="t", model=str(folder))
    ids = backbone.inputs.prepare([Image.new("RGB", (64, 48))], ["Q"]).inputs["input_ids"][0].tolist()
    assert ids.count(32000) == 576  # (336 / 14) ** 2 image tokens, as the real checkpoint


# The tokens an option is scored as: as the assistant would begin its answer where the template leaves it
# (after llava-hf's "ASSISTANT:" a space, after Qwen's "assistant\n" none; PaliGemma's after its own "\n").
SCORED_TOKENS = {
    "llava15_7b": (["▁left", "▁of"], ["▁A"]),
    "llava15_13b": (["▁left", "▁of"], ["▁A"]),
    "llava_next_mistral_7b": (["▁left", "▁of"], ["▁A"]),
    "instructblip_vicuna7b": (["▁left", "▁of"], ["▁A"]),
    "qwen25_vl_3b": (["left", "Ġof"], ["A"]),
    "qwen25_vl_7b": (["left", "Ġof"], ["A"]),
    "smolvlm": (["Ġleft", "Ġof"], ["ĠA"]),
    "paligemma2_3b": (["le", "ft", "Ġof"], ["A"]),  # stand-in tokenizer (no PaliGemma file at hand)
    "llava_onevision_7b": (["le", "ft", "Ġof"], ["A"]),  # stand-in tokenizer (no file at hand)
}


def _scored_ids(backbone, prompt: str, option: str) -> list[int]:
    backbone.inputs.share_prefix = False
    prepared = backbone.inputs.prepare([Image.new("RGB", (64, 48))], [prompt], [[option]])
    return prepared.inputs["input_ids"][0, -prepared.scored[0]:].tolist()


@pytest.mark.parametrize("name", [_param(n) for n in sorted(SCORED_TOKENS)])
def test_options_are_scored_as_the_assistant_would_begin_them(name):
    backbone = backbone_from_config(name)
    tokenizer = backbone.tokenizer
    for option, expected in zip(["left of", "A"], SCORED_TOKENS[name], strict=True):
        ids = _scored_ids(backbone, "Where is the cup?", option)
        assert tokenizer.convert_ids_to_tokens(ids) == expected, option
        if backbone.inputs.prompt_format is None:  # the template's own assistant turn, tokenized as a whole
            messages = backbone.inputs._messages([{"type": "image"}, {"type": "text", "text": "Where is the cup?"}])
            asked = tokenizer(backbone.processor.apply_chat_template(messages, add_generation_prompt=True),
                              add_special_tokens=False)["input_ids"]
            answered = backbone.processor.apply_chat_template(
                [*messages, {"role": "assistant", "content": [{"type": "text", "text": option}]}])
            whole = tokenizer(answered, add_special_tokens=False)["input_ids"]
            assert whole[:len(asked)] == asked and whole[len(asked):len(asked) + len(ids)] == ids


def test_paligemma_scores_an_option_causally_and_only_its_tokens():
    backbone = backbone_from_config("paligemma2_3b")
    backbone.inputs.share_prefix = False
    prepared = backbone.inputs.prepare([Image.new("RGB", (64, 48))], ["Where is the cup?"], [["left of"]])
    inputs, n = prepared.inputs, prepared.scored[0]
    tokens = backbone.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0, -n - 1:])
    assert tokens == ["Ċ", "le", "ft", "Ġof"]  # the processor's "\n", then the option alone
    assert inputs["token_type_ids"][0, -n:].tolist() == [1] * n  # the suffix: causal, not in the prefix
    assert inputs["token_type_ids"][0, -n - 1].item() == 0


def test_instructblip_loads_its_image_processor_not_the_video_one_its_files_name():
    model = str(twin("Salesforce/instructblip-vicuna-7b"))
    assert json.loads(Path(model, "processor_config.json").read_text())["processor_class"] == \
        "InstructBlipVideoProcessor"  # the real file
    backbone = backbone_from_config("instructblip_vicuna7b")
    inputs = backbone.inputs.prepare([Image.new("RGB", (64, 48))], ["Q"]).inputs
    assert type(backbone.processor).__name__ == "InstructBlipProcessor"
    assert inputs["pixel_values"].shape == (1, 3, 224, 224)
    assert inputs["input_ids"][0].tolist().count(32001) == 32  # 32 query tokens of <image>, no <video>


def test_instructblip_without_the_processor_class_fails_naming_the_fix(monkeypatch):
    model = str(twin("Salesforce/instructblip-vicuna-7b"))
    if "torchvision" not in sys.modules:
        monkeypatch.setitem(sys.modules, "torchvision", None)
    import transformers.utils.import_utils as iu

    if iu.is_torchvision_available():  # the video processor loads: the adapter names the class for images
        with pytest.raises(ValueError, match=r"takes videos, not images.*processor_class=InstructBlipProcessor"):
            HFVisionLanguageModel(name="t", model=model, prompt_format="{prompt}")
    else:  # it does not: the torchvision hint, and the class for images
        with pytest.raises(ImportError, match=r'(?s)pip install -e "\.\[torchvision\]".*processor_class='
                                              r"InstructBlipProcessor"):
            HFVisionLanguageModel(name="t", model=model, prompt_format="{prompt}")


def _unnormalised(backbone, picture) -> np.ndarray:
    """The processed picture back in 0..255 RGB, (H, W, 3)."""
    pixels = backbone.inputs.prepare([picture], ["Q"]).inputs["pixel_values"][0].float()
    ip = backbone.processor.image_processor
    mean, std = torch.tensor(ip.image_mean)[:, None, None], torch.tensor(ip.image_std)[:, None, None]
    return ((pixels * std + mean) * 255).permute(1, 2, 0).numpy()


def _found(image: np.ndarray, colour) -> int:
    return int((np.abs(image - np.array(colour)).max(-1) < 12).sum())


@pytest.mark.parametrize("layout", ["grid", "horizontal"])
def test_no_view_is_cut_by_llava_centre_crop(layout, pictures):
    """The real CLIPImageProcessor centre-crops to 336: padded to a square first, every view reaches the model."""
    backbone = backbone_from_config("llava15_7b")
    assert backbone.inputs.square == (122, 116, 104)  # LLaVA-1.5's mean colour
    canvas = pictures[layout]
    seen = _unnormalised(backbone, canvas)
    assert seen.shape == (336, 336, 3)
    scale = 336 / max(canvas.size)
    for colour in pictures["colours"]:
        assert _found(seen, colour) >= 0.8 * (256 * scale) ** 2, colour  # the whole view, at its scaled size
    cropped = backbone_from_config("llava15_7b", "backbone.pad_to_square=false")
    if layout == "horizontal":  # as llava-hf's processor alone gives it: views 1 and 4 are lost
        found = [_found(_unnormalised(cropped, canvas), c) for c in pictures["colours"]]
        assert found[0] == 0 and found[3] == 0 and found[1] > 0 and found[2] > 0


def test_padding_is_llavas_expand2square():
    wide = Image.new("RGB", (40, 20), (255, 0, 0))
    square = np.asarray(pad_to_square(wide, (1, 2, 3)))
    assert square.shape == (40, 40, 3)
    assert (square[10:30] == (255, 0, 0)).all()
    assert (square[:10] == (1, 2, 3)).all() and (square[30:] == (1, 2, 3)).all()


LLAVA_V1 = ("A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
            "detailed, and polite answers to the human's questions.")


@pytest.mark.parametrize("experiment", ["paper_table2", "paper_table3"])
def test_paper_presets_give_llava_the_llava_v1_conversation(experiment):
    backbone = backbone_from_config("llava15_7b", f"experiment={experiment}")
    assert backbone.chat_text("Is it?") == f"{LLAVA_V1} USER: <image>\nIs it? ASSISTANT:"
    assert backbone_from_config("llava15_7b").chat_text("Is it?") == "USER: <image>\nIs it? ASSISTANT:"
    # the other backbones keep their own conversation under the presets (and CLIP, which takes no prompt, composes)
    assert backbone_from_config("instructblip_vicuna7b", f"experiment={experiment}").chat_text("Is it?") == "Is it?"
    assert backbone_from_config("clip_vit_l14_336", f"experiment={experiment}") is not None


def test_the_adapters_yes_no_defaults_are_the_configs():
    import inspect

    from zerovlm.config import HFBackboneConfig

    params = inspect.signature(HFVisionLanguageModel).parameters
    config = HFBackboneConfig(name="x", model="y")
    for key in ("yes_words", "no_words", "image_backend", "pad_to_square", "system_prompt", "processor_class",
                "share_prefix", "scoring", "max_new_tokens", "dtype"):
        assert list(params[key].default) == list(getattr(config, key)) if key.endswith("words") else \
            params[key].default == getattr(config, key), key


PIXELS = """
import sys, hashlib
from PIL import Image
from zerovlm.backbones.hf import HFVisionLanguageModel
backbone = HFVisionLanguageModel(name="t", model=sys.argv[1], multi_image=True)
picture = Image.new("RGB", (520, 256), (200, 30, 60)).resize((520, 256))
picture.paste(Image.effect_noise((256, 256), 60).convert("RGB"), (0, 0))
inputs = backbone.inputs.prepare([picture], ["Q"]).inputs
digest = hashlib.sha256(inputs["pixel_values"].numpy().tobytes()).hexdigest()
print(type(backbone.processor.image_processor).__name__, digest)
"""


@pytest.mark.torchvision
@pytest.mark.parametrize("model", ["llava-hf/llava-1.5-7b-hf", "llava-hf/llava-v1.6-mistral-7b-hf"])
def test_pixels_do_not_depend_on_whether_torchvision_is_installed(model):
    """The same job in .venv (no torchvision) and .venv-torchvision gives the same pixel values: PIL by default."""
    plain = Path(os.environ.get("ZEROVLM_PLAIN_PYTHON", ROOT / ".venv" / "bin" / "python"))
    if not plain.exists():
        pytest.skip(f"no environment without torchvision at {plain} (ZEROVLM_PLAIN_PYTHON)")
    folder = str(twin(model))
    here = subprocess.run([sys.executable, "-c", PIXELS, folder], capture_output=True, text=True, check=True)
    there = subprocess.run([str(plain), "-c", PIXELS, folder], capture_output=True, text=True, check=True)
    assert here.stdout.split()[0].endswith("Pil")
    assert here.stdout.split() == there.stdout.split()


@pytest.mark.parametrize("name", [_param(n) for n in sorted(REAL) if TWINS[REAL[n]][0] != "clip"])
def test_real_config_model_input_snapshot(name):
    """The exact text each real config gives its model, through the twin's (real where at hand) chat template."""
    from test_prompts import BACKBONE_INPUTS, PROMPT

    assert backbone_from_config(name).chat_text(PROMPT) == BACKBONE_INPUTS[name]


def test_clip_config_on_its_twin_chooses_and_sees_every_view(pictures):
    backbone = backbone_from_config("clip_vit_l14_336")
    tokenizer = backbone.processor.tokenizer
    assert tokenizer("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]  # OpenAI's BPE
    result = backbone.choose([pictures["horizontal"]], ["-"], [["A red cube left of a blue one", "A cube"]])[0]
    assert len(result["scores"]) == 2 and result["prediction"] in (0, 1, None)
    seen = _unnormalised_clip(backbone, pictures["horizontal"])
    assert all(_found(seen, colour) > 0 for colour in pictures["colours"])


def _unnormalised_clip(backbone, picture) -> np.ndarray:
    picture = pad_to_square(picture, backbone.square)
    pixels = backbone.processor(images=[picture], return_tensors="pt")["pixel_values"][0]
    ip = backbone.processor.image_processor
    mean, std = torch.tensor(ip.image_mean)[:, None, None], torch.tensor(ip.image_std)[:, None, None]
    return ((pixels * std + mean) * 255).permute(1, 2, 0).numpy()


@pytest.mark.parametrize("name", ["zero123", "zero123_xl", "stable_zero123"])
def test_zero123_configs_on_twins_of_their_checkpoints(name):
    from zerovlm.backbones.twins import ensure_zero123_twin
    from zerovlm.generators.zero123 import reference_scheduler
    from zerovlm.views import resolve_poses

    model = OmegaConf.load(Path(CONFIG_PATH) / "generator" / f"{name}.yaml").model
    folder = ensure_zero123_twin(model, SESSION_CACHE / "twins" / model.replace("/", "__"))
    real = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    pinned = reference_scheduler().config
    for key in ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "clip_sample", "set_alpha_to_one",
                "steps_offset", "prediction_type"):
        assert real[key] == pinned[key], key  # the scheduler pinned here is the checkpoint's
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"paths.cache_root={SESSION_CACHE}", "paths.output_dir=/tmp/o",
                                                       f"generator={name}", f"generator.model={folder}",
                                                       "generator.steps=2"])
    generator = instantiate(cfg.generator, _convert_="all")
    pipeline = generator.pipeline
    assert pipeline.feature_extractor.crop_size == {"height": 224, "width": 224}  # the real feature extractor
    assert pipeline.cc_projection.config.in_channel == 772  # the real cc_projection config: 768 + 4
    from zerovlm.data.synthetic import SyntheticDataset
    from zerovlm.generators.base import ViewRequest

    sample = SyntheticDataset(num_scenes=4, splits=["train", "dev", "test"])[0]
    pose = resolve_poses([{"name": "left", "azimuth": -90}], sample.id, 0)[0]
    view = generator.generate([ViewRequest(sample, pose, 1)])[0]
    assert view.size == (256, 256) and view.mode == "RGB"  # the real resolution, through the whole sampler
