"""Tiny twins of real checkpoints, built from the checkpoints' own non-weight files.

A twin is a folder that `from_pretrained` loads exactly as it loads the real checkpoint: every non-weight file of
the real checkpoint copied unchanged (processor, image processor, tokenizer, chat template, special tokens,
generation config), its config.json with only the sizes shrunk (hidden sizes, layers, heads; image and patch sizes
stay, so the number of image tokens is the real one: 576 for LLaVA-1.5), and random weights. What the real files
do that this project did not expect is then what the tests see.

The real files come from a folder per checkpoint named `org__name` (`llava-hf__llava-1.5-7b-hf`) under
$ZEROVLM_CHECKPOINT_FILES, or `../shared/checkpoints` beside the repository. Where a file of the real checkpoint
is not at hand, the twin writes a stand-in, and `twin.json` in the folder says which files are real and which are
stand-ins, and why each stand-in is what it is (`STAND_INS` below; the README lists them). A checkpoint with no
files at hand is the family's tiny model of this project (`tiny.py`), every file a stand-in.

Weights are drawn with std 0.2 (tiny.INIT_STD) rather than the checkpoint's initializer range, so that a twin's
answers vary with its input; config.json keeps the checkpoint's own value. Twins answer at chance.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from zerovlm.backbones.tiny import BUILDERS, INIT_STD, NEEDS_TORCHVISION, build_tiny_tokenizer
from zerovlm.files import save_dir_atomic

FILES_ENV = "ZEROVLM_CHECKPOINT_FILES"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt", ".gguf")

TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2}
VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}


def checkpoint_files_root() -> Path:
    """Where the real checkpoints' non-weight files are: $ZEROVLM_CHECKPOINT_FILES, else ../shared/checkpoints
    beside the repository."""
    if os.environ.get(FILES_ENV):
        return Path(os.environ[FILES_ENV])
    return Path(__file__).resolve().parents[2].parent / "shared" / "checkpoints"


def files_of(model: str) -> Path:
    """The folder of a hub id's real non-weight files (it may not exist)."""
    return checkpoint_files_root() / model.replace("/", "__")


# ---- shrinking config.json: only sizes change; image size, patch size, vocabulary and special ids stay ----

def _shrink_llava(config: dict) -> None:
    # Llama/Mistral defaults fill what llava-hf's text_config leaves out: give every size explicitly
    config.setdefault("text_config", {}).update({**TEXT, "num_key_value_heads": 4})
    config.setdefault("vision_config", {}).update({**VISION, "projection_dim": 32})


def _shrink_qwen2_5_vl(config: dict) -> None:
    # Qwen2.5-VL's config.json keeps the language model's sizes at the top level (transformers 4.41's format)
    text = config["text_config"] if "text_config" in config else config
    text.update({**TEXT, "max_window_layers": 2})
    rope = text.get("rope_scaling") or text.get("rope_parameters")
    if rope and "mrope_section" in rope:
        rope["mrope_section"] = [2, 3, 3]  # head_dim 16: 8 rotary frequencies (real: 128, [16, 24, 24])
    config["vision_config"].update({"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
                                      "out_hidden_size": TEXT["hidden_size"], "fullatt_block_indexes": [1]})


def _shrink_instructblip(config: dict) -> None:
    config["vision_config"].update(VISION)
    config["qformer_config"].update({**VISION, "encoder_hidden_size": VISION["hidden_size"]})
    config["text_config"].update({**TEXT, "num_key_value_heads": 4})


def _shrink_idefics3(config: dict) -> None:
    config["vision_config"].update(VISION)
    config["text_config"].update({**TEXT, "num_key_value_heads": 4})


def _shrink_clip(config: dict) -> None:
    config["text_config"].update(VISION)
    config["vision_config"].update(VISION)
    config["projection_dim"] = 16


# ---- stand-ins for files not at hand, each saying what it is ----

def _llama_tokenizer(folder: Path, added: list[tuple[str, str | None]]):
    """The tokenizer of `folder` (a sentencepiece tokenizer.model, read by transformers' Llama tokenizer), with
    the `added` (token, special-token role or None) appended in order, as the checkpoint's conversion added them."""
    from transformers import AutoTokenizer, LlamaTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, TypeError):
        tokenizer = LlamaTokenizer(vocab_file=str(folder / "tokenizer.model"), legacy=False)
    for token, role in added:
        if role is None:
            tokenizer.add_tokens([token], special_tokens=True)
        else:
            tokenizer.add_special_tokens({role: token})
    return tokenizer


