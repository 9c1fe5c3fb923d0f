"""One job: build every stage from the config, predict on all ranks, and on rank 0 merge, score and write
predictions.jsonl, metrics.json, samples.png (and log to W&B). Imported only when a job starts."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from time import perf_counter

import lightning.pytorch as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict
from torch.utils.data import DataLoader

from zerovlm.batching import GroupedSampler, Remaining
from zerovlm.cache import ViewCache
from zerovlm.console import job_label, quiet_libraries
from zerovlm.distributed import build_trainer, clean_job_environment, device_count
from zerovlm.errors import SettingError
from zerovlm.files import check_writable, write_bytes_atomic, writing_into
from zerovlm.predict import SpatialQAModule
from zerovlm.prompts import PromptBuilder
from zerovlm.results.metrics import compute_metrics
from zerovlm.results.paired import SETTING_KEYS
from zerovlm.results.report import with_interval
from zerovlm.results.visualize import samples_png
from zerovlm.results.wandb_report import log_to_wandb, run_name
from zerovlm.stitch import Layout
from zerovlm.view_stages import COMPARE_LAYOUT, OracleGapModule, RenderViewsModule, render_layout, view_gap_metrics
from zerovlm.views import ORIGIN, ViewMaker
from zerovlm.writer import OtherSetting, ShardedPredictionWriter, check_signature, completed, merge_shards

log = logging.getLogger(__name__)
STAGES = ("evaluate", "render", "compare_views")
# what must match for a job to resume from the shards in its directory (not trainer, logger, paths)
SIGNATURE = SETTING_KEYS
CHANCE_NOTE = "tiny random backbone: its answers are at chance; these numbers test the pipeline, not a VLM"

# Lightning adds console handlers of its own on import; without them Hydra's handlers print and file its records.
for _name in ("lightning", "lightning.pytorch", "lightning.fabric"):
    logging.getLogger(_name).handlers.clear()
quiet_libraries()


def run_job(cfg: DictConfig) -> float | None:
    """The Hydra task: write the resolved config into the job directory (extra ranks read it there), evaluate."""
    hydra_cfg = HydraConfig.get()
    check_launcher(hydra_cfg)
    output_dir = Path(hydra_cfg.runtime.output_dir)
    if cfg.logger is not None:  # one W&B group per sweep, each job's run named by its swept overrides
        multirun = hydra_cfg.mode == RunMode.MULTIRUN
        with open_dict(cfg):
            cfg.logger.setdefault("group", Path(hydra_cfg.sweep.dir).name if multirun else None)
            cfg.logger.setdefault("name", run_name(hydra_cfg))
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    try:  # a directory whose predictions another setting made is left as it was: its files name that setting
        check_signature(output_dir, signature(resolved), record=False)
    except OtherSetting as error:
        log.error("%s", error)
        record_failure(output_dir, error)
        raise
    # Under SLURM every task of a job runs this function: each writes the same text, atomically. job.yaml keeps
    # the job's overrides and config choices beside its config (Hydra's .hydra/ is rewritten by any later run)
    for name, content in (("config.yaml", resolved), ("job.yaml", job_record(hydra_cfg))):
        tmp = output_dir / f".{name}.{os.getpid()}"
        OmegaConf.save(content, tmp)
        os.replace(tmp, output_dir / name)
    (output_dir / "error.json").unlink(missing_ok=True)  # a resumed job's earlier failure
    try:
        with clean_job_environment():
            metrics = evaluate(resolved, output_dir, job_label(hydra_cfg))
    except SettingError as error:  # a setting to change: Hydra prints its message alone, once
        record_failure(output_dir, error)
        raise
    except BaseException as error:  # the job's own log holds the traceback; the sweep's table names the error
        log.exception("%s: the job failed on rank %s", output_dir, process_rank())
        record_failure(output_dir, error)
        raise
    return None if metrics is None else metrics.get("accuracy")


def process_rank() -> str:
    """This process's global rank, as the launcher set it (0 where nothing did)."""
    for variable in ("SLURM_PROCID", "RANK", "GLOBAL_RANK"):
        if os.environ.get(variable):
            return os.environ[variable]
    return str(rank_zero_only.rank)


