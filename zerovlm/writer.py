"""Each rank writes its predictions as they come; rank 0 merges them after the last batch.

Rank r appends to shards/predictions.rank{r}.jsonl after every batch (flushed), and at the end writes
shards/stats.rank{r}.json (view counts, seconds per stage). After a barrier, `merge_shards` on rank 0 keeps one
row per sample id and checks that the count equals the dataset size.

Resuming: a job run again in the same directory (`hydra.run.dir=...`) scores only the samples its shards do
not hold yet, with any number of ranks; a line cut short by a crash is dropped and its sample scored again.
`shards/signature.json` makes sure the shards were written by the same setting.
"""

from __future__ import annotations

import json
from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter


class ShardedPredictionWriter(BasePredictionWriter):
    def __init__(self, output_dir: str | Path, num_sample_images: int = 8) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = Path(output_dir)
        self.shards = self.output_dir / "shards"
        self.inputs = self.output_dir / "inputs"
        self.num_sample_images = num_sample_images
        self._file = None

    def on_predict_start(self, trainer, pl_module) -> None:
        self.shards.mkdir(parents=True, exist_ok=True)
        self.inputs.mkdir(parents=True, exist_ok=True)
        path = self.shards / f"predictions.rank{trainer.global_rank}.jsonl"
        if path.exists():  # resuming: a last line cut short by the crash goes, its sample is scored again
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                path.write_bytes(data[:data.rfind(b"\n") + 1])
        self._file = open(path, "a")

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        for row in prediction["rows"]:
            self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        for index, sample, picture in zip(batch_indices, batch, prediction["pictures"], strict=True):
            if picture is not None and index < self.num_sample_images:  # the dataset's first, on any rank
                save_input(self.inputs, sample.id, picture)

    def on_predict_end(self, trainer, pl_module) -> None:
        self._file.close()
        views = pl_module.view_counts()  # waits until every generated view is in the cache
        stats = {
            "views_generated": views["generated"], "views_cached": views["cached"], "views_corrupt": views["corrupt"],
            "generator_counts": dict(getattr(pl_module.views.generator, "counts", {})),
            "prior_counts": dict(getattr(getattr(pl_module, "prior", None), "counts", {})),
            "seconds": dict(pl_module.seconds),
        }
        (self.shards / f"stats.rank{trainer.global_rank}.json").write_text(json.dumps(stats))
        trainer.strategy.barrier("zerovlm-merge")


def save_input(inputs: Path, sample_id: str, picture) -> None:
    """The picture as the backbone received it, lossless: inputs/<id>.png, or inputs/<id>.<k>.png for each of
    several separate images."""
    if isinstance(picture, list):
        for k, image in enumerate(picture):
            image.save(inputs / f"{sample_id}.{k}.png")
    else:
        picture.save(inputs / f"{sample_id}.png")


def read_shards(shards: Path) -> tuple[list[dict], int]:
    """Every row in the shards, and how many last lines were cut short (a crash mid-write) and dropped."""
    rows, partial = [], 0
    for path in sorted(shards.glob("predictions.rank*.jsonl")):
        lines = path.read_text().split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if number < len(lines) - 1 or lines[-1] == "":  # only an unterminated last line can be cut short
                    raise ValueError(f"{path}:{number}: not a prediction row: {line[:80]!r}") from None
                partial += 1
    return rows, partial


def completed(output_dir: str | Path, key: str = "id") -> tuple[set[str], int]:
    """The samples (by `key`) whose rows the job directory's shards already hold, and the lines cut short."""
    shards = Path(output_dir) / "shards"
    if not shards.is_dir():
        return set(), 0
    rows, partial = read_shards(shards)
    return {row[key] for row in rows}, partial


class OtherSetting(RuntimeError):
    """The job directory's predictions were made by another setting than this job's (`differences`: what differs,
    as overrides)."""

    def __init__(self, message: str, differences: str) -> None:
        super().__init__(message)
        self.differences = differences


def check_signature(output_dir: str | Path, signature: dict, record: bool = True) -> None:
    """Fail (OtherSetting) if the shards come from another setting; else record this one as what produced them
    (`record`)."""
    from zerovlm.files import write_bytes_atomic

    path = Path(output_dir) / "shards" / "signature.json"
    text = json.dumps(signature, sort_keys=True, indent=1)
    if path.exists() and path.read_text() != text:
        differ = "; ".join(_differences(json.loads(path.read_text()), signature))
        raise OtherSetting(f"{path.parent}: these predictions were made by another setting than this job's "
                           f"({differ}); run it in a new directory (or delete the shards to start over)", differ)
    if record:
        write_bytes_atomic(path, text.encode())


def _differences(before: dict, now: dict, most: int = 8) -> list[str]:
    """What differs between two settings, as overrides: a group by its name where the names differ
    (generator=oracle there, tiny_zero123 now), else each key that differs (dataset.limit=null there, 7 now)."""
    from zerovlm.results.wandb_report import flat_config  # the config's keys as on the command line

    out = []
    for group in sorted(set(before) | set(now)):
        old, new = before.get(group), now.get(group)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and old.get("name") != new.get("name"):
            out.append(f"{group}={old.get('name')} there, {new.get('name')} now")
            continue
        old_flat, new_flat = flat_config({group: old}), flat_config({group: new})
        out += [f"{key}={_short(old_flat.get(key))} there, {_short(new_flat.get(key))} now"
                for key in sorted(set(old_flat) | set(new_flat)) if old_flat.get(key) != new_flat.get(key)]
    return out[:most] + ([f"and {len(out) - most} more"] if len(out) > most else [])


def _short(value, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def merge_shards(output_dir: str | Path, expected: int, key: str = "id") -> tuple[list[dict], dict]:
    """(rows sorted by id, one per id; summed stats). Fails unless rows name exactly `expected` samples (by `key`:
    a stage with several rows per sample names it in another field)."""
    shards = Path(output_dir) / "shards"
    rows: dict[str, dict] = {}
    duplicates = 0
    all_rows, _ = read_shards(shards)
    for row in all_rows:
        duplicates += row["id"] in rows
        rows.setdefault(row["id"], row)
    scored = len({row[key] for row in rows.values()})
    if scored != expected:
        raise RuntimeError(f"{shards}: {scored} samples were scored but the dataset has {expected}; "
                           "the shards are incomplete (a rank failed?)")
    stats: dict = {"views_generated": 0, "views_cached": 0, "views_corrupt": 0, "generator_counts": {},
                   "prior_counts": {}, "seconds": {}, "duplicates_removed": duplicates}
    for path in sorted(shards.glob("stats.rank*.json")):
        s = json.loads(path.read_text())
        stats["views_generated"] += s["views_generated"]
        stats["views_cached"] += s["views_cached"]
        stats["views_corrupt"] += s.get("views_corrupt", 0)
        for group in ("generator_counts", "prior_counts"):
            for name, count in s.get(group, {}).items():
                stats[group][name] = stats[group].get(name, 0) + count
        for stage, seconds in s["seconds"].items():
            stats["seconds"][stage] = stats["seconds"].get(stage, 0.0) + seconds
    return [rows[k] for k in sorted(rows)], stats
