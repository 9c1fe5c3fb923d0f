"""Throughput of the evaluation stage on the tiny LLaVA, against a bare hand-written loop over the same model.

    python benchmarks/eval_throughput.py [--samples 64] [--repeats 3]      (or: make bench)

For each scoring mode (likelihood, generate) and batch size (1, 16) it times
  - framework: Trainer.predict over SpatialQAModule with its batches made by the job's collate function
    (views -> stitch -> prompt -> processor; here in the main process, num_workers=0 as on the CPU), the job's
    sampler (an image's statements together) and the per-rank prediction writer, as a job runs it; with and
    without sharing an image's prefix between its statements;
  - bare: for each batch, chat template + processor + one forward pass (or greedy generate), nothing else;
on the same pre-rendered samples (scene rendering is data loading and left out of both), best of `repeats`.
It prints samples/s, the framework/bare ratio and where the framework's time goes, and writes the table to
outputs/bench/eval_throughput.json. The tiny model's answers are at chance; only the timings matter here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import warnings
from pathlib import Path
from time import perf_counter

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from zerovlm.backbones.hf import HFVisionLanguageModel
from zerovlm.backbones.tiny import ensure_tiny_model
from zerovlm.batching import GroupedSampler, padding_waste
from zerovlm.cache import ViewCache
from zerovlm.data.synthetic import SyntheticDataset
from zerovlm.generators.oracle import OracleRenderer
from zerovlm.predict import SpatialQAModule
from zerovlm.prompts import PromptBuilder
from zerovlm.stitch import Layout
from zerovlm.views import ViewMaker
from zerovlm.writer import ShardedPredictionWriter

QUESTION = 'Is the following statement about the image true? "{statement}" Answer yes or no.'
ORIGIN = [{"name": "origin", "label": "original image"}]
FOUR = [*ORIGIN, {"name": "left", "azimuth": -90}, {"name": "right", "azimuth": 90}, {"name": "random", "random": True}]


def framework(backbone, samples, batch_size, poses, cache_dir, out_dir) -> tuple[float, dict]:
    views = ViewMaker(poses, OracleRenderer(), ViewCache(cache_dir))
    module = SpatialQAModule(views, Layout("grid"), PromptBuilder("plain", QUESTION), backbone, setting={})
    writer = ShardedPredictionWriter(out_dir, num_sample_images=0)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, callbacks=[writer])
    sampler = GroupedSampler([len(s.statement) for s in samples], [s.meta["image"] for s in samples])
    loader = DataLoader(samples, batch_size=batch_size, sampler=sampler, collate_fn=module.prepare)
    start = perf_counter()
    trainer.predict(module, dataloaders=loader, return_predictions=False)
    return perf_counter() - start, dict(module.seconds)


@torch.no_grad()
def bare(backbone, samples, batch_size, scoring) -> float:
    model, processor = backbone.model, backbone.processor
    yes, no = backbone.yes_ids, backbone.no_ids
    start = perf_counter()
    for i in range(0, len(samples), batch_size):
        batch = samples[i:i + batch_size]
        conversations = [[{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": QUESTION.format(statement=s.statement)}]}] for s in batch]
        texts = [processor.apply_chat_template(c, add_generation_prompt=True) for c in conversations]
        inputs = processor(images=[s.image for s in batch], text=texts, return_tensors="pt", padding=True)
        if scoring == "likelihood":
            logp = model(**inputs).logits[:, -1].log_softmax(-1)
            (logp[:, yes].logsumexp(-1) - logp[:, no].logsumexp(-1)).sigmoid().tolist()
        else:
            out = model.generate(**inputs, max_new_tokens=backbone.max_new_tokens, do_sample=False)
            processor.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    return perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="outputs/bench/eval_throughput.json")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)

    work = Path(tempfile.mkdtemp(prefix="zerovlm-bench-"))
    cache_root = Path(os.environ.get("ZEROVLM_CACHE", ".cache/zerovlm"))
    model_dir = ensure_tiny_model("llava", cache_root / "models" / "tiny_llava")
    dataset = SyntheticDataset(num_scenes=args.samples, splits=["train", "dev", "test"], limit=args.samples)
    samples = [dataset[i] for i in range(len(dataset))]
    print(f"{len(samples)} samples, tiny random LLaVA (answers at chance), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")

    results = []
    header = (f"{'scoring':<10} {'views':<6} {'batch':>5} {'shared':>6} {'framework/s':>12} {'bare/s':>8} "
              f"{'ratio':>6}   framework time: views / stitch, prompt, processor / backbone / rest")
    print(header)
    for scoring in ("likelihood", "generate"):
        backbone = HFVisionLanguageModel(name="tiny_llava", model=str(model_dir), scoring=scoring, max_new_tokens=8)
        settings = [(1, "origin", True), (16, "origin", True)]
        if scoring == "likelihood":  # sharing the picture's prefix between an image's two statements, or not
            settings += [(16, "origin", False), (16, "four", True)]
        for batch_size, view_set, share in settings:
            backbone.inputs.share_prefix = share
            poses = ORIGIN if view_set == "origin" else FOUR
            cache = work / "cache"
            if view_set == "four":  # warm the cache: an evaluation sweep never waits on view generation
                framework(backbone, samples, batch_size, poses, cache, work / "warm")
            runs = [framework(backbone, samples, batch_size, poses, cache, work / f"run{r}")
                    for r in range(args.repeats)]
            fw_time, stages = min(runs, key=lambda r: r[0])
            bare_time = min(bare(backbone, samples, batch_size, scoring) for _ in range(args.repeats))
            rest = fw_time - sum(stages.values())
            row = {"scoring": scoring, "views": view_set, "batch_size": batch_size, "share_prefix": share,
                   "framework_samples_per_s": len(samples) / fw_time, "bare_samples_per_s": len(samples) / bare_time,
                   "framework_over_bare_time": fw_time / bare_time,
                   "framework_seconds": {**stages, "rest": rest, "total": fw_time}, "bare_seconds": bare_time}
            results.append(row)
            parts = (stages.get("loader_views", 0), sum(stages.get(f"loader_{k}", 0) for k in ("stitch", "prompt",
                                                                                              "inputs")),
                     stages.get("backbone", 0))
            shares = " / ".join(f"{100 * t / fw_time:4.1f}%" for t in parts)
            print(f"{scoring:<10} {view_set:<6} {batch_size:>5} {'yes' if share else 'no':>6} "
                  f"{row['framework_samples_per_s']:>12.1f} "
                  f"{row['bare_samples_per_s']:>8.1f} {row['framework_over_bare_time']:>6.2f}   "
                  f"{shares} / {100 * rest / fw_time:4.1f}%")
    print("ratio = framework time / bare time (1.00 = no overhead). 'four' = 2x2 grid of origin + 3 cached views: "
          "the picture is larger, so stitching and the processor do more than in 'bare', which sees the origin only.\n"
          "shared = the two statements about each scene computing the picture and prompt prefix once (generate: "
          "never shared). The bare loop shares nothing.")

    # padding: the share of positions in a batch of 16 that are padding, dataset order vs length-sorted
    backbone = HFVisionLanguageModel(name="tiny_llava", model=str(model_dir))
    prompts = [QUESTION.format(statement=s.statement) for s in samples]
    lengths = [len(backbone.tokenizer.encode(backbone.chat_text(p))) for p in prompts]
    plain = [list(range(i, min(i + 16, len(samples)))) for i in range(0, len(samples), 16)]
    order = list(GroupedSampler(dataset.text_lengths()))
    ordered = [order[i:i + 16] for i in range(0, len(order), 16)]
    waste = {"dataset_order": padding_waste(lengths, plain), "length_sorted": padding_waste(lengths, ordered)}
    print(f"padding at batch 16 (text tokens; the image's tokens are the same in every row): dataset order "
          f"{100 * waste['dataset_order']:.1f}%, length-sorted {100 * waste['length_sorted']:.1f}%")
    results.append({"padding_waste_batch_16": waste})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"samples": len(samples), "results": results}, indent=2) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