def check_launcher(hydra_cfg) -> None:
    """Refuse what would hang: submitit's local launcher starts tasks_per_node processes that do not know of each
    other (each makes itself rank 0 of its own group and waits for the rest forever)."""
    launcher = hydra_cfg.get("launcher") or {}
    tasks = launcher.get("tasks_per_node") or 1
    if str(launcher.get("_target_", "")).endswith("submitit_launcher.LocalLauncher") and int(tasks) > 1:
        raise ValueError(f"hydra/launcher=submitit_local with hydra.launcher.tasks_per_node={tasks}: its local tasks "
                         "cannot form one job (each would wait for the others forever). Let Lightning start the "
                         f"processes: hydra.launcher.tasks_per_node=1 trainer=ddp trainer.devices={tasks} (or "
                         "hydra/launcher=slurm on a cluster)")


def record_failure(output_dir: Path, error: BaseException) -> None:
    """error.json in the job directory: what the sweep's report shows for a failed job (the root cause's message:
    Hydra wraps a config target's error in its own)."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = [line for line in str(error).strip().splitlines() if line.strip()] or [""]
    record = {"type": type(error).__name__, "last_line": lines[-1]}
    if isinstance(error, OtherSetting):  # what the sweep's report says of a refused later run
        record["differences"] = error.differences
    (output_dir / "error.json").write_text(json.dumps(record, indent=1) + "\n")


def evaluate(cfg: DictConfig, output_dir: str | Path, job: str = "") -> dict | None:
    """Run the job's stage on this rank; rank 0 returns the metrics, other ranks None. `job` ("job 3/8" in a
    sweep) begins the progress bar and the final line."""
    check_setting(cfg)
    output_dir = Path(output_dir)
    start = perf_counter()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    check_writable(output_dir, "hydra.run.dir (hydra.sweep.dir in a multirun)")
    if any(p.get("name") != ORIGIN for p in cfg.views.poses) or cfg.stage != "evaluate":
        check_writable(cfg.paths.cache_dir, "paths.cache_root (or $ZEROVLM_CACHE)")
    dataset = instantiate(cfg.dataset)
    if hasattr(dataset, "check_images"):  # missing images fail now, not after the models have loaded
        dataset.check_images()
    key = "sample" if cfg.stage == "compare_views" else "id"  # compare_views has a row per view
    remaining, done, partial = resume(cfg, output_dir, dataset, key)
    trainer = build_trainer(cfg.trainer, output_dir, [ShardedPredictionWriter(output_dir, cfg.num_sample_images)],
                            description=f"{job} {cfg.stage}".strip())
    setting, workers = stage_setting(cfg), loader_workers(cfg)
    if len(remaining):  # a finished job (a resumed sweep) loads no model
        views = ViewMaker(cfg.views.poses, instantiate(cfg.generator), ViewCache(cfg.paths.cache_dir),
                          seed=cfg.seed)
        module, batch_size = build_stage(cfg, views, setting)
        loader = DataLoader(remaining, batch_size=batch_size, num_workers=workers,
                            sampler=GroupedSampler(remaining.text_lengths(), remaining.image_keys(),
                                                   sort=cfg.sort_by_length),
                            collate_fn=module.prepare if isinstance(module, SpatialQAModule) else list,
                            pin_memory=on_gpu(cfg.trainer), multiprocessing_context="fork" if workers else None)
        setup_seconds = perf_counter() - start
        trainer.predict(module, dataloaders=loader, return_predictions=False)
    else:
        setup_seconds = perf_counter() - start
        log.info("%s: every sample is scored already (%d): nothing to run", job or output_dir, len(done))
    if rank_zero_only.rank != 0:
        return None

    rows, stats = merge_shards(output_dir, expected=len(dataset), key=key)
    scores = {"evaluate": compute_metrics, "render": lambda r: {"n": len(r)},
              "compare_views": view_gap_metrics}[cfg.stage](rows)
    metrics = {
        **scores,
        "views_generated": stats["views_generated"], "views_cached": stats["views_cached"],
        "views_corrupt_remade": stats["views_corrupt"],
        "world_size": trainer.world_size, "duplicates_removed": stats["duplicates_removed"],
        "resumed_samples": len(done), "partial_lines_dropped": partial,
        "seconds": {**{k: round(v, 4) for k, v in stats["seconds"].items()}, "setup": round(setup_seconds, 4),
                    "total": round(perf_counter() - start, 4)},
        "skipped": dict(getattr(dataset, "skipped", {})),
        "generator_counts": stats["generator_counts"], "prior_counts": stats["prior_counts"],
        "setting": setting, "tiny_random_backbone": cfg.stage == "evaluate" and bool(cfg.backbone.tiny_random),
        "num_workers": workers,
    }
    write_outputs(cfg, output_dir, rows, metrics)
    log.info(final_line(metrics, output_dir, job))
    return metrics


def check_setting(cfg: DictConfig) -> None:
    """The setting's mistakes that need no data and no model, found before either is loaded (SettingError: one
    message naming the setting)."""
    if cfg.stage not in STAGES:
        raise SettingError(f"stage={cfg.stage!r}: choose one of {', '.join(STAGES)}")
    try:
        Layout(**cfg.layout)
        PromptBuilder(**cfg.prompt)
    except (TypeError, ValueError) as error:
        raise SettingError(str(error)) from None
    several = sum(1 for _ in cfg.views.poses) > 1
    if cfg.stage == "evaluate" and cfg.layout.kind == "separate" and several \
            and not cfg.backbone.get("multi_image", False):
        raise SettingError(f"layout=separate gives the {len(cfg.views.poses)} views as separate images, but "
                           f"backbone={cfg.backbone.name} takes one image per prompt: use layout=grid (or "
                           "horizontal, vertical), or a backbone with multi_image: true")


def stage_setting(cfg: DictConfig) -> dict:
    """The names of the options that produced the job's rows (stamped on each row and in metrics.json)."""
    setting = {"stage": cfg.stage, "dataset": cfg.dataset.name, "view_set": cfg.views.name,
               "generator": cfg.generator.name, "seed": cfg.seed,
               "prior": cfg.prior.name if cfg.get("prior") is not None and cfg.stage != "compare_views" else None}
    if cfg.stage == "evaluate":
        setting.update(layout=cfg.layout.name, prompt_name=cfg.prompt.name, backbone=cfg.backbone.name,
                       scoring=cfg.backbone.scoring)
    return setting


