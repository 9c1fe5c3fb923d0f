"""VSR, Visual Spatial Reasoning (Liu, Emerson & Collier, TACL 2023): the random and zero-shot splits.

Annotations: train/dev/test.jsonl from the Hugging Face dataset repo (`cambridgeltl/vsr_random` or
`cambridgeltl/vsr_zeroshot`, through huggingface_hub's cache) or from `annotations_dir` (offline clusters).
Images: COCO 2017, found under `image_root` as train2017/ and val2017/ or one merged folder; with
`download_images`, missing ones are fetched once from each record's image_link into `image_cache_dir`.

Subject and object come from the caption ("The cat is on the table."), not from the zero-shot split's
`subj`/`obj` fields, some of which are truncated ("orse").

`task=zerovlm` derives the paper's negatives from the true statements: an object swap brings in an object named
in the same split (never one named about that image in any split), so the zero-shot split's test negatives stay
within its test concepts; the random split follows the same rule.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

from zerovlm.data.images import download_missing, first_existing
from zerovlm.data.jsonl import read_jsonl, require
from zerovlm.data.records import Record, RecordDataset
from zerovlm.data.relations import UNCATEGORIZED, vsr_meta_categories
from zerovlm.data.sample import DATASET_NEGATIVE, TRUE_STATEMENT
from zerovlm.data.task import derive_negatives

SPLITS = ("train", "dev", "test")
TASKS = ("original", "zerovlm")
FIELDS = {"image": str, "image_link": str, "caption": str, "label": int, "relation": str}
VERB_RELATIONS = {"contains", "consists of", "has as a part"}


def parse_caption(caption: str, relation: str) -> tuple[str, str, str] | None:
    """(subject, copula, object) of "The <subject> is <relation> the <object>." (the copula may be "are" or
    absent, as in "The cake consists of the dog."); None if the caption is not of that form."""
    m = re.match(rf"^The (.+?) (?:(is|are|was|were) )?{re.escape(relation)} the (.+?)\.?$", caption.strip())
    return (m.group(1), m.group(2) or "", m.group(3)) if m else None


def compose(record, subject: str, relation: str, obj: str) -> str:
    """A statement in VSR's wording; verb relations ("contains") take no copula, others the caption's or "is"."""
    copula = "" if relation in VERB_RELATIONS else (record.meta.get("copula") or "is") + " "
    return f"The {subject} {copula}{relation} the {obj}."


def annotation_file(split: str, annotations_dir: str | None, hf_repo: str, revision: str | None) -> Path:
    if annotations_dir is not None:
        path = Path(annotations_dir) / f"{split}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: set paths.vsr_splits_dir to VSR's data/splits folder (of "
                                    "cambridgeltl/visual-spatial-reasoning: random/ and zeroshot/, each with "
                                    "train.jsonl, dev.jsonl and test.jsonl), or dataset.annotations_dir to one of "
                                    "those two folders")
        return path
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(hf_repo, f"{split}.jsonl", repo_type="dataset", revision=revision))
    except Exception as error:  # offline, no network, or not in the cache
        raise FileNotFoundError(
            f"could not get {split}.jsonl of the Hugging Face dataset {hf_repo} ({type(error).__name__}: {error}). "
            "Offline: set paths.vsr_splits_dir to VSR's data/splits folder (random/ and zeroshot/, each with "
            "train.jsonl, dev.jsonl and test.jsonl), or dataset.annotations_dir to one of those two folders."
        ) from None


class VSRDataset(RecordDataset):
    missing_image_hint = ("Set paths.coco_dir (dataset.image_root) to the folder holding COCO 2017 train2017/ and "
                          "val2017/ (or one merged folder), or dataset.download_images=true; dataset.on_missing=skip "
                          "skips and counts such samples.")

    def __init__(self, name: str = "vsr_random", hf_repo: str = "cambridgeltl/vsr_random",
                 revision: str | None = None, annotations_dir: str | None = None, splits=("test",),
                 image_root: str | None = None, download_images: bool = False, image_cache_dir: str | None = None,
                 on_missing: str = "error", task: str = "original", negatives=("relation_swap", "object_swap"),
                 seed: int = 0, limit: int | None = None) -> None:
        unknown = set(splits) - set(SPLITS)
        if unknown:
            raise ValueError(f"dataset.splits has {sorted(unknown)}; VSR's splits are {list(SPLITS)}")
        if task not in TASKS:
            raise ValueError(f"dataset.task={task!r}: VSR supports {', '.join(TASKS)}")
        categories = vsr_meta_categories()
        roots = [Path(image_root)] if image_root else []
        cache = Path(image_cache_dir) if image_cache_dir else None
        files = {s: annotation_file(s, annotations_dir, hf_repo, revision) for s in splits}
        if task == "zerovlm":  # objects named about an image anywhere in the dataset are not swapped in
            files.update({s: annotation_file(s, annotations_dir, hf_repo, revision) for s in SPLITS})

        records, image_objects, split_objects, relations = [], defaultdict(set), defaultdict(set), set()
        for split, path in files.items():
            for line, raw in read_jsonl(path):
                where = f"{path}:{line}"
                require(raw, FIELDS, where)
                parsed = parse_caption(raw["caption"], raw["relation"])
                if parsed is None:
                    raise ValueError(f"{where}: caption {raw['caption']!r} is not 'The <subject> is "
                                     f"{raw['relation']} the <object>.'")
                subject, copula, obj = parsed
                image_objects[raw["image"]] |= {subject, obj}
                split_objects[split] |= {subject, obj}
                relations.add(raw["relation"])
                if split not in splits:
                    continue
                coco_split = raw["image_link"].rstrip("/").split("/")[-2]  # train2017 | val2017: look there first
                folders = (coco_split, ".", *(f for f in ("train2017", "val2017") if f != coco_split))
                candidates = [root / folder / raw["image"] for root in roots for folder in folders]
                if cache is not None:
                    candidates.append(cache / raw["image"])
                label = raw["label"] == 1
                records.append(Record(
                    id=f"{name}-{split}-{line:05d}", split=split,
                    image_path=first_existing(candidates) if candidates else Path(raw["image"]),
                    statement=raw["caption"], label=label, relation=raw["relation"], subject=subject, object=obj,
                    negative_type=TRUE_STATEMENT if label else DATASET_NEGATIVE,
                    meta={"image": raw["image"], "image_link": raw["image_link"], "copula": copula,
                          "file": str(path), "line": line},
                ))

        skipped: Counter = Counter()
        if task == "zerovlm":
            records, skipped = derive_negatives([r for r in records if r.label], image_objects, sorted(relations),
                                                list(negatives), seed, compose=compose, split_objects=split_objects)
        for r in records:
            r.category = categories.get(r.relation, UNCATEGORIZED)
        if download_images:
            if cache is None:
                raise ValueError("dataset.download_images=true needs dataset.image_cache_dir")
            wanted = {r.meta["image"]: r for r in records if not r.image_path.is_file()}
            download_missing([(r.meta["image_link"], cache / image) for image, r in wanted.items()])
            for r in records:
                if not r.image_path.is_file() and (cache / r.meta["image"]).is_file():
                    r.image_path = cache / r.meta["image"]
        super().__init__(name, records, on_missing=on_missing, limit=limit, skipped=skipped,
                         selection=f"splits={list(splits)}, task={task}, ")
