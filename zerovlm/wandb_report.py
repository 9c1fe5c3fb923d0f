"""Weights & Biases: the composed config, accuracies as summary metrics, a per-relation table and a table of
sample inputs, through Lightning's WandbLogger (offline by default). A W&B failure is logged, never raised:
the job's own outputs are already on disk."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.utils import instantiate

from zerovlm.visualize import input_picture

log = logging.getLogger(__name__)


def summary_metrics(metrics: dict) -> dict:
    flat = {"accuracy": metrics["accuracy"], "n": metrics["n"], "unparsed": metrics["unparsed"]}
    for split, m in [(None, metrics), *metrics["splits"].items()]:
        prefix = f"{split}/" if split else ""
        flat[f"{prefix}accuracy"], flat[f"{prefix}n"] = m["accuracy"], m["n"]
        for baseline in ("majority", "chance"):
            if baseline in m:
                flat[f"{prefix}{baseline}"] = m[baseline]
        if "interval" in m:
            flat[f"{prefix}accuracy_low"], flat[f"{prefix}accuracy_high"] = m["interval"]["low"], m["interval"]["high"]
    if "interval" in metrics:
        flat["interval_method"] = metrics["interval"]["method"]
    flat["skipped"] = sum(metrics.get("skipped", {}).values())
    for kind, m in metrics["negative_types"].items():
        flat[f"negative_type/{kind}/accuracy"] = m["accuracy"]
    for name, m in metrics.get("categories", {}).items():
        flat[f"category/{name}/accuracy"] = m["accuracy"]
    if "calibrated" in metrics:
        flat["test/accuracy_dev_threshold"] = metrics["calibrated"]["test_accuracy"]
        flat["dev_threshold"] = metrics["calibrated"]["threshold"]
    for key in ("pair_accuracy", "set_accuracy"):
        if metrics.get(key) is not None:
            flat[key] = metrics[key]
    return flat


def log_to_wandb(logger_cfg, config: dict, metrics: dict, rows: list[dict], inputs_dir: Path) -> bool:
    try:
        import wandb

        logger = instantiate(logger_cfg)
        logger.log_hyperparams(config)
        logger.experiment.summary.update(summary_metrics(metrics))
        logger.log_table("relations", columns=["relation", "n", "accuracy", "unparsed"],
                         data=[[k, m["n"], m["accuracy"], m["unparsed"]] for k, m in metrics["relations"].items()])
        shown = [(r, picture) for r in rows if (picture := input_picture(inputs_dir, r["id"])) is not None]
        logger.log_table(
            "samples", columns=["id", "input", "prompt", "statement", "label", "prediction", "p_yes", "raw"],
            data=[[r["id"], wandb.Image(picture), r["prompt"], r["statement"], r["label"], r["prediction"],
                   r["p_yes"], r["raw"]] for r, picture in shown],
        )
        logger.finalize("success")
        wandb.finish()
        return True
    except Exception as error:  # noqa: BLE001 - W&B must never fail a finished evaluation
        log.warning("W&B logging failed (%s: %s); predictions.jsonl and metrics.json are complete",
                    type(error).__name__, error)
        return False
