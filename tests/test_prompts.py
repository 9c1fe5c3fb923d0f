"""Golden prompt snapshots: a template change shows up here in review."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from zerovlm.backbones.tiny import NEEDS_TORCHVISION
from zerovlm.cli import CONFIG_PATH
from zerovlm.data.synthetic import SyntheticDataset
from zerovlm.prompts import PromptBuilder, join_words
from zerovlm.stitch import Layout
from zerovlm.views import resolve_poses

STATEMENT = "The blue cube is to the right of the green cube."
QUESTION = f'Is the following statement about the image true? "{STATEMENT}" Answer yes or no.'
FOUR = [{"name": "origin", "label": "original image"}, {"name": "left", "azimuth": -90},
        {"name": "right", "azimuth": 90}, {"name": "random", "random": True}]

SNAPSHOTS = {
    ("plain", "four", "grid"): QUESTION,
    ("view", "origin", "grid"): f"This is the original image. {QUESTION}",
    ("view", "left", "grid"): "This is a 3D single-view image generated from the original image. Centered on the "
                              f"blue cube. {QUESTION}",
    # the paper's Figure 4, word for word
    ("view", "four", "grid"): "The original image in the upper left corner, the left view image in the upper right "
                              "corner, the right view image in the lower left corner, and the random view image in "
                              f"the lower right corner. Based on these four images. {QUESTION}",
    ("view", "four", "horizontal"): "The original image in the first place from the left, the left view image in the "
                                    "second place from the left, the right view image in the third place from the "
                                    "left, and the random view image in the fourth place from the left. Based on "
                                    f"these four images. {QUESTION}",
    ("view", "origin+left", "vertical"): "The original image at the top and the left view image at the bottom. "
                                         f"Based on these two images. {QUESTION}",
}
VIEW_SETS = {"four": FOUR, "origin": FOUR[:1], "left": FOUR[1:2], "origin+left": FOUR[:2]}


@pytest.fixture(scope="module")
def sample():
    s = SyntheticDataset(num_scenes=4, splits=["train", "dev", "test"])[0]
    assert s.statement == STATEMENT
    return s


@pytest.mark.parametrize("key", SNAPSHOTS, ids=["-".join(k) for k in SNAPSHOTS])
def test_prompt_snapshot(sample, key):
    template, views, layout = key
    builder = PromptBuilder(**OmegaConf.load(f"{CONFIG_PATH}/prompt/{template}.yaml"))
    poses = resolve_poses(VIEW_SETS[views], sample.id, 0)
    assert builder(sample, poses, Layout(layout)) == SNAPSHOTS[key]


def test_join_words():
    assert join_words(["a"]) == "a"
    assert join_words(["a", "b"]) == "a and b"
    assert join_words(["a", "b", "c"]) == "a, b, and c"


# The exact model input of every backbone config for one prompt. LLaVA-1.5 configs share the conversation
# format the tiny LLaVA's processor carries (llava-hf's "USER: <image>\n... ASSISTANT:"); configs without a chat
# template state theirs in prompt_format; the others take their family's tiny processor, whose chat template is the
# real checkpoint's.
PROMPT = 'Is the following statement about the image true? "The cat is on the mat." Answer yes or no.'
QWEN2_VL_INPUT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                  f"<|vision_start|><|image_pad|><|vision_end|>{PROMPT}<|im_end|>\n<|im_start|>assistant\n")
LLAVA_ONEVISION_INPUT = f"<|im_start|>user\n<image>\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n"
BACKBONE_INPUTS = {
    "tiny_llava": f"USER: <image>\n{PROMPT} ASSISTANT:",
    "llava15_7b": f"USER: <image>\n{PROMPT} ASSISTANT:",
    "llava15_13b": f"USER: <image>\n{PROMPT} ASSISTANT:",
    "instructblip_vicuna7b": PROMPT,
    "tiny_instructblip": PROMPT,
    "paligemma2_3b": f"<image>answer en {PROMPT}",
    "tiny_paligemma": f"<image>answer en {PROMPT}",
    "tiny_llava_next": f"[INST] <image>\n{PROMPT} [/INST]",
    "llava_next_mistral_7b": f"[INST] <image>\n{PROMPT} [/INST]",
    "tiny_smolvlm": f"<|im_start|>User:<image>{PROMPT}<end_of_utterance>\nAssistant:",
    "smolvlm": f"<|im_start|>User:<image>{PROMPT}<end_of_utterance>\nAssistant:",
    "tiny_qwen25_vl": QWEN2_VL_INPUT,
    "qwen25_vl_3b": QWEN2_VL_INPUT,
    "qwen25_vl_7b": QWEN2_VL_INPUT,
    "tiny_llava_onevision": LLAVA_ONEVISION_INPUT,
    "llava_onevision_7b": LLAVA_ONEVISION_INPUT,
}
CONTRASTIVE = {"tiny_clip", "clip_vit_l14_336"}  # no prompt: captions are compared with the image


def test_every_backbone_config_has_a_model_input_snapshot():
    from pathlib import Path

    names = {p.stem for p in (Path(CONFIG_PATH) / "backbone").glob("*.yaml")}
    assert names == set(BACKBONE_INPUTS) | CONTRASTIVE


TINY_OF = {"tiny_llava": "tiny_llava", "llava15_7b": "tiny_llava", "llava15_13b": "tiny_llava",
           "tiny_llava_next": "tiny_llava_next", "llava_next_mistral_7b": "tiny_llava_next",
           "tiny_smolvlm": "tiny_smolvlm", "smolvlm": "tiny_smolvlm",
           "tiny_qwen25_vl": "tiny_qwen25_vl", "qwen25_vl_3b": "tiny_qwen25_vl", "qwen25_vl_7b": "tiny_qwen25_vl",
           "tiny_llava_onevision": "tiny_llava_onevision", "llava_onevision_7b": "tiny_llava_onevision"}


def _needs_torchvision(name: str) -> bool:
    return name in TINY_OF and OmegaConf.load(f"{CONFIG_PATH}/backbone/{TINY_OF[name]}.yaml").tiny_random \
        in NEEDS_TORCHVISION


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.torchvision) if _needs_torchvision(n) else n
                                  for n in sorted(BACKBONE_INPUTS)])
def test_backbone_model_input_snapshot(name):
    from conftest import SESSION_CACHE

    from zerovlm.backbones.hf import HFVisionLanguageModel

    cfg = OmegaConf.load(f"{CONFIG_PATH}/backbone/{name}.yaml")
    if cfg.get("prompt_format"):
        assert cfg.prompt_format.format(prompt=PROMPT) == BACKBONE_INPUTS[name]
    else:  # the conversation format from the chat template of the family's tiny processor
        tiny = OmegaConf.load(f"{CONFIG_PATH}/backbone/{TINY_OF[name]}.yaml")
        backbone = HFVisionLanguageModel(name=tiny.name, model=str(SESSION_CACHE / "models" / tiny.name),
                                         tiny_random=tiny.tiny_random, multi_image=tiny.get("multi_image", False))
        assert backbone.chat_text(PROMPT) == BACKBONE_INPUTS[name]
