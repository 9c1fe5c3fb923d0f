"""Datasets of annotation records whose images are files on disk (VSR, What'sUp)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zerovlm.data.images import load_image, readable
from zerovlm.data.sample import TRUE_STATEMENT, Sample

ON_MISSING = ("error", "skip")


def check_limit(limit: int | None) -> None:
    """A limit is a positive number of samples, or null for all (a negative one would slice from the end)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"dataset.limit={limit!r}: a limit is a positive number of samples per split, or null "
                         "for all")


def first_per_split(records: list, limit: int | None, split=lambda r: r.split) -> list:
    """The first `limit` records of each split, in the dataset's order (so dev and test both keep samples); the
    callers check the limit first (`check_limit`)."""
    if limit is None:
        return records
    taken: Counter = Counter()
    kept = []
    for r in records:
        if taken[split(r)] < limit:
            taken[split(r)] += 1
            kept.append(r)
    return kept


@dataclass
class Record:
    """A Sample before its image is loaded."""

    id: str
    split: str
    image_path: Path
    statement: str
    label: bool
    relation: str
    subject: str
    object: str
    negative_type: str = TRUE_STATEMENT
    category: str | None = None
    options: list[str] | None = None
    answer: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class RecordDataset:
    """A sequence of Samples from records. Missing images fail in `check_images`, which a job calls before any
    model loads, naming a sample, the path, how many are missing and where they are looked for; an image that
    exists but cannot be decoded fails when loaded, saying so. With on_missing=skip both are left out up front and
    counted (`skipped["missing_image"]`, `skipped["corrupt_image"]`, on the console and in metrics.json)."""

    missing_image_hint = "Check the dataset's image directory."

    def __init__(self, name: str, records: list[Record], on_missing: str = "error", limit: int | None = None,
                 skipped: Counter | None = None, selection: str = "") -> None:
        if on_missing not in ON_MISSING:
            raise ValueError(f"dataset.on_missing={on_missing!r}: choose one of {', '.join(ON_MISSING)}")
        check_limit(limit)  # before the images are checked
        self.name = name
        self.skipped: Counter = Counter(skipped or {})
        if on_missing == "skip":
            present = [r for r in records if r.image_path.is_file()]
            kept = [r for r in present if readable(r.image_path)]
            self.skipped["missing_image"] += len(records) - len(present)
            self.skipped["corrupt_image"] += len(present) - len(kept)
            self.skipped = +self.skipped  # no zero counts
            records = kept
        self.records = first_per_split(records, limit)
        if not self.records:
            raise ValueError(f"dataset={name} selected no samples ({selection}limit={limit}, "
                             f"skipped={dict(self.skipped)}): nothing to score")

    def __len__(self) -> int:
        return len(self.records)

    def check_images(self) -> None:
        """Fail, before any model loads, when images are missing: a stat per image, no decoding (a damaged image
        fails when it is loaded). The annotations alone make a dataset: this is the job's check (run.py)."""
        missing = [r for r in self.records if not r.image_path.is_file()]
        if missing:
            images = len({r.image_path for r in self.records})
            raise FileNotFoundError(
                f"sample {missing[0].id}: image {missing[0].image_path} does not exist "
                f"({len({r.image_path for r in missing})} of the {images} images of dataset={self.name} are "
                f"missing). {self.missing_image_hint}")

    def sample_ids(self) -> list[str]:
        return [r.id for r in self.records]

    def text_lengths(self) -> list[int]:
        """Characters of text per sample (statement and options), for length-sorted batches."""
        return [len(r.statement) + sum(len(o) for o in r.options or []) for r in self.records]

    def image_keys(self) -> list[str]:
        """The image each sample shows, so the statements about one image can share a batch."""
        return [str(r.image_path) for r in self.records]

    def __getitem__(self, i: int) -> Sample:
        r = self.records[i]
        image = load_image(r.image_path, r.id, self.missing_image_hint)
        return Sample(id=r.id, split=r.split, image=image, statement=r.statement, label=r.label, relation=r.relation,
                      subject=r.subject, object=r.object, negative_type=r.negative_type, category=r.category,
                      options=r.options, answer=r.answer, meta=dict(r.meta, image_path=str(r.image_path)))
