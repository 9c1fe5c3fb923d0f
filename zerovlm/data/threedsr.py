"""3DSRBench (Ma et al. 2024; `ccvl/3DSRBench`): 2772 questions on COCO images about height, location,
orientation and several objects, 12 subtypes.

Read from the file the authors' results come from, `3dsrbench_v1_vlmevalkit_circular.tsv` (VLMEvalKit's format:
index, qid, question, A, B, C, D, answer (a letter), category (the subtype), image (base64 JPEG), image_source,
image_url), and scored as their `compute_3dsrbench_results_circular.py` does:
- CircularEval: the copies of a question with its options reordered (qid "X-1", "X-2", ...: the script drops a
  two-character "-N" suffix) are one group, right only when every copy is right;
- FlipEval: the question asked again about the mirrored picture ("X-flip", reordered "X-flip-1") is a group of its
  own, counted like the original (the released script's computation);
- overall, per type and per subtype: the mean over groups (`circular` in metrics.json).
The prompt lists the options as VLMEvalKit does ("Question: ...\\nOptions:\\nA. ...").
"""

from __future__ import annotations

from zerovlm.backbones.answers import lettered
from zerovlm.data.choice import (
    ChoiceDataset,
    Question,
    benchmark_file,
    decoded,
    letter_index,
    load_table,
    named_objects,
    require_columns,
)

HUB = "ccvl/3DSRBench"
FILE = "3dsrbench_v1_vlmevalkit_circular.tsv"
TYPES = {  # the authors' script's mapping
    "location": ["location_above", "location_closer_to_camera", "location_next_to"],
    "height": ["height_higher"],
    "orientation": ["orientation_in_front_of", "orientation_on_the_left", "orientation_viewpoint"],
    "multi_object": ["multi_object_closer_to", "multi_object_facing", "multi_object_viewpoint_towards_object",
                     "multi_object_parallel", "multi_object_same_direction"],
}
TYPE_OF = {subtype: kind for kind, subtypes in TYPES.items() for subtype in subtypes}


def question_group(qid: str) -> str:
    """The authors' grouping of reordered copies: "X-1" -> "X", "X-flip-2" -> "X-flip", "X-flip" stays."""
    return qid[:-2] if len(qid) > 2 and qid[-2] == "-" else qid


class ThreeDSRBenchDataset(ChoiceDataset):
    def __init__(self, name: str = "3dsrbench", source: str | None = None, file: str = FILE,
                 cache_dir: str | None = None, limit: int | None = None) -> None:
        hint = f"Set paths.threedsr_dir to a folder holding {file} from {HUB}."
        path = benchmark_file(source or HUB, file, hint)
        rows = load_table("csv", split="train", cache_dir=cache_dir, hint=hint, data_files=str(path), delimiter="\t",
                          keep_default_na=False)
        require_columns(rows, ("qid", "question", "A", "B", "answer", "category", "image"), str(path),
                        "VLMEvalKit's TSV (index, qid, question, A, B, C, D, answer, category, image, ...)")
        questions, group_objects = [], {}
        at = {row["index"]: k for k, row in enumerate(rows.select_columns(["index"]))} if "index" in \
            rows.column_names else {}

        def image(k: int) -> str:
            """Row k's base64 image; VLMEvalKit writes a repeated image once and the index of its row elsewhere."""
            data = rows[k]["image"]
            if len(data) <= 64 and data.strip().isdigit() and int(data) in at:
                data = rows[at[int(data)]]["image"]
            return data

        for k, row in enumerate(rows.select_columns([c for c in rows.column_names if c != "image"])):
            where = f"{path}:{k + 2} (qid {row['qid']})"
            options = [row[c] for c in "ABCD" if row.get(c) not in (None, "")]
            if row["category"] not in TYPE_OF:
                raise ValueError(f"{where}: category {row['category']!r} is none of 3DSRBench's subtypes")
            group = question_group(row["qid"])
            questions.append(Question(
                id=f"{name}-{row['qid']}", question=row["question"], options=options,
                answer=letter_index(row["answer"], len(options), where), category=row["category"],
                image=decoded(lambda k=k: image(k)),
                image_key=f"{name}-{group.removesuffix('-flip')}",  # the photo (mirrored or not): one bootstrap unit
                prompt=f"Question: {row['question']}\nOptions:\n{lettered(options)}",
                # the objects in one order for every copy (the prior's text and cache do not follow the options)
                objects=group_objects.setdefault(group.removesuffix("-flip"), named_objects(row["question"], options)),
                meta={"group": f"{name}-{group}", "type": TYPE_OF[row["category"]],
                      "flipped": "-flip" in row["qid"]}))
        super().__init__(name, "3dsrbench", questions, limit=limit)
