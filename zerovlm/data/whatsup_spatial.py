"""What'sUp's COCO-spatial and GQA-spatial subsets (Kamath et al. 2023): real photos, one or two objects.

From the authors' release (amitakamath/whatsup_vlms, its README links the files): `coco_qa_one_obj.json`,
`coco_qa_two_obj.json` with COCO 2017 val images (`val2017/<id as 12 digits>.jpg`), and `vg_qa_one_obj.json`,
`vg_qa_two_obj.json` with Visual Genome images (`vg_images/<id>.jpg`). Each row is [image id, caption, caption],
the first correct; the second is the same caption with the opposite preposition ("A photo of a dog to the left of
a cat" / "... to the right of ...").

Tasks, as for the controlled subsets (whatsup.py):
- original: the two-way caption choice the authors score (each caption's likelihood as the model's description).
  Their script counts a tie as right (numpy's argmax); here a tie is counted and wrong.
- verify: each caption a true/false statement (the first true, the second false, relation_swap).
The paper reports COCO-spatial and GQA-spatial as the mean of the one- and two-object subsets.
"""

from __future__ import annotations

import re
from pathlib import Path

from zerovlm.data.jsonl import read_json
from zerovlm.data.records import Record, RecordDataset

SUBSETS = {"coco_one": ("coco_qa_one_obj.json", "val2017"), "coco_two": ("coco_qa_two_obj.json", "val2017"),
           "gqa_one": ("vg_qa_one_obj.json", "vg_images"), "gqa_two": ("vg_qa_two_obj.json", "vg_images")}
TASKS = ("original", "verify")
RELEASE = "https://github.com/amitakamath/whatsup_vlms (its README links the json files and the image archives)"
RELATIONS = {"to the left of": "left of", "to the right of": "right of", "above": "above", "below": "below",
             "in front of": "in front of", "behind": "behind", "to the front of": "in front of",
             "to the behind of": "behind"}
# "A photo of a <a> <relation> a <b>" (two objects) or "A photo of a <a> on the <side>" (one object)
TWO = re.compile(r"^a photo of (?:a |an )?(?P<a>.+?) (?P<rel>to the left of|to the right of|above|below|"
                 r"in front of|behind|to the front of|to the behind of) (?:a |an )?(?P<b>.+?)\.?$", re.IGNORECASE)
ONE = re.compile(r"^a photo of (?:a |an )?(?P<a>.+?) on the (?P<side>left|right|top|bottom)\.?$", re.IGNORECASE)


def parse_caption(caption: str) -> tuple[str, str, str]:
    """(subject, relation, object) of a caption; the object is "" for a one-object caption ("on the left")."""
    if m := TWO.match(caption.strip()):
        return m.group("a"), RELATIONS[m.group("rel").lower()], m.group("b")
    if m := ONE.match(caption.strip()):
        return m.group("a"), f"on the {m.group('side').lower()}", ""
    return "", "unknown", ""


class WhatsUpSpatialDataset(RecordDataset):
    def __init__(self, name: str = "whatsup_coco_one", subset: str = "coco_one", data_dir: str | None = None,
                 image_dir: str | None = None, task: str = "original", on_missing: str = "error",
                 limit: int | None = None) -> None:
        if subset not in SUBSETS:
            raise ValueError(f"dataset.subset={subset!r}: choose one of {', '.join(SUBSETS)}")
        if task not in TASKS:
            raise ValueError(f"dataset.task={task!r}: choose one of {', '.join(TASKS)}")
        annotation, folder = SUBSETS[subset]
        if data_dir is None:
            raise ValueError(f"paths.whatsup_dir (dataset.data_dir) is not set: point it at the folder holding "
                             f"{annotation} and "
                             f"{folder}/, from {RELEASE}")
        path = Path(data_dir) / annotation
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: What'sUp's {subset} subset needs {annotation} and "
                                    f"{folder}/ in paths.whatsup_dir (dataset.data_dir), from {RELEASE}")
        images = Path(image_dir) if image_dir else Path(data_dir) / folder
        self.missing_image_hint = (f"dataset.image_dir (or {folder}/ in paths.whatsup_dir) must hold the images, "
                                   f"from {RELEASE}; dataset.on_missing=skip skips and counts such samples.")
        rows = read_json(path)
        records = []
        for index, row in enumerate(rows):
            if not (isinstance(row, list) and len(row) >= 3 and all(isinstance(c, str) for c in row[1:])):
                raise ValueError(f"{path}: row {index}: expected [image id, correct caption, other caption], got "
                                 f"{str(row)[:200]}")
            image_id, captions = row[0], list(row[1:])
            file = f"{int(image_id):012d}.jpg" if folder == "val2017" else f"{image_id}.jpg"
            subject, relation, obj = parse_caption(captions[0])
            base = Record(id=f"{name}-{index:05d}", split="test", image_path=images / file, statement=captions[0],
                          label=True, relation=relation, subject=subject, object=obj,
                          meta={"image": file, "record": index})
            if task == "original":
                base.options, base.answer = captions, 0
                records.append(base)
                continue
            records.append(base)
            for k, caption in enumerate(captions[1:], start=1):
                records.append(Record(id=f"{base.id}-{k}", split="test", image_path=images / file, statement=caption,
                                      label=False, relation=parse_caption(caption)[1], subject=subject, object=obj,
                                      negative_type="relation_swap", meta=dict(base.meta)))
        super().__init__(name, records, on_missing=on_missing, limit=limit, selection=f"task={task}, ")
