"""What'sUp (Kamath, Hessel & Chang, EMNLP 2023): controlled photos (subset A: on / under / left of / right of)
and CLEVR renders (subset B: left of / right of / in front of / behind).

`data_dir` holds the authors' release: controlled_images_dataset.json with controlled_images/ (A), and
controlled_clevr_dataset.json with controlled_clevr/ (B). Each record is {image_path, caption_options[4]}, the
first caption correct; the relation and the two objects are in the file name ("mug_left_of_plate.jpeg").
Image paths in the release are relative to the authors' working directory ("data/controlled_images/..."); they
are resolved here relative to `data_dir`.

Tasks:
- verify (the ZeroVLM setting): each caption is a statement; the first is true, the three others are false
  statements of the relation-swapped kind.
- original: What'sUp's own 4-way caption choice, scored by the backbone's likelihood of each caption. Reported
  as individual, pair and set accuracy as the What'sUp paper defines them, and per preposition.
- zerovlm: the true caption with negatives derived as in data/task.py.

What'sUp has no splits. Here an object pair (all its images, one per preposition) goes to one split, drawn by a
seeded permutation of the sorted pairs with `split_fractions`: no pair, so no image, is in two splits.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from zerovlm.data.images import first_existing
from zerovlm.data.jsonl import read_json
from zerovlm.data.records import Record, RecordDataset
from zerovlm.data.sample import NEGATIVE_TYPES
from zerovlm.data.task import derive_negatives

SUBSETS = {"A": ("controlled_images_dataset.json", "controlled_images"),
           "B": ("controlled_clevr_dataset.json", "controlled_clevr")}
RELEASE = ("https://github.com/amitakamath/whatsup_vlms (its README links the annotation json files and the "
           "controlled_images.tar.gz / controlled_clevr.tar.gz image archives)")
PREPOSITIONS = {"on": "on", "under": "under", "left_of": "left of", "right_of": "right of",
                "in-front_of": "in front of", "behind": "behind"}
FILE_NAME = re.compile(r"^(?P<a>.+?)_(?P<rel>" + "|".join(PREPOSITIONS) + r")_(?P<b>.+)\.[A-Za-z]+$")
TASKS = ("verify", "original", "zerovlm")


def parse_file_name(image_path: str) -> tuple[str, str, str] | None:
    """(subject, relation, object) from "beer-bottle_on_armchair.jpeg"; None if the name is not of that form."""
    m = FILE_NAME.match(Path(image_path).name)
    if m is None:
        return None
    return m.group("a").replace("-", " "), PREPOSITIONS[m.group("rel")], m.group("b").replace("-", " ")


def split_pairs(pairs: list[tuple[str, str]], fractions: dict[str, float], seed: int) -> dict[tuple[str, str], str]:
    pairs = sorted(set(pairs))
    order = np.random.default_rng([seed, 7]).permutation(len(pairs))
    total = sum(fractions.values())
    bounds = np.rint(np.cumsum([f / total for f in fractions.values()]) * len(pairs))
    names = list(fractions)
    return {pairs[i]: names[min(int(np.searchsorted(bounds, rank, side="right")), len(names) - 1)]
            for rank, i in enumerate(order)}


class WhatsUpDataset(RecordDataset):
    def __init__(self, name: str = "whatsup_a", subset: str = "A", data_dir: str | None = None, splits=("test",),
                 split_fractions: dict | None = None, task: str = "verify",
                 negatives=NEGATIVE_TYPES, on_missing: str = "error", seed: int = 0, limit: int | None = None) -> None:
        if subset not in SUBSETS:
            raise ValueError(f"dataset.subset={subset!r}: What'sUp subsets are {sorted(SUBSETS)}")
        if task not in TASKS:
            raise ValueError(f"dataset.task={task!r}: What'sUp supports {', '.join(TASKS)}")
        fractions = dict(split_fractions or {"dev": 0.5, "test": 0.5})
        unknown = set(splits) - set(fractions)
        if unknown:
            raise ValueError(f"dataset.splits has {sorted(unknown)}; the What'sUp splits are {sorted(fractions)}")
        annotation, image_dir = SUBSETS[subset]
        if data_dir is None:
            raise ValueError(f"paths.whatsup_dir (dataset.data_dir) is not set: point it at the folder holding "
                             f"{annotation} and "
                             f"{image_dir}/, from {RELEASE}")
        data_dir = Path(data_dir)
        path = data_dir / annotation
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: What'sUp subset {subset} needs {annotation} and {image_dir}/ "
                                    f"in paths.whatsup_dir (dataset.data_dir); they are published at {RELEASE}")
        self.missing_image_hint = (f"paths.whatsup_dir (dataset.data_dir) must hold {image_dir}/ from {RELEASE}; "
                                   "dataset.on_missing=skip skips and counts such samples.")
        items = read_json(path)

        parsed = []
        for index, item in enumerate(items):
            where = f"{path}: record {index}"
            if not isinstance(item, dict) or not isinstance(item.get("image_path"), str) or \
                    not (isinstance(item.get("caption_options"), list) and len(item["caption_options"]) == 4):
                raise ValueError(f"{where}: expected {{image_path: str, caption_options: [4 captions]}}, "
                                 f"got {str(item)[:200]}")
            names = parse_file_name(item["image_path"])
            if names is None:
                raise ValueError(f"{where}: file name {item['image_path']!r} does not name "
                                 f"<object>_<{'|'.join(PREPOSITIONS)}>_<object>")
            parsed.append((index, item, names))
        split_of = split_pairs([(a, b) for _, _, (a, _, b) in parsed], fractions, seed)

        records, image_objects = [], defaultdict(set)
        for index, item, (subject, relation, obj) in parsed:
            image_objects[item["image_path"]] |= {subject, obj}
            split = split_of[(subject, obj)]
            if split not in splits:
                continue
            image_path = resolve_image(data_dir, image_dir, item["image_path"])
            base = Record(id=f"{name}-{image_path.stem}", split=split, image_path=image_path,
                          statement=item["caption_options"][0], label=True, relation=relation, subject=subject,
                          object=obj, meta={"image": item["image_path"], "record": index, "pair": f"{subject}|{obj}"})
            if task == "original":
                base.options, base.answer = list(item["caption_options"]), 0
                records.append(base)
            elif task == "zerovlm":
                records.append(base)
            else:  # verify: every caption a statement, the first true
                records.append(base)
                for k, caption in enumerate(item["caption_options"][1:], start=1):
                    swapped = caption_relation(caption)
                    records.append(Record(id=f"{base.id}-{k}", split=split, image_path=image_path, statement=caption,
                                          label=False, relation=swapped, subject=subject, object=obj,
                                          negative_type="relation_swap", meta=dict(base.meta)))
        skipped = None
        if task == "zerovlm":
            records, skipped = derive_negatives(records, image_objects, list(PREPOSITIONS.values()), list(negatives),
                                                seed)
        super().__init__(name, records, on_missing=on_missing, limit=limit, skipped=skipped,
                         selection=f"splits={list(splits)}, task={task}, ")


def resolve_image(data_dir: Path, image_dir: str, image_path: str) -> Path:
    """The release's "data/controlled_images/x.jpeg" found under data_dir, as data_dir/controlled_images/x.jpeg,
    data_dir/data/controlled_images/x.jpeg or data_dir/<path without its first folder>."""
    rel = Path(image_path)
    candidates = [data_dir / image_dir / rel.name, data_dir / rel]
    if len(rel.parts) > 1:
        candidates.append(data_dir / Path(*rel.parts[1:]))
    return first_existing(candidates)


def caption_relation(caption: str) -> str:
    """The preposition a caption states (for the per-relation report of the false captions)."""
    for words in sorted(PREPOSITIONS.values(), key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(words)}(?![\w-])", caption):
            return words
    return "unknown"
