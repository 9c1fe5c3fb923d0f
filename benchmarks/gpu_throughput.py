"""Throughput on a GPU at the real model sizes, with random weights (nothing is downloaded).

    python benchmarks/gpu_throughput.py [--only llava|zero123] [--samples 512] [--images 64] [--compile]
    python benchmarks/gpu_throughput.py --tiny --device cpu --samples 8 --images 4     (checks the script, seconds)

LLaVA-1.5-7B (LlavaForConditionalGeneration with llava-hf/llava-1.5-7b-hf's config: CLIP ViT-L/14-336 tower,
Llama-2-7B text model, 576 image tokens), built on the device in float16 and saved with a tokenizer and a
LlavaProcessor (CLIP image processor at 336, LLaVA's chat template), likelihood scoring of VSR-like statements
about COCO-sized (640 x 480) JPEG placeholders:
  (a) model alone: inputs prepared beforehand (processor output already on the device), forward only, batch 16;
  (b) hand loop: open the image, chat template, processor, forward, p(yes), batch 16;
  (c) zerovlm: a job through zerovlm.run.evaluate, config composed with Hydra's compose API
      (backbone=llava15_7b backbone.model=<saved folder> dataset=vsr_random on the placeholders, views=origin,
      prompt=plain, trainer=gpu);
  (d) the same job on a What'sUp-like release: 4 statements per image.
It prints samples/s, job time over model-alone and hand-loop time, TFLOP per sample (FlopCounterMode on one batch),
achieved TFLOP/s and its share of the card's dense fp16/bf16 peak, and where each job's time goes (the "seconds"
of its metrics.json). The jobs' samples/s leave out their setup (loading the checkpoint), which is shown apart.

Zero-1-to-3 at zero123-xl's sizes (SD-1.x UNet with 8 input channels, SD VAE, CLIP ViT-L/14 image encoder with
projection, cc_projection 772 -> 768), 256 px, 50 DDIM steps (ldm's list: 49), guidance 3, eta 1, float16:
  sampler alone: Zero123Pipeline.__call__ on prepared CLIP embeddings and VAE latents, batch 48 and 96;
  zerovlm stage=render, views=four (3 generated views per image) at generator.batch_size 12 and 48;
  with --compile also the sampler and the render job with torch.compile (generator.compile=true), compile time
  shown apart.
Views/s, render time over sampler time at batch 48, TFLOP per view.

Writes everything to --out (JSON) and prints a markdown table for the README. --tiny builds the tiny random
models instead (and 2 DDIM steps at 64 px): it checks the script end to end on a CPU, its numbers mean nothing.

The GPU machine may lack hydra-core, omegaconf or diffusers: they are imported only where needed, and the script
says at once which are missing for the parts asked for.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("zerovlm") is None:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

PARTS = ("llava", "zero123")
# (module, package to install, what needs it)
JOBS = [("lightning", "lightning", "the zerovlm jobs"), ("hydra", "hydra-core", "the zerovlm jobs"),
        ("omegaconf", "omegaconf", "the zerovlm jobs"), ("antlr4", "antlr4-python3-runtime", "omegaconf"),
        ("matplotlib", "matplotlib", "the zerovlm jobs (zerovlm.run imports the report's pictures)")]
REQUIREMENTS = {
    "llava": [("torch", "torch", "everything"), ("transformers", "transformers", "the models"),
              ("PIL", "pillow", "the images"), ("yaml", "pyyaml", "the prompt's wording"), *JOBS],
    "zero123": [("torch", "torch", "everything"), ("transformers", "transformers", "the CLIP image encoder"),
                ("diffusers", "diffusers", "the UNet and the VAE"), ("PIL", "pillow", "the images"), *JOBS],
}

# Dense (no sparsity) fp16/bf16 tensor-core peaks in TFLOP/s, by a piece of torch.cuda.get_device_name; the first
# match counts. None: a card whose peak is not in this table.
PEAK_TFLOPS = [("H100 PCIe", 756), ("H100 NVL", None), ("H100", 989), ("H200", 989), ("A100", 312), ("L40S", 362),
               ("RTX 4090", 165)]

# What a run measures: the real sizes, or the tiny models that check the script on a CPU.
PROFILES = {
    "real": {"llava_batch": 16, "size": 256, "steps": 50, "sampler_batches": (48, 96), "render_batches": (12, 48),
             "images": 64},
    "tiny": {"llava_batch": 4, "size": 32, "steps": 2, "sampler_batches": (4, 12), "render_batches": (4, 12),
             "images": 4},
}
YES_WORDS = ["yes", "Yes", "YES", " yes", " Yes"]  # the backbone config's defaults (zerovlm/config.py)
NO_WORDS = ["no", "No", "NO", " no", " No"]
IMAGE_SIZE = (640, 480)  # a COCO photo, as VSR's are

# VSR-like statements: COCO objects and VSR relations, "The <subject> is <relation> the <object>."
OBJECTS = ["cat", "dog", "person", "bed", "couch", "chair", "dining table", "laptop", "pizza", "umbrella", "suitcase",
           "teddy bear", "bench", "car", "truck", "bicycle", "motorcycle", "toilet", "sink", "oven", "cake", "book",
           "vase", "bowl", "cup", "horse", "sheep", "cow", "elephant", "giraffe", "train", "boat"]
RELATIONS = ["on", "under", "left of", "right of", "in front of", "behind", "next to", "above", "below", "near",
             "far from", "touching", "beside", "on top of", "at the right side of", "at the left side of", "inside",
             "beneath", "adjacent to", "facing"]
# What'sUp subset A: four photos per object pair, one per preposition, four captions each (the first true).
WHATSUP = [("on", "on"), ("under", "under"), ("left_of", "to the left of"), ("right_of", "to the right of")]


def peak_tflops(card: str | None) -> float | None:
    """The card's dense fp16/bf16 peak (TFLOP/s) from PEAK_TFLOPS, or None where it is not known."""
    if not card:
        return None
    for piece, peak in PEAK_TFLOPS:
        if piece.lower() in card.lower():
            return peak
    return None