def build_stage(cfg: DictConfig, views: ViewMaker, setting: dict):
    """(LightningModule, loader batch size) for the job's stage."""
    prior = instantiate(cfg.prior) if setting["prior"] is not None else None
    if cfg.stage == "evaluate":
        backbone = instantiate(cfg.backbone, _convert_="all")  # plain lists and dicts, as transformers expects
        module = SpatialQAModule(views, Layout(**cfg.layout), PromptBuilder(**cfg.prompt), backbone, setting, prior)
        return module, cfg.backbone.batch_size
    batch_size = cfg.generator.get("batch_size", 8)
    if cfg.stage == "render":
        return RenderViewsModule(views, Layout(**cfg.layout), prior), batch_size
    return OracleGapModule(views), batch_size


def on_gpu(trainer_cfg) -> bool:
    import torch

    accelerator = trainer_cfg.get("accelerator", "auto")
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def loader_workers(cfg: DictConfig) -> int:
    """`num_workers`, or when null: on GPUs up to 4 processes per rank preparing batches (as the CPUs allow), on
    the CPU none (they would take the cores the model runs on)."""
    if cfg.num_workers is not None:
        return int(cfg.num_workers)
    if not on_gpu(cfg.trainer):
        return 0
    ranks = device_count(cfg.trainer.get("accelerator", "auto"), cfg.trainer.get("devices", 1))
    return max(0, min(4, (len(os.sched_getaffinity(0)) // max(1, ranks)) - 1))


def signature(cfg: DictConfig) -> dict:
    """What must be the same for a job to resume another's predictions."""
    return {k: OmegaConf.to_container(cfg[k]) if OmegaConf.is_config(cfg[k]) else cfg[k] for k in SIGNATURE}


def job_record(hydra_cfg) -> DictConfig:
    """The job's command-line overrides and config group choices (what the sweep's report names it by)."""
    choices = {group: None if option is None else str(option) for group, option in hydra_cfg.runtime.choices.items()
               if not group.startswith("hydra/")}
    return OmegaConf.create({"overrides": list(hydra_cfg.overrides.task), "choices": choices})


def resume(cfg: DictConfig, output_dir: Path, dataset, key: str) -> tuple[Remaining, set[str], int]:
    """The samples still to score: all of them in a new job directory, the missing ones in a crashed job's."""
    check_signature(output_dir, signature(cfg))
    done, partial = completed(output_dir, key)
    if rank_zero_only.rank == 0:  # this run's view counts and timings replace the crashed run's
        for stale in (output_dir / "shards").glob("stats.rank*.json"):
            stale.unlink()
    remaining = Remaining(dataset, [i for i, sid in enumerate(dataset.sample_ids()) if sid not in done])
    return remaining, done, partial


def picture_layout(cfg: DictConfig) -> Layout:
    """The layout that stitched the job's kept inputs (samples.png cuts them back into views)."""
    if cfg.stage == "compare_views":
        return COMPARE_LAYOUT
    layout = Layout(**cfg.layout)
    return layout if cfg.stage == "evaluate" else render_layout(layout)


def write_outputs(cfg: DictConfig, output_dir: Path, rows: list[dict], metrics: dict) -> None:
    with writing_into(output_dir, "hydra.run.dir (hydra.sweep.dir in a multirun)"):  # whole files or none
        write_bytes_atomic(output_dir / "predictions.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
        write_bytes_atomic(output_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
        note = CHANCE_NOTE if metrics["tiny_random_backbone"] else None
        samples_png(rows, output_dir / "inputs", output_dir / "samples.png", picture_layout(cfg), note,
                    metrics["setting"])
    if cfg.get("logger") is not None:
        log_to_wandb(cfg.logger, OmegaConf.to_container(cfg), metrics, rows, output_dir)
    skipped = sum(metrics["skipped"].values())
    if skipped:  # never only in metrics.json
        what = ", ".join(f"{k} {v}" for k, v in sorted(metrics["skipped"].items()))
        log.warning("%s: %d samples of the dataset were skipped (%s) and %d scored%s", output_dir, skipped, what,
                    len(rows), ": MOST OF THE DATA WAS SKIPPED, check the dataset's paths" if skipped > len(rows)
                    else "")


def final_line(metrics: dict, output_dir: Path, job: str = "") -> str:
    """The job's result in one line: the score with its interval and n, what was not scored, the views, where the
    outputs are (and that a tiny random backbone answers at chance)."""
    views = f"views generated {metrics['views_generated']}, cached {metrics['views_cached']}"
    if metrics["views_corrupt_remade"]:
        views += f" ({metrics['views_corrupt_remade']} corrupt in the cache, made again)"
    if "accuracy" in metrics:
        baseline = "chance" if "chance" in metrics else "majority"
        score = (f"accuracy {with_interval(metrics)} (95 % interval, {metrics['interval']['method']}), "
                 f"n={metrics['n']}, {baseline} baseline {metrics[baseline]:.3f}; unparsed {metrics['unparsed']}, "
                 f"skipped {sum(metrics['skipped'].values())}")
    elif "psnr" in metrics:
        score = (f"generated vs true views: PSNR {metrics['psnr']:.2f} dB, MAE {metrics['mae']:.4f} "
                 f"over {metrics['n']} views")
    else:
        score = f"{metrics['n']} samples rendered"
    note = f" [{CHANCE_NOTE}]" if metrics.get("tiny_random_backbone") else ""
    return f"{job + ': ' if job else ''}{score}; {views}; outputs in {output_dir}{note}"
