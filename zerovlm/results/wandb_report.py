"""Weights & Biases, as researchers use it: one run per job, named by the job's swept overrides
("views=left prompt=view"), grouped by sweep, tagged with its setting (and `tiny_random_backbone`, so chance-level
runs never pass for real ones), the config as flat keys ("views.name", "backbone.batch_size"), the metrics as the
summary, a table of every prediction with its input picture, samples.png, and metrics.json + predictions.jsonl as
an artifact; at the end of a sweep, one run named "summary" with the report table and pictures.

Through Lightning's WandbLogger, offline by default (`wandb sync` uploads later). Everything W&B writes (run files,
artifact staging, cache, its own logs) stays inside the job's or sweep's directory, and the environment is restored
afterwards. A W&B failure is logged, never raised: the job's own outputs are already on disk."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from omegaconf import OmegaConf

from zerovlm.results.visualize import input_picture

log = logging.getLogger(__name__)

# the directories W&B writes to besides the run directory, as wandb documents them, each inside <root>/wandb/
WANDB_DIRS = {"WANDB_CACHE_DIR": "cache", "WANDB_DATA_DIR": "data", "WANDB_CONFIG_DIR": "config",
              "WANDB_ARTIFACT_DIR": "artifacts"}
# a job's setting (metrics["setting"]) as tags, named as on the command line: dataset=vsr_random views=left ...
SETTING_TAGS = {"stage": "stage", "dataset": "dataset", "view_set": "views", "generator": "generator",
                "layout": "layout", "prompt_name": "prompt", "backbone": "backbone", "prior": "prior"}
PREDICTION_COLUMNS = ["id", "split", "statement", "label", "prediction", "p_yes", "raw", "correct", "relation",
                      "negative_type", "category", "options", "prompt"]
OUTPUT_FILES = ("metrics.json", "predictions.jsonl", "config.yaml")
MAX_TAG = 64  # W&B refuses longer tags


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger (conf/logger/wandb.yaml), quiet on the console (W&B's `quiet` setting: no run
    history and summary after every job; the job's own line says what it scored) and without the `anonymous=None`
    it always passes to wandb.init, which W&B answers on every run with "The anonymous setting has no effect"."""

    def __init__(self, *args, **kwargs) -> None:
        import wandb

        kwargs.setdefault("settings", wandb.Settings(quiet=True))
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)


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


def run_summary(metrics: dict) -> dict:
    """The run's summary: the accuracies of an evaluation (summary_metrics), the numbers of a render or
    compare_views job, and always whether the backbone was a tiny random one."""
    if "accuracy" in metrics:
        summary = summary_metrics(metrics)
    else:
        summary = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {**summary, "tiny_random_backbone": bool(metrics.get("tiny_random_backbone"))}


def flat_config(config: dict, prefix: str = "") -> dict:
    """{"views": {"name": "left"}} -> {"views.name": "left"}: keys the dashboard groups and filters by."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(flat_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_tags(config: dict, metrics: dict) -> list[str]:
    """dataset=..., views=..., generator=..., layout=..., prompt=..., backbone=..., prior=... (what the job ran,
    from metrics["setting"], else from the config's `.name` fields), and tiny_random_backbone when it was one."""
    setting = metrics.get("setting") or {
        key: (config.get(group) or {}).get("name") if key != "stage" else config.get("stage")
        for key, group in SETTING_TAGS.items()}
    tags = [f"{group}={'none' if setting[key] is None else setting[key]}"[:MAX_TAG]
            for key, group in SETTING_TAGS.items() if key in setting and (key != "stage" or setting[key] != "evaluate")]
    if metrics.get("tiny_random_backbone"):
        tags.append("tiny_random_backbone")
    return tags


def swept_keys(sweep_dir: Path) -> set[str] | None:
    """The options a sweep varies (`views=origin,left` on the command line or in an experiment's
    hydra.sweeper.params, the command line winning), from the multirun.yaml Hydra writes before the first job."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        sweep = OmegaConf.load(Path(sweep_dir) / "multirun.yaml").hydra
        params = [f"{k}={v}" for k, v in (OmegaConf.select(sweep, "sweeper.params") or {}).items()]
        last = {o.key_or_group: o for o in OverridesParser.create().parse_overrides([*params, *sweep.overrides.task])}
        return {key for key, o in last.items() if o.is_sweep_override()}
    except Exception:  # noqa: BLE001 - another sweeper, no multirun.yaml: name the run by all its overrides
        return None


def run_name(hydra_cfg) -> str:
    """The job's swept overrides ("views=left prompt=view"): what tells it from the other jobs of its sweep. A
    single run (or a sweep whose varied options are unknown) is named by all its overrides but the logger's."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    overrides = OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
    swept = None
    if hydra_cfg.mode == RunMode.MULTIRUN:
        swept = swept_keys(Path(hydra_cfg.runtime.cwd) / hydra_cfg.sweep.dir)
    if swept:
        shown = [o for o in overrides if o.key_or_group in swept]
    else:
        shown = [o for o in overrides if o.key_or_group.split(".")[0] != "logger"]
    return " ".join(o.input_line.lstrip("+") for o in shown) or Path(hydra_cfg.runtime.output_dir).name


@contextmanager
def wandb_inside(root: Path) -> Iterator[None]:
    """Point every directory W&B writes to into root (runs in root/wandb, cache, artifact staging, config and its
    own logs in root/wandb/<kind>), with the user's settings file (base_url, entity) still read; afterwards finish
    any run left open, shut W&B's service down (the next job's service reads its own directories) and restore the
    environment (WandbLogger's offline mode sets WANDB_MODE)."""
    import wandb

    root = Path(root).resolve()
    saved = {k: os.environ.get(k) for k in ("WANDB_DIR", *WANDB_DIRS, "WANDB_MODE")}
    user_settings = Path(os.environ.get("WANDB_CONFIG_DIR") or "~/.config/wandb").expanduser() / "settings"
    try:
        wandb.teardown()  # a service started elsewhere in this process would keep its directories
        os.environ.update(WANDB_DIR=str(root), **{k: str(root / "wandb" / sub) for k, sub in WANDB_DIRS.items()})
        if user_settings.is_file():
            wandb.setup(settings=wandb.Settings(settings_system=str(user_settings)))
        yield
    finally:
        try:
            if wandb.run is not None:
                wandb.run.finish(exit_code=1)
            wandb.teardown()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _logged(logger_cfg, root: Path, init: dict, log_run: Callable, what: str) -> bool:
    """Open a run through the configured logger inside root, let log_run fill it, close it; False on any failure.
    init's tags add to the configured ones; its group (the sweep's) gives way to a configured one."""
    try:
        import wandb

        cfg = OmegaConf.to_container(logger_cfg) if OmegaConf.is_config(logger_cfg) else dict(logger_cfg)
        init = {**init, "tags": [*(cfg.get("tags") or []), *init.get("tags", [])]}
        if cfg.get("group"):
            init.pop("group", None)
        with wandb_inside(root):
            logger = instantiate({**cfg, **init, "save_dir": str(Path(root).resolve())})
            log_run(logger, logger.experiment, wandb)
            logger.finalize("success")
            logger.experiment.finish()
        return True
    except Exception as error:  # noqa: BLE001 - W&B must never fail a finished evaluation
        log.warning("W&B logging failed (%s: %s); %s", type(error).__name__, error, what)
        return False


def _cell(value):
    return value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value)