def missing_packages(parts, find_spec=importlib.util.find_spec) -> list[str]:
    """'package (for what)' for each module the given parts need that does not import here."""
    out = []
    for part in parts:
        for module, package, what in REQUIREMENTS[part]:
            line = f"{package} (for {what})"
            if find_spec(module) is None and line not in out:
                out.append(line)
    return out


def check_environment(args) -> str | None:
    """Why this run cannot start, or None."""
    missing = missing_packages(args.parts)
    if missing:
        packages = " ".join(sorted({m.split(" ")[0] for m in missing}))
        return ("missing Python packages for --only " + ",".join(args.parts) + ": " + ", ".join(missing)
                + f". Install them (pip install {packages}) or measure the other part with --only.")
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return ("no GPU here (torch.cuda.is_available() is False): run with --tiny --device cpu to check the script; "
                "the figures need a GPU.")
    if not args.tiny and not args.device.startswith("cuda"):
        return (f"--device {args.device}: the real sizes (7B parameters) are measured on a CUDA GPU; "
                "run with --tiny to check the script on a CPU.")
    return None


def import_or_explain(module: str, package: str, what: str):
    """The module, or an ImportError that says which package to install for what."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{what} needs {package}, which does not import here ({error}): pip install {package}"
                          ) from None


# ---------------------------------------------------------------------------------------------------------- data

def placeholder_jpeg(path: Path, seed: int) -> None:
    """A 640 x 480 JPEG with smooth colour and some grain: decodes like a photo of that size."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize(IMAGE_SIZE,
                                                                                        Image.Resampling.BICUBIC)
    pixels = np.asarray(coarse).astype(np.int16) + rng.integers(-12, 13, (IMAGE_SIZE[1], IMAGE_SIZE[0], 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path, quality=90)


def vsr_statement(k: int) -> tuple[str, str, str, bool]:
    """(subject, relation, object, label) of the k-th VSR-like statement (all different)."""
    n, r = len(OBJECTS), len(RELATIONS)
    subject = OBJECTS[k % n]
    relation = RELATIONS[(k // n) % r]
    obj = OBJECTS[(k % n + 1 + (k // (n * r)) % (n - 1)) % n]
    return subject, relation, obj, k % 2 == 0


def make_vsr_like(root: Path, n: int) -> tuple[Path, Path, list[dict]]:
    """VSR's test.jsonl for n statements, one COCO-named placeholder photo each: (annotations dir, image root,
    records)."""
    annotations, coco = root / "vsr" / "random", root / "coco"
    annotations.mkdir(parents=True, exist_ok=True)
    records = []
    for k in range(n):
        subject, relation, obj, label = vsr_statement(k)
        image = f"{100000 + k:012d}.jpg"
        placeholder_jpeg(coco / "val2017" / image, seed=k)
        records.append({"image": image, "image_link": f"http://images.cocodataset.org/val2017/{image}",
                        "caption": f"The {subject} is {relation} the {obj}.", "label": int(label),
                        "relation": relation, "path": str(coco / "val2017" / image)})
    (annotations / "test.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "path"}) + "\n"
                                                    for r in records))
    return annotations, coco, records


def make_whatsup_like(root: Path, n: int) -> Path:
    """A What'sUp subset-A release (its json and controlled_images/) with at least n statements, 4 per photo."""
    images = -(-n // 4)
    pairs = [(a, b) for a in OBJECTS for b in OBJECTS if a != b][:-(-images // 4)]
    records = []
    for a, b in pairs:
        for tag, words in WHATSUP:
            name = f"{a.replace(' ', '-')}_{tag}_{b.replace(' ', '-')}.jpeg"
            placeholder_jpeg(root / "controlled_images" / name, seed=10_000 + len(records))
            others = [w for t, w in WHATSUP if t != tag]
            records.append({"image_path": f"data/controlled_images/{name}",
                            "caption_options": [f"A {a} {w} a {b}" for w in [words, *others]]})
    (root / "controlled_images_dataset.json").write_text(json.dumps(records))
    return root


def plain_question() -> str:
    """The question of prompt=plain, as the jobs read it (conf/prompt/plain.yaml)."""
    import yaml

    return yaml.safe_load((ROOT / "conf" / "prompt" / "plain.yaml").read_text())["question"]


# -------------------------------------------------------------------------------------------------------- models

@contextmanager
def building_on(device, dtype):
    """Modules constructed inside are made on `device` in `dtype` (no copy through the host)."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(previous)


def build_llava(device, dtype, tiny: bool):
    """(model, processor): llava-hf/llava-1.5-7b-hf's architecture with random weights, or the tiny LLaVA.
    The tokenizer is zerovlm's tiny one (its <image> id is the config's image_token_index); the embedding and
    output layers keep LLaVA-1.5's 32064 rows, so the model computes what the real one does."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    from zerovlm.backbones.tiny import LLAVA_CHAT_TEMPLATE, build_tiny_llava, build_tiny_tokenizer
    from zerovlm.hf_classes import image_processor_class

    if tiny:
        model, processor = build_tiny_llava()
        return model.to(device, dtype).eval(), processor
    tokenizer = build_tiny_tokenizer()
    image_processor = image_processor_class("CLIPImageProcessor")(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=LLAVA_CHAT_TEMPLATE)
    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                              image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu")
    text = LlamaConfig(vocab_size=32064, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                       rms_norm_eps=1e-5, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id)
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"), projector_hidden_act="gelu",
                         vision_feature_layer=-2, vision_feature_select_strategy="default", image_seq_length=576)
    with building_on(device, dtype):
        model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, processor


def build_zero123(device, dtype, tiny: bool):
    """A Zero123Pipeline at kxic/zero123-xl's sizes with random weights, or the tiny one."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from zerovlm.generators.tiny import build_tiny_zero123
    from zerovlm.generators.zero123 import CCProjection, Zero123Pipeline, reference_scheduler
    from zerovlm.hf_classes import image_processor_class

    if tiny:
        pipeline = build_tiny_zero123()  # float32
        for module in pipeline.modules().values():
            module.to(device)
        return pipeline
    feature_extractor = image_processor_class("CLIPImageProcessor")()  # 224, CLIP's mean and std
    scheduler = reference_scheduler()
    with building_on(device, dtype):
        unet = UNet2DConditionModel(
            sample_size=32, in_channels=8, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768,
            attention_head_dim=8, norm_num_groups=32)
        vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                            up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                            layers_per_block=2, latent_channels=4, norm_num_groups=32, sample_size=256,
                            scaling_factor=0.18215)
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, image_size=224,
            patch_size=14, projection_dim=768, hidden_act="quick_gelu"))
        cc_projection = CCProjection(772, 768)
    assert unet.dtype == dtype and next(image_encoder.parameters()).device.type == torch.device(device).type
    return Zero123Pipeline(unet=unet.eval(), vae=vae.eval(), image_encoder=image_encoder.eval(),
                           feature_extractor=feature_extractor, cc_projection=cc_projection.eval(),
                           scheduler=scheduler)


def parameters(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


# ------------------------------------------------------------------------------------------------------- helpers

def synchronize(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def free(device) -> None:
    import torch

    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()


def peak_memory_gib(device) -> float | None:
    import torch

    if torch.device(device).type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def reset_peak_memory(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def counted_flops(fn) -> int:
    """FLOPs of fn() as torch.utils.flop_counter counts them (matmuls, convolutions, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def rate_entry(count: int, seconds: float, flops_per_item: float | None, peak: float | None, **extra) -> dict:
    per_s = count / seconds
    entry = {"count": count, "seconds": round(seconds, 6), "per_s": per_s, **extra}
    if flops_per_item is not None:
        entry["tflops_per_s"] = flops_per_item * per_s / 1e12
        entry["peak_share"] = entry["tflops_per_s"] / peak if peak else None
    return entry


def conversation(prompt: str) -> list[dict]:
    """One user turn: the image, then the prompt (as zerovlm's backbone builds it)."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]


def single_token_ids(tokenizer, words) -> list[int]:
    ids = [tokenizer.encode(w, add_special_tokens=False) for w in words]
    return sorted({t[0] for t in ids if len(t) == 1})


def compose_config(overrides: list[str]):
    """The job's resolved config, composed from conf/ as `zerovlm OVERRIDES` would."""
    import_or_explain("hydra", "hydra-core", "composing a zerovlm job's config")
    import_or_explain("omegaconf", "omegaconf", "composing a zerovlm job's config")
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from zerovlm.cli import CONFIG_PATH

    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3", job_name="gpu_throughput"):
        cfg = compose(config_name="config", overrides=overrides)
    return OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))


def run_job(overrides: list[str], job_dir: Path, device, trainer: list[str]) -> tuple[dict, float]:
    """(metrics.json, wall seconds) of one zerovlm job run through zerovlm.run.evaluate."""
    from zerovlm.run import evaluate

    job_dir.mkdir(parents=True, exist_ok=True)
    cfg = compose_config([f"paths.output_dir={job_dir}", f"paths.cache_root={job_dir / 'cache'}", *trainer,
                          *overrides])
    free(device)
    start = perf_counter()
    metrics = evaluate(cfg, job_dir)
    wall = perf_counter() - start
    free(device)
    return metrics, wall


def trainer_overrides(device) -> list[str]:
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return ["trainer=gpu"] + ([f"trainer.devices=[{device.index}]"] if device.index is not None else [])
    return ["trainer=cpu"]


def job_entry(metrics: dict, wall: float, count: int, flops_per_item, peak, extra: dict, ratios: dict) -> dict:
    """A job's rate, leaving out its setup (dataset, models loaded from disk, trainer), where its time went, and
    for each other measurement in `ratios` (name: its rate) the job's time over that measurement's, per item."""
    seconds = dict(metrics["seconds"])
    stages = {k: v for k, v in seconds.items() if k not in ("setup", "total")}
    running = seconds["total"] - seconds["setup"]
    seconds["rest"] = round(running - sum(stages.values()), 4)
    entry = rate_entry(count, running, flops_per_item, peak, **extra, job_seconds=seconds,
                       wall_seconds=round(wall, 4), per_s_with_setup=count / seconds["total"])
    for name, other in ratios.items():
        entry[name] = other / entry["per_s"]
    return entry


def read_rows(job_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (job_dir / "predictions.jsonl").read_text().splitlines()]


def seconds_line(seconds: dict) -> str:
    order = ["setup", *[k for k in seconds if k not in ("setup", "rest", "total")], "rest", "total"]
    total = seconds["total"]
    return ", ".join(f"{k} {seconds[k]:.2f} s" + ("" if k in ("setup", "total") else
                                                  f" ({100 * seconds[k] / max(total - seconds['setup'], 1e-9):.0f}%)")
                     for k in order if k in seconds)


def say(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------------------------------------- LLaVA

def expand2square(image, colour):
    """LLaVA-1.5's expand2square (llava/mm_utils.py): the picture centred on a square of `colour`."""
    from PIL import Image

    width, height = image.size
    if width == height:
        return image
    square = Image.new(image.mode, (max(width, height),) * 2, colour)
    square.paste(image, ((max(width, height) - width) // 2, (max(width, height) - height) // 2))
    return square


def measure_llava(args, profile: dict, work: Path, peak) -> dict:
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoProcessor

    device, dtype = args.device, args.torch_dtype
    batch = profile["llava_batch"]
    say(f"LLaVA: {args.samples} VSR-like statements, one 640 x 480 JPEG each; building the model ...")
    annotations, coco, records = make_vsr_like(work / "data" / "llava", args.samples)
    start = perf_counter()
    model, processor = build_llava(device, dtype, args.tiny)
    synchronize(device)
    built = perf_counter() - start
    folder = work / "llava"
    start = perf_counter()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    saved = perf_counter() - start
    n_params = parameters([model])
    say(f"  {n_params / 1e9:.2f} B parameters, built in {built:.1f} s on {device}, saved in {saved:.1f} s")

    # as LLaVA-1.5's own code (and the llava15_7b config) feeds it: the PIL image processor, pictures padded to a
    # square with its mean colour
    processor = AutoProcessor.from_pretrained(
        folder, image_processor=AutoImageProcessor.from_pretrained(folder, backend="pil"))
    processor.tokenizer.padding_side = "left"
    mean = tuple(int(255 * m) for m in processor.image_processor.image_mean)
    tokenizer = processor.tokenizer
    yes, no = single_token_ids(tokenizer, YES_WORDS), single_token_ids(tokenizer, NO_WORDS)
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    question = plain_question()
    texts = [processor.apply_chat_template(conversation(question.format(statement=r["caption"])),
                                           add_generation_prompt=True) for r in records]
    chunks = [list(range(i, min(i + batch, len(records)))) for i in range(0, len(records), batch)]

    def prepare(idx):
        images = []
        for i in idx:
            with Image.open(records[i]["path"]) as image:
                images.append(expand2square(image.convert("RGB"), mean))
        inputs = processor(images=images, text=[texts[i] for i in idx], return_tensors="pt", padding=True)
        inputs = inputs.to(device)
        inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
        return inputs

    @torch.no_grad()
    def p_yes(inputs) -> torch.Tensor:
        logp = model(**inputs, logits_to_keep=1).logits[:, -1].float().log_softmax(-1)
        return (logp[:, yes].logsumexp(-1) - logp[:, no].logsumexp(-1)).sigmoid()

    # (a) model alone: every batch prepared and on the device beforehand
    prepared = [prepare(idx) for idx in chunks]
    image_tokens = int((prepared[0]["input_ids"][0] == image_token_id).sum())
    tokens = float(prepared[0]["attention_mask"].sum(1).float().mean())
    flops = counted_flops(lambda: p_yes(prepared[0])) / len(chunks[0])
    say(f"  {image_tokens} image tokens (id {image_token_id}), {tokens:.0f} tokens per sample, "
        f"{flops / 1e12:.3f} TFLOP per sample")
    p_yes(prepared[0])  # warm-up
    synchronize(device)
    reset_peak_memory(device)
    start = perf_counter()
    for inputs in prepared:
        p_yes(inputs)
    synchronize(device)
    model_alone = rate_entry(len(records), perf_counter() - start, flops, peak, batch_size=batch,
                             peak_memory_gib=peak_memory_gib(device))
    prepared = None  # free the device
    say(f"  (a) model alone:  {model_alone['per_s']:.2f} samples/s")

    # (b) hand loop: open, template, processor, forward
    with torch.no_grad():
        p_yes(prepare(chunks[0]))  # warm-up
    synchronize(device)
    start = perf_counter()
    hand_p = []
    for idx in chunks:
        batch_texts = [processor.apply_chat_template(conversation(question.format(statement=records[i]["caption"])),
                                                     add_generation_prompt=True) for i in idx]
        assert batch_texts == [texts[i] for i in idx]
        hand_p += p_yes(prepare(idx)).tolist()
    synchronize(device)
    hand = rate_entry(len(records), perf_counter() - start, flops, peak, batch_size=batch)
    hand["time_over_model_alone"] = model_alone["per_s"] / hand["per_s"]
    say(f"  (b) hand loop:    {hand['per_s']:.2f} samples/s")
    model = None  # the jobs load their own copy
    free(device)

    # (c) zerovlm, VSR-like: one statement per image
    backbone = ["backbone=llava15_7b", f"backbone.model={folder}", f"backbone.dtype={args.dtype_name}",
                f"backbone.batch_size={batch}", f"num_workers={args.num_workers}", "views=origin", "layout=grid",
                "prompt=plain", "generator=oracle"]
    trainer = trainer_overrides(device)
    vsr = ["dataset=vsr_random", f"dataset.annotations_dir={annotations}", f"dataset.image_root={coco}",
           "dataset.splits=[test]"]
    metrics, wall = run_job([*backbone, *vsr], work / "jobs" / "vsr", device, trainer)
    assert metrics["n"] == len(records), metrics["n"]
    ratios = {"time_over_model_alone": model_alone["per_s"], "time_over_hand_loop": hand["per_s"]}
    job = job_entry(metrics, wall, len(records), flops, peak, {"batch_size": batch}, ratios)
    by_image = {r["image"]: r for r in read_rows(work / "jobs" / "vsr")}
    job["max_abs_p_yes_difference_from_hand_loop"] = max(
        abs(by_image[rec["image"]]["p_yes"] - p) for rec, p in zip(records, hand_p, strict=True))
    job["model_input_equals_hand_loop"] = all(by_image[rec["image"]]["model_input"] == t
                                              for rec, t in zip(records, texts, strict=True))
    say(f"  (c) zerovlm job:  {job['per_s']:.2f} samples/s (setup {job['job_seconds']['setup']:.1f} s apart); "
        f"p_yes within {job['max_abs_p_yes_difference_from_hand_loop']:.1e} of the hand loop's")

    # (d) zerovlm, What'sUp-like: four statements per image
    whatsup = make_whatsup_like(work / "data" / "llava" / "whatsup", args.samples)
    overrides = [*backbone, "dataset=whatsup_a", f"paths.whatsup_dir={whatsup}", "dataset.splits=[dev,test]",
                 f"dataset.limit={args.samples}"]
    metrics, wall = run_job(overrides, work / "jobs" / "whatsup", device, trainer)
    shared = job_entry(metrics, wall, metrics["n"], flops, peak,
                       {"batch_size": batch, "images": len({r["image"] for r in read_rows(work / "jobs" / "whatsup")})},
                       ratios)
    say(f"  (d) zerovlm job, 4 statements per image: {shared['per_s']:.2f} samples/s")

    return {"parameters": n_params, "build_seconds": round(built, 2), "save_seconds": round(saved, 2),
            "image_token_id": image_token_id, "image_tokens": image_tokens, "tokens_per_sample": tokens,
            "tflop_per_sample": flops / 1e12, "batch_size": batch, "samples": len(records),
            "model_alone": model_alone, "hand_loop": hand, "zerovlm": job, "zerovlm_four_statements_per_image": shared}


# ---------------------------------------------------------------------------------------------------- Zero-1-to-3

def measure_zero123(args, profile: dict, work: Path, peak) -> dict:
    import torch
    from PIL import Image

    from zerovlm.generators.zero123 import Zero123Pipeline, pose_embedding, preprocess

    device, dtype = args.device, args.torch_dtype
    size, steps = profile["size"], profile["steps"]
    images = args.images or profile["images"]
    say(f"Zero-1-to-3: {images} images x 3 views, {size} px, {steps} DDIM steps, guidance 3; building the model ...")
    annotations, coco, records = make_vsr_like(work / "data" / "zero123", images)
    start = perf_counter()
    pipeline = build_zero123(device, dtype, args.tiny)
    if hasattr(pipeline, "channels_last"):  # the layout zerovlm's generator runs the UNet and the VAE in
        pipeline.channels_last()
    synchronize(device)
    built = perf_counter() - start
    folder = work / "zero123"
    start = perf_counter()
    pipeline.save_pretrained(folder)
    saved = perf_counter() - start
    n_params = parameters(pipeline.modules().values())
    say(f"  {n_params / 1e9:.2f} B parameters, built in {built:.1f} s on {device}, saved in {saved:.1f} s")

    inputs = []
    for r in records[:images]:
        with Image.open(r["path"]) as image:
            inputs.append(preprocess(image.convert("RGB"), size, "pad"))
    encoded = [pipeline.encode(inputs[i:i + 16], size) for i in range(0, len(inputs), 16)]
    embeds = torch.cat([e for e, _ in encoded])
    latents = torch.cat([lat for _, lat in encoded])
    azimuths = [-90.0, 90.0, 37.0]  # left, right, a random-like pose

    def sample(n: int, steps_: int):
        index = torch.arange(n, device=embeds.device) % len(inputs)
        poses = torch.tensor([pose_embedding(0.0, azimuths[i % 3], 0.0) for i in range(n)], dtype=torch.float32)
        # each view's noise from its own generator on the UNet's device, as Zero123Generator.generate draws it
        generators = [torch.Generator(device=device).manual_seed(i) for i in range(n)]
        return pipeline(embeds[index], latents[index], poses, generators, steps=steps_, guidance=3.0)

    flops = counted_flops(lambda: sample(1, steps))
    say(f"  {flops / 1e12:.3f} TFLOP per view")

    def time_sampler(n: int) -> dict:
        sample(n, 2)  # warm-up at this batch size
        synchronize(device)
        reset_peak_memory(device)
        start = perf_counter()
        sample(n, steps)
        synchronize(device)
        return rate_entry(n, perf_counter() - start, flops, peak, batch_size=n, peak_memory_gib=peak_memory_gib(device))

    sampler = {}
    for n in profile["sampler_batches"]:
        sampler[str(n)] = time_sampler(n)
        say(f"  sampler alone, batch {n}: {sampler[str(n)]['per_s']:.2f} views/s")
    reference = sampler[str(profile["sampler_batches"][0])]["per_s"]
    for entry in sampler.values():
        entry["time_over_sampler"] = reference / entry["per_s"]
    compiled = {}
    if args.compile:
        pipeline.unet.compile()  # in place, as generator.compile=true does
        n = profile["sampler_batches"][0]
        synchronize(device)
        start = perf_counter()
        sample(n, 2)  # compiles
        synchronize(device)
        compile_seconds = perf_counter() - start
        compiled["sampler"] = time_sampler(n)
        compiled["sampler"]["first_call_seconds"] = round(compile_seconds, 2)
        compiled["sampler"]["time_over_sampler"] = reference / compiled["sampler"]["per_s"]
        say(f"  sampler alone, batch {n}, torch.compile: {compiled['sampler']['per_s']:.2f} views/s "
            f"(first call, compiling: {compile_seconds:.1f} s)")
    pipeline = embeds = latents = encoded = None  # the jobs load their own copy
    free(device)
    # What a render job spends loading the checkpoint onto the device, apart (it loads on its first batch)
    synchronize(device)
    start = perf_counter()
    loaded = Zero123Pipeline.from_pretrained(str(folder), dtype=dtype)
    for module in loaded.modules().values():
        module.to(device)
    synchronize(device)
    load_seconds = perf_counter() - start
    loaded = None
    free(device)
    say(f"  checkpoint loaded onto {device} in {load_seconds:.1f} s (from the page cache: just written)")

    trainer = trainer_overrides(device)
    base = ["stage=render", "generator=zero123_xl", f"generator.model={folder}", f"generator.dtype={args.dtype_name}",
            f"generator.size={size}", f"generator.steps={steps}", "views=four", "dataset=vsr_random",
            f"dataset.annotations_dir={annotations}", f"dataset.image_root={coco}", "dataset.splits=[test]",
            f"dataset.limit={images}", f"num_workers={args.num_workers}"]

    def render(batch_size: int, name: str, *extra: str) -> dict:
        metrics, wall = run_job([*base, f"generator.batch_size={batch_size}", *extra], work / "jobs" / name, device,
                                trainer)
        assert metrics["views_generated"] == 3 * images, metrics["views_generated"]
        entry = job_entry(metrics, wall, metrics["views_generated"], flops, peak,
                          {"batch_size": batch_size, "images": images}, {"time_over_sampler": reference})
        running = entry["seconds"] - load_seconds  # the job loads the checkpoint inside its first batch
        entry["per_s_without_checkpoint_load"] = entry["count"] / running if running > 0 else None
        say(f"  zerovlm render, generator.batch_size {batch_size}{' ' + ' '.join(extra) if extra else ''}: "
            f"{entry['per_s']:.2f} views/s (setup {entry['job_seconds']['setup']:.1f} s apart)")
        return entry

    jobs = {str(b): render(b, f"render_{b}") for b in profile["render_batches"]}
    if args.compile:
        b = profile["render_batches"][-1]
        compiled["render_first"] = render(b, f"render_{b}_compile", "generator.compile=true")
        compiled["render_again"] = render(b, f"render_{b}_compile_again", "generator.compile=true")
    return {"parameters": n_params, "build_seconds": round(built, 2), "save_seconds": round(saved, 2), "size": size,
            "steps": steps, "guidance": 3.0, "images": images, "tflop_per_view": flops / 1e12,
            "checkpoint_load_seconds": round(load_seconds, 2), "sampler": sampler,
            "render": jobs, "compiled": compiled or None}


# ------------------------------------------------------------------------------------------------------- report

def fmt(value, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def share(entry: dict) -> str:
    return "n/a" if entry.get("peak_share") is None else f"{100 * entry['peak_share']:.0f}%"


def markdown(report: dict) -> list[str]:
    what = ("tiny random models (this checks the script; the numbers mean nothing)" if report["tiny"]
            else f"random weights at the real sizes, {report['dtype']}, SDPA")
    peak = f"{report['peak_tflops']} TFLOP/s dense fp16/bf16 peak" if report["peak_tflops"] else "peak n/a"
    lines = [f"Measured {report['date']} on {report['card']} ({peak}); torch {report['torch']}, transformers "
             f"{report['transformers']}" + (f", diffusers {report['diffusers']}" if report.get("diffusers") else "")
             + f"; {what}.", ""]
    llava = report.get("llava")
    if llava:
        name = "tiny LLaVA" if report["tiny"] else "LLaVA-1.5-7B"
        lines += [f"| {name}, likelihood, {llava['samples']} statements | batch | samples/s | "
                  "time / model alone | time / hand loop | TFLOP/s | share of peak |",
                  "|---|---|---|---|---|---|---|"]
        rows = [("model alone (inputs prepared, forward only)", llava["model_alone"]),
                ("hand loop (open image, chat template, processor, forward)", llava["hand_loop"]),
                ("zerovlm job, VSR-like (1 statement per image)", llava["zerovlm"]),
                ("zerovlm job, What'sUp-like (4 statements per image)", llava["zerovlm_four_statements_per_image"])]
        digits = 4 if report["tiny"] else 0
        for name, e in rows:
            over_model = 1.0 if e is llava["model_alone"] else e.get("time_over_model_alone")
            over_hand = 1.0 if e is llava["hand_loop"] else e.get("time_over_hand_loop")
            lines.append(f"| {name} | {e['batch_size']} | {e['per_s']:.1f} | {fmt(over_model)} | {fmt(over_hand)} | "
                         f"{e['tflops_per_s']:.{digits}f} | {share(e)} |")
        lines += ["", f"{llava['tflop_per_sample']:.3f} TFLOP per sample (FlopCounterMode, one batch; "
                      f"{llava['image_tokens']} image tokens, {llava['tokens_per_sample']:.0f} tokens per sample). "
                      "Jobs' samples/s leave out their setup (loading the checkpoint); their seconds:",
                  f"- VSR-like: {seconds_line(llava['zerovlm']['job_seconds'])}",
                  f"- What'sUp-like: {seconds_line(llava['zerovlm_four_statements_per_image']['job_seconds'])}",
                  "The What'sUp-like row is compared with the model alone and the hand loop on the VSR-like statements "
                  "(other statements, photos of the same size).", ""]
    z = report.get("zero123")
    if z:
        first = next(iter(z["sampler"]))
        name = "tiny Zero-1-to-3" if report["tiny"] else "Zero-1-to-3 (XL-sized)"
        lines += [f"| {name}, {z['size']} px, {z['steps']} DDIM steps, guidance 3 | batch | views | "
                  f"views/s | time / sampler at {first} | TFLOP/s | share of peak |", "|---|---|---|---|---|---|---|"]
        rows = [("sampler alone (prepared embeddings and latents)", e) for e in z["sampler"].values()]
        rows += [(f"zerovlm stage=render views=four, {z['images']} images", e) for e in z["render"].values()]
        if z.get("compiled"):
            c = z["compiled"]
            rows += [("sampler alone, torch.compile (UNet)", c["sampler"]),
                     ("zerovlm render, generator.compile=true (first job)", c["render_first"]),
                     ("zerovlm render, generator.compile=true (again)", c["render_again"])]
        digits = 4 if report["tiny"] else 0
        for name, e in rows:
            lines.append(f"| {name} | {e['batch_size']} | {e['count']} | {e['per_s']:.2f} | "
                         f"{fmt(e.get('time_over_sampler'))} | {e['tflops_per_s']:.{digits}f} | {share(e)} |")
        lines += ["", f"{z['tflop_per_view']:.3f} TFLOP per view. Render jobs' views/s leave out their setup; "
                      "their seconds:"]
        lines += [f"- generator.batch_size {b}: {seconds_line(e['job_seconds'])}" for b, e in z["render"].items()]
        without = ", ".join(f"{e['per_s_without_checkpoint_load']:.2f} at batch {b}" for b, e in z["render"].items()
                            if e.get("per_s_without_checkpoint_load"))
        lines.append(f"- a render job loads the checkpoint in its first batch ({z['checkpoint_load_seconds']:.1f} s "
                     f"measured apart); views/s without it: {without or 'n/a'}")
        if z.get("compiled"):
            c = z["compiled"]
            lines += [f"- compiled, first job: {seconds_line(c['render_first']['job_seconds'])}",
                      f"- compiled, again: {seconds_line(c['render_again']['job_seconds'])}",
                      f"- sampler's first compiled call (2 steps): {c['sampler']['first_call_seconds']:.1f} s"]
    return lines


# --------------------------------------------------------------------------------------------------------- main

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu with --tiny")
    parser.add_argument("--only", choices=PARTS, help="measure one part (default: both)")
    parser.add_argument("--samples", type=int, default=512, help="LLaVA: statements per measurement (default 512)")
    parser.add_argument("--images", type=int, default=None,
                        help="Zero-1-to-3: images of the render jobs, 3 views each (default 64, with --tiny 4)")
    parser.add_argument("--dtype", default="float16", choices=["float16", "bfloat16"],
                        help="weights' dtype at the real sizes (--tiny: float32)")
    parser.add_argument("--num-workers", type=int, default=0, help="the jobs' num_workers (data loading processes)")
    parser.add_argument("--compile", action="store_true",
                        help="also the sampler and a render job with torch.compile (generator.compile=true)")
    parser.add_argument("--tiny", action="store_true", help="tiny random models: checks the script on a CPU")
    parser.add_argument("--work", default=None, help="where models, data and jobs go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (models, data, jobs)")
    parser.add_argument("--out", default="outputs/bench/gpu_throughput.json", help="the JSON written")
    args = parser.parse_args(argv)
    args.parts = [args.only] if args.only else list(PARTS)
    args.dtype_name = "float32" if args.tiny else args.dtype
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    problem = check_environment(args)
    if problem:
        raise SystemExit(f"gpu_throughput: {problem}")
    import torch
    import transformers

    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "zerovlm", "transformers", "diffusers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    transformers.utils.logging.disable_progress_bar()
    args.torch_dtype = getattr(torch, args.dtype_name)
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    args.device = str(device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    peak = peak_tflops(card) if device.type == "cuda" else None
    profile = PROFILES["tiny" if args.tiny else "real"]
    diffusers = importlib.util.find_spec("diffusers") and importlib.import_module("diffusers").__version__
    report = {"date": datetime.date.today().isoformat(), "device": args.device, "card": card, "peak_tflops": peak,
              "torch": torch.__version__, "transformers": transformers.__version__, "diffusers": diffusers or None,
              "cuda": torch.version.cuda, "tiny": args.tiny, "dtype": args.dtype_name, "samples": args.samples,
              "num_workers": args.num_workers, "compile": args.compile, "parts": args.parts}
    say(f"{card}, torch {torch.__version__}, transformers {transformers.__version__}, {args.dtype_name}"
        + (" (tiny models: checking the script)" if args.tiny else ""))
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="zerovlm-gpu-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        torch.manual_seed(0)
        if "llava" in args.parts:
            report["llava"] = measure_llava(args, profile, work, peak)
            free(args.device)
        if "zero123" in args.parts:
            import_or_explain("diffusers", "diffusers", "Zero-1-to-3").utils.logging.disable_progress_bar()
            report["zero123"] = measure_zero123(args, profile, work, peak)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["markdown"] = markdown(report)
    say("")
    say("\n".join(report["markdown"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    say(f"\nwritten: {out}" + (f" (work folder kept: {work})" if args.keep else ""))
    return report


if __name__ == "__main__":
    main()
