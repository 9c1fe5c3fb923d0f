"""BLINK (Fu et al. 2024; `BLINK-Benchmark/BLINK`): its spatial subtasks, val split (the test answers are hidden).

- Spatial_Relation (143): "Is the car beneath the cat?", yes / no; from VSR's images and relations.
- Relative_Depth (124): two points circled and labelled A and B: which is closer to the camera.
- Multi-view_Reasoning (133): two frames of a static scene: is the camera moving left or right.

One parquet per subtask (config = subtask), fields idx, question, prompt (the question with "(A) ..." choices),
choices, answer ("(A)"), image_1 ... image_4 (embedded; unused ones empty). A question's images are shown side by
side in their order (Multi-view_Reasoning: the first frame on the left), and its prompt is the row's `prompt`, as
the authors send it (eval/test_benchmark.py). Accuracy per subtask, as the authors report it (eval/evaluate.py).
"""

from __future__ import annotations

from zerovlm.data.choice import (
    ChoiceDataset,
    Question,
    letter_index,
    load_table,
    named_objects,
    require_columns,
    table_image,
)

HUB = "BLINK-Benchmark/BLINK"
SUBTASKS = ("Spatial_Relation", "Relative_Depth", "Multi-view_Reasoning")
IMAGES = ("image_1", "image_2", "image_3", "image_4")


class BlinkDataset(ChoiceDataset):
    def __init__(self, name: str = "blink_spatial", subtask: str = "Spatial_Relation", source: str | None = None,
                 split: str = "val", cache_dir: str | None = None, circular: bool = False,
                 limit: int | None = None) -> None:
        if subtask not in SUBTASKS:
            raise ValueError(f"dataset.subtask={subtask!r}: the spatial subtasks of BLINK here are "
                             f"{', '.join(SUBTASKS)}")
        if split != "val":
            raise ValueError(f"dataset.split={split!r}: BLINK's test answers are hidden (scored on its server); "
                             "use val")
        source = source or HUB
        rows = load_table(source, subtask, split, cache_dir,
                          hint=f"Set paths.blink_dir to a copy of the dataset repository {HUB} (its README.md and "
                               f"{subtask}/val-*.parquet).")
        require_columns(rows, ("idx", "question", "prompt", "choices", "answer", "image_1"), f"{source} ({subtask})",
                        "BLINK's fields (idx, question, prompt, choices, answer, image_1 ... image_4)")
        images = tuple(c for c in IMAGES if c in rows.column_names)
        questions = []
        for k, row in enumerate(rows.select_columns([c for c in rows.column_names if c not in IMAGES])):
            where = f"{source} ({subtask}) row {k} ({row['idx']})"
            questions.append(Question(
                id=f"{name}-{row['idx']}", question=row["question"], options=list(row["choices"]),
                answer=letter_index(row["answer"], len(row["choices"]), where), category=subtask,
                image=table_image(rows, k, images), image_key=f"{name}-{row['idx']}", prompt=row["prompt"],
                objects=named_objects(row["question"], list(row["choices"])), split=split))
        super().__init__(name, "blink", questions, limit=limit, circular=circular)