def predictions_table(rows: list[dict], inputs_dir: Path, wandb):
    """Every prediction, with its input picture (inputs/) for the rows whose picture was kept."""
    if rows and "prediction" in rows[0]:
        columns = [c for c in PREDICTION_COLUMNS if any(c in r for r in rows)]
    else:  # render or compare_views: what its rows hold
        columns = list(rows[0]) if rows else ["id"]
    pictures: dict[str, object] = {}
    data = []
    for r in rows:
        sample = r.get("sample", r.get("id"))
        if sample not in pictures:
            single = inputs_dir / f"{sample}.png"
            picture = str(single) if single.exists() else input_picture(inputs_dir, sample)
            pictures[sample] = None if picture is None else wandb.Image(picture, caption=sample)
        data.append([*(_cell(r.get(c)) for c in columns), pictures[sample]])
    # typed columns (each may hold None): the dashboard then knows "input" holds pictures ("any" with mixed types)
    return wandb.Table(columns=[*columns, "input"], data=data)


def log_to_wandb(logger_cfg, config: dict, metrics: dict, rows: list[dict], output_dir: Path) -> bool:
    """One job's W&B run, written inside output_dir (after metrics.json, predictions.jsonl, samples.png)."""
    output_dir = Path(output_dir)

    def log_run(logger, run, wandb):
        logger.log_hyperparams(flat_config(config))
        run.summary.update(run_summary(metrics))
        logged = {"predictions": predictions_table(rows, output_dir / "inputs", wandb)}
        if "relations" in metrics:
            logged["relations"] = wandb.Table(
                columns=["relation", "n", "accuracy", "unparsed"], allow_mixed_types=True,
                data=[[k, m["n"], m["accuracy"], m.get("unparsed")] for k, m in metrics["relations"].items()])
        if (output_dir / "samples.png").exists():
            logged["samples"] = wandb.Image(str(output_dir / "samples.png"))
        run.log(logged)
        artifact = wandb.Artifact(f"predictions-{run.id}", type="predictions",
                                  metadata={"setting": metrics.get("setting"), "job_dir": str(output_dir.resolve())})
        for name in OUTPUT_FILES:
            if (output_dir / name).exists():
                artifact.add_file(str(output_dir / name), name=name)
        run.log_artifact(artifact)

    init = {"tags": run_tags(config, metrics), "job_type": config.get("stage", "evaluate")}
    return _logged(logger_cfg, output_dir, init, log_run,
                   "predictions.jsonl and metrics.json are complete")


def log_sweep_summary(logger_cfg, sweep_dir: Path, results, pictures: list[Path]) -> bool:
    """One run named "summary" in the sweep's group, written inside sweep_dir: the tidy results (a pandas frame,
    results.parquet) as the table "report", numbers as numbers, and the report's pictures ("figure/report",
    "figure/report_paired" from report.png, report_paired.png where present). Tagged tiny_random_backbone when a job
    of the sweep was."""
    sweep_dir = Path(sweep_dir)
    tiny = False
    for path in sweep_dir.glob("*/metrics.json"):
        try:
            tiny = tiny or bool(json.loads(path.read_text()).get("tiny_random_backbone"))
        except (OSError, ValueError):
            continue

    def log_run(logger, run, wandb):
        logged = {"report": wandb.Table(dataframe=results.astype(object).where(results.notna(), None),
                                        allow_mixed_types=True)}
        logged.update({f"figure/{Path(p).stem}": wandb.Image(str(p)) for p in pictures if Path(p).exists()})
        run.log(logged)

    init = {"name": "summary", "group": sweep_dir.name, "job_type": "summary",
            "tags": ["summary", *(["tiny_random_backbone"] if tiny else [])], "id": None, "version": None}
    return _logged(logger_cfg, sweep_dir, init, log_run, "the sweep's report files are complete")