def _save_apart(out: Path, processor_class: str, image_processor, tokenizer, chat_template: str | None = None,
                **processor: object) -> None:
    """A processor's parts in the files a hub checkpoint has (preprocessor_config.json, the tokenizer's files,
    chat_template.jinja, processor_config.json), so that the real files, copied over them, replace each part."""
    image_processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if chat_template is not None:
        (out / "chat_template.jinja").write_text(chat_template)
    (out / "processor_config.json").write_text(json.dumps({"processor_class": processor_class, **processor},
                                                          indent=2) + "\n")


def _stand_in_llava_next(real: Path, out: Path) -> dict[str, str]:
    """llava-hf/llava-v1.6-mistral-7b-hf: config.json and tokenizer.model are real; the rest as llava-hf's
    conversion script (convert_llava_next_weights_to_hf.py) makes them."""
    from zerovlm.backbones.tiny import LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE
    from zerovlm.hf_classes import image_processor_class

    config = json.loads((real / "config.json").read_text())
    tokenizer = _llama_tokenizer(real, [("<image>", None), ("<pad>", "pad_token")])
    image_processor = image_processor_class("LlavaNextImageProcessor")(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}, resample=3,
        image_grid_pinpoints=config["image_grid_pinpoints"], image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711])
    _save_apart(out, "LlavaNextProcessor", image_processor, tokenizer, LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE,
                image_token="<image>", patch_size=14, vision_feature_select_strategy="default",
                num_additional_image_tokens=1)
    why = {"tokenizer": "built by transformers' Llama tokenizer from the real tokenizer.model, <image> (32000) and "
                        "<pad> (32001) added as the config's ids say",
           "preprocessor": "LlavaNextImageProcessor at 336 with the config's image_grid_pinpoints, CLIP mean/std, "
                           "bicubic (llava-hf's conversion script)",
           "processor": "patch_size 14, vision_feature_select_strategy default, 1 additional image token",
           "chat_template": "Mistral's [INST] format as llava-hf's conversion script writes it (zerovlm.backbones."
                            "tiny.LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE), not the checkpoint's own file"}
    return why


INSTRUCTBLIP_CONFIG = {  # transformers' InstructBlipConfig defaults with Vicuna-7B (convert_instructblip_...py)
    "model_type": "instructblip", "architectures": ["InstructBlipForConditionalGeneration"],
    "num_query_tokens": 32, "image_token_index": 32001,
    "vision_config": {"model_type": "instructblip_vision_model", "image_size": 224, "patch_size": 14,
                      "hidden_size": 1408, "intermediate_size": 6144, "num_hidden_layers": 39,
                      "num_attention_heads": 16, "layer_norm_eps": 1e-6, "qkv_bias": True},
    "qformer_config": {"model_type": "instructblip_qformer", "vocab_size": 30523, "hidden_size": 768,
                       "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                       "encoder_hidden_size": 1408, "cross_attention_frequency": 2, "pad_token_id": 0},
    "text_config": {"model_type": "llama", "vocab_size": 32002, "hidden_size": 4096, "intermediate_size": 11008,
                    "num_hidden_layers": 32, "num_attention_heads": 32, "pad_token_id": 32000,
                    "bos_token_id": 1, "eos_token_id": 2, "max_position_embeddings": 2048},
}


def _stand_in_instructblip(real: Path, out: Path) -> dict[str, str]:
    """Salesforce/instructblip-vicuna-7b: processor_config.json, tokenizer.model and tokenizer_config.json are
    real; the rest as transformers' conversion script (convert_instructblip_original_to_pytorch.py) makes them."""
    from transformers import BertTokenizerFast

    from zerovlm.hf_classes import image_processor_class

    tokenizer = _llama_tokenizer(real, [("[PAD]", "pad_token")])  # the conversion script adds [PAD] (32000)
    # BLIP-2's Q-Former tokenizer is bert-base-uncased with a [DEC] token; its vocab.txt is not at hand
    qformer = BertTokenizerFast(vocab_file=str(_wordpiece_vocab(out)), do_lower_case=True, truncation_side="left")
    image_processor = image_processor_class("BlipImageProcessor")(
        size={"height": 224, "width": 224}, resample=3, image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711])
    # saved apart, as in the checkpoint (its processor_config.json, which is real, names neither)
    image_processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    qformer.save_pretrained(out / "qformer_tokenizer")
    (out / ".qformer_vocab.txt").unlink()
    (out / "config.json").write_text(json.dumps(INSTRUCTBLIP_CONFIG, indent=2) + "\n")
    return {"config": "transformers' InstructBlipConfig with Vicuna-7B's Llama sizes (the conversion script)",
            "preprocessor": "BlipImageProcessor: 224 x 224 bicubic, no crop, CLIP mean/std (the conversion script)",
            "tokenizer": "the real tokenizer.model with [PAD] added (32000) as the conversion script does; "
                         "the processor adds <image> (32001)",
            "qformer_tokenizer": "a WordPiece vocabulary of this project's prompt words in place of "
                                 "bert-base-uncased's (not at hand)"}


