"""Each rank writes its predictions as they come; rank 0 merges them after the last batch.

Rank r appends to shards/predictions.rank{r}.jsonl after every batch (flushed), and at the end writes
shards/stats.rank{r}.json (view counts, seconds per stage). After a barrier, `merge_shards` on rank 0 keeps one
row per sample id and checks that the count equals the dataset size.
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
        self._file = open(self.shards / f"predictions.rank{trainer.global_rank}.jsonl", "w")

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        for row in prediction["rows"]:
            self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        for index, sample, picture in zip(batch_indices, batch, prediction["pictures"], strict=True):
            if picture is not None and index < self.num_sample_images:  # the dataset's first, on any rank
                picture.save(self.inputs / f"{sample.id}.png")

    def on_predict_end(self, trainer, pl_module) -> None:
        self._file.close()
        stats = {
            "views_generated": pl_module.views.generated, "views_cached": pl_module.views.cached,
            "generator_counts": dict(getattr(pl_module.views.generator, "counts", {})),
            "prior_counts": dict(getattr(getattr(pl_module, "prior", None), "counts", {})),
            "seconds": dict(pl_module.seconds),
        }
        (self.shards / f"stats.rank{trainer.global_rank}.json").write_text(json.dumps(stats))
        trainer.strategy.barrier("zerovlm-merge")


def merge_shards(output_dir: str | Path, expected: int, key: str = "id") -> tuple[list[dict], dict]:
    """(rows sorted by id, one per id; summed stats). Fails unless rows name exactly `expected` samples (by `key`:
    a stage with several rows per sample names it in another field)."""
    shards = Path(output_dir) / "shards"
    rows: dict[str, dict] = {}
    duplicates = 0
    for path in sorted(shards.glob("predictions.rank*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            duplicates += row["id"] in rows
            rows.setdefault(row["id"], row)
    scored = len({row[key] for row in rows.values()})
    if scored != expected:
        raise RuntimeError(f"{shards}: {scored} samples were scored but the dataset has {expected}; "
                           "the shards are incomplete (a rank failed?)")
    stats: dict = {"views_generated": 0, "views_cached": 0, "generator_counts": {}, "prior_counts": {},
                   "seconds": {}, "world_size": 0, "duplicates_removed": duplicates}
    for path in sorted(shards.glob("stats.rank*.json")):
        s = json.loads(path.read_text())
        stats["world_size"] += 1
        stats["views_generated"] += s["views_generated"]
        stats["views_cached"] += s["views_cached"]
        for group in ("generator_counts", "prior_counts"):
            for name, count in s.get(group, {}).items():
                stats[group][name] = stats[group].get(name, 0) + count
        for stage, seconds in s["seconds"].items():
            stats["seconds"][stage] = stats["seconds"].get(stage, 0.0) + seconds
    return [rows[k] for k in sorted(rows)], stats