def _wordpiece_vocab(out: Path) -> Path:
    from zerovlm.backbones.tiny import CORPUS

    words = sorted({w.strip('.,?"').lower() for line in CORPUS for w in line.split()} - {""})
    path = out / ".qformer_vocab.txt"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *"abcdefghijklmnopqrstuvwxyz",
                               "##s", "?", ".", ",", '"']) + "\n")
    return path


def _stand_in_smolvlm(real: Path, out: Path) -> dict[str, str]:
    """HuggingFaceTB/SmolVLM-Instruct: processor_config.json (image_seq_len 81) is real; the rest at SmolVLM's
    real image sizes (384 px tiles of 14 px patches, pixel shuffle 3: 81 tokens a tile) with this project's
    tokenizer and the family's conversation format."""
    from zerovlm.backbones.tiny import SMOLVLM_CHAT_TEMPLATE
    from zerovlm.hf_classes import image_processor_class

    tokenizer = build_tiny_tokenizer(image_token=False)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<fake_token_around_image>", "<global-img>",
                                                                "<end_of_utterance>", "<|im_start|>"]})
    image_processor = image_processor_class("Idefics3ImageProcessor")(
        size={"longest_edge": 1536}, max_image_size={"longest_edge": 384}, do_image_splitting=True)
    _save_apart(out, "Idefics3Processor", image_processor, tokenizer, SMOLVLM_CHAT_TEMPLATE, image_seq_len=81)
    config = {"model_type": "idefics3", "architectures": ["Idefics3ForConditionalGeneration"], "scale_factor": 3,
              "image_token_id": tokenizer.convert_tokens_to_ids("<image>"),
              "vision_config": {"model_type": "idefics3_vision", "image_size": 384, "patch_size": 14,
                                "hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                                "num_attention_heads": 16},
              "text_config": {"model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 2048,
                              "num_hidden_layers": 24, "num_attention_heads": 32,
                              "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
                              "eos_token_id": tokenizer.eos_token_id}}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return {"config": "Idefics3 at SmolVLM-Instruct's image sizes (384 px, patch 14, scale factor 3)",
            "preprocessor": "Idefics3ImageProcessor: longest edge 1536, tiles of 384, splitting on",
            "tokenizer": "this project's byte-level BPE with SmolVLM's special tokens (SmolLM's is not at hand)",
            "chat_template": "the Idefics3 'User:' / 'Assistant:' format (zerovlm.backbones.tiny."
                             "SMOLVLM_CHAT_TEMPLATE), not the checkpoint's own file"}


def _stand_in_clip(real: Path, out: Path) -> dict[str, str]:
    """openai/clip-vit-large-patch14-336: vocab.json and merges.txt (rebuilt from OpenAI's BPE file) are at hand;
    the image processor is LLaVA-1.5's real one (this is its vision tower), the rest transformers' CLIP files."""
    from transformers import CLIPTokenizer

    from zerovlm.hf_classes import image_processor_class

    tokenizer = CLIPTokenizer.from_pretrained(real, model_max_length=77)
    llava = files_of("llava-hf/llava-1.5-7b-hf") / "preprocessor_config.json"
    settings = json.loads(llava.read_text()) if llava.is_file() else {
        "size": {"shortest_edge": 336}, "crop_size": {"height": 336, "width": 336}, "resample": 3}
    settings = {k: v for k, v in settings.items() if k not in ("image_processor_type", "processor_class")}
    _save_apart(out, "CLIPProcessor", image_processor_class("CLIPImageProcessor")(**settings), tokenizer)
    config = {"model_type": "clip", "architectures": ["CLIPModel"], "projection_dim": 768,
              "text_config": {"model_type": "clip_text_model", "vocab_size": 49408, "hidden_size": 768,
                              "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
                              "max_position_embeddings": 77, "bos_token_id": 49406, "eos_token_id": 49407,
                              "pad_token_id": 1},
              "vision_config": {"model_type": "clip_vision_model", "image_size": 336, "patch_size": 14,
                                "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
                                "num_attention_heads": 16}}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return {"config": "CLIP ViT-L/14 at 336 px (OpenAI's model card sizes)",
            "preprocessor": "llava-hf/llava-1.5-7b-hf's real preprocessor_config.json (CLIP at 336: shortest edge "
                            "336, centre crop 336, bicubic)",
            "tokenizer": "transformers' CLIPTokenizer on the rebuilt vocab.json / merges.txt, 77 tokens"}


# hub id -> (family of tiny.py's builders, how its config.json shrinks, stand-ins for missing files)
TWINS: dict[str, tuple[str, Callable[[dict], None], Callable[[Path, Path], dict[str, str]] | None]] = {
    "llava-hf/llava-1.5-7b-hf": ("llava", _shrink_llava, None),
    "llava-hf/llava-1.5-13b-hf": ("llava", _shrink_llava, None),
    "llava-hf/llava-v1.6-mistral-7b-hf": ("llava_next", _shrink_llava, _stand_in_llava_next),
    "Salesforce/instructblip-vicuna-7b": ("instructblip", _shrink_instructblip, _stand_in_instructblip),
    "Qwen/Qwen2.5-VL-3B-Instruct": ("qwen2_5_vl", _shrink_qwen2_5_vl, None),
    "Qwen/Qwen2.5-VL-7B-Instruct": ("qwen2_5_vl", _shrink_qwen2_5_vl, None),
    "HuggingFaceTB/SmolVLM-Instruct": ("smolvlm", _shrink_idefics3, _stand_in_smolvlm),
    "openai/clip-vit-large-patch14-336": ("clip", _shrink_clip, _stand_in_clip),
    "google/paligemma2-3b-mix-224": ("paligemma", None, None),
    "llava-hf/llava-onevision-qwen2-7b-ov-hf": ("llava_onevision", None, None),
}


def _non_weight_files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*")
                  if p.is_file() and not p.name.endswith(WEIGHT_SUFFIXES) and p.name != "SOURCES.md")


def _random_weights(folder: Path, family: str, seed: int) -> None:
    """Random weights for the (shrunk) config.json of `folder`, saved beside it (weights files only)."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText

    config = AutoConfig.from_pretrained(folder)
    for sub in [config, *(getattr(config, k) for k in config.sub_configs)] if hasattr(config, "sub_configs") \
            else [config]:
        if sub is not None:
            sub.initializer_range = INIT_STD
    torch.manual_seed(seed)
    auto = AutoModel if family == "clip" else AutoModelForImageTextToText
    model = auto.from_config(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        for file in Path(tmp).iterdir():
            if file.name.endswith(WEIGHT_SUFFIXES) or file.name.endswith(".index.json"):
                shutil.copy2(file, folder / file.name)


def build_twin(model: str, out: Path, seed: int = 0) -> dict:
    """Write the twin of hub id `model` into the empty folder `out`; returns what twin.json says."""
    if model not in TWINS:
        raise ValueError(f"no twin recipe for {model!r}: twins exist for {sorted(TWINS)}")
    family, shrink, stand_ins = TWINS[model]
    real = files_of(model)
    real_files = _non_weight_files(real) if real.is_dir() else []
    if shrink is None or not real_files:  # nothing of the checkpoint at hand: the family's tiny model
        for part in BUILDERS[family](seed):
            part.save_pretrained(out)
        info = {"model": model, "family": family, "real_files": [], "stand_ins": {
            "all": f"no file of {model} at hand ({real}): this project's tiny {family} model (zerovlm.backbones.tiny)"}}
    else:
        why = stand_ins(real, out) if stand_ins is not None else {}
        for name in real_files:  # the real files win over every stand-in
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(real / name, out / name)
        config = json.loads((out / "config.json").read_text())
        original = copy.deepcopy(config)
        shrink(config)
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        _random_weights(out, family, seed)
        info = {"model": model, "family": family, "files_from": str(real),
                "real_files": [str(p) for p in real_files], "shrunk": _changed(original, config),
                "stand_in_files": [str(p) for p in _non_weight_files(out) if p not in real_files],
                "stand_ins": why}
    (out / "twin.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _changed(before: dict, after: dict, prefix: str = "") -> dict:
    changes = {}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            changes.update(_changed(old, value, f"{prefix}{key}."))
        elif old != value:
            changes[f"{prefix}{key}"] = [old, value]
    return changes


def ensure_twin(model: str, path: str | os.PathLike, seed: int = 0) -> Path:
    """The twin of hub id `model` at `path`, written there unless it is already (atomically)."""
    family = TWINS[model][0] if model in TWINS else None
    if family in NEEDS_TORCHVISION:
        from zerovlm.hf_classes import require_torchvision

        require_torchvision(f"the twin of {model}")
    return save_dir_atomic(path, lambda tmp: build_twin(model, tmp, seed), marker="twin.json")


# ---- Zero-1-to-3: the diffusers-format checkpoints' model_index.json, scheduler, feature extractor and
# cc_projection configs are at hand; the UNet's, VAE's and image encoder's configs are not ----

ZERO123 = ("kxic/zero123-165000", "kxic/zero123-xl", "kxic/stable-zero123")


def build_zero123_twin(model: str, out: Path, seed: int = 0) -> dict:
    """A Zero-1-to-3 twin at the real interface sizes (256 px in and out, 4 latent channels at 1/8, a 768-wide
    CLIP image embedding + 4 pose values into cc_projection, the input latents concatenated: 8 UNet channels),
    every weight random; the real non-weight files copied unchanged."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from zerovlm.generators.zero123 import CCProjection

    real = files_of(model)
    real_files = _non_weight_files(real) if real.is_dir() else []
    torch.manual_seed(seed)
    embed = 768
    parts = {
        "unet": UNet2DConditionModel(
            sample_size=32, in_channels=8, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=embed, attention_head_dim=8,
            norm_num_groups=8),
        "vae": AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                             up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 16, 16),
                             latent_channels=4, layers_per_block=1, norm_num_groups=4, sample_size=256),
        "image_encoder": CLIPVisionModelWithProjection(CLIPVisionConfig(
            **VISION, image_size=224, patch_size=14, projection_dim=embed)),
    }
    for name, part in parts.items():
        part.eval().save_pretrained(out / name)
    if Path("cc_projection/config.json") in real_files:  # its weights; the config is the real one (772 -> 768)
        CCProjection.from_config(json.loads((real / "cc_projection" / "config.json").read_text())).save_pretrained(
            out / "cc_projection")
    else:
        CCProjection(embed + 4, embed).save_pretrained(out / "cc_projection")
    for name in real_files:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(real / name, out / name)
    missing = [f for f in ("model_index.json", "scheduler/scheduler_config.json",
                           "feature_extractor/preprocessor_config.json") if Path(f) not in real_files]
    if missing:
        raise FileNotFoundError(f"the twin of {model} needs the real {', '.join(missing)} in {real}")
    info = {"model": model, "family": "zero123", "files_from": str(real), "real_files": [str(p) for p in real_files],
            "stand_in_files": ["unet/config.json", "vae/config.json", "image_encoder/config.json"],
            "stand_ins": {"unet": "an 8-channel UNet2DConditionModel, 2 levels of 32 and 64, cross-attention 768",
                          "vae": "an AutoencoderKL with 4 levels (1/8 latents, 4 channels) of 8 to 16 channels",
                          "image_encoder": "a 2-layer CLIP vision tower at 224 px, patch 14, projection 768"}}
    (out / "twin.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def ensure_zero123_twin(model: str, path: str | os.PathLike, seed: int = 0) -> Path:
    return save_dir_atomic(path, lambda tmp: build_zero123_twin(model, tmp, seed), marker="twin.json")
