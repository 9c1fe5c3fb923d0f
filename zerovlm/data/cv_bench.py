"""CV-Bench (Tong et al. 2024, Cambrian-1; `nyu-visionx/CV-Bench`): 2638 questions on ADE20K, COCO and Omni3D images.

2D: Count and Relation; 3D: Depth (which object is closer) and Distance (which is closer to a third). The
published parquet files (configs `2D` and `3D`, split `test`) carry each row's image and the fields idx, type,
task, question, choices, answer ("(C)"), prompt (the question with its choices as "(A) ..."), source, ...

`config: all` reads both, for the combined score. The prompt is the row's own `prompt` with "Answer with the
option's letter from the given choices directly.", as the authors' evaluation asks it (cambrian-mllm/cambrian
eval/eval/{ade,coco,omni}). Per-task accuracy, and the card's combined score: ((accuracy on ADE20K + on COCO) / 2
+ accuracy on Omni3D) / 2 (`cv_bench_accuracy`).
"""

from __future__ import annotations

from zerovlm.data.choice import (
    ChoiceDataset,
    Question,
    first_questions,
    letter_index,
    load_table,
    named_objects,
    require_columns,
    table_image,
)
from zerovlm.data.records import check_limit

HUB = "nyu-visionx/CV-Bench"
CONFIGS = ("2D", "3D")
COLUMNS = ("idx", "type", "task", "image", "question", "choices", "answer", "prompt", "source")


class CVBenchDataset(ChoiceDataset):
    def __init__(self, name: str = "cv_bench_2d", config: str = "2D", source: str | None = None,
                 cache_dir: str | None = None, circular: bool = False, limit: int | None = None) -> None:
        if config not in (*CONFIGS, "all"):
            raise ValueError(f"dataset.config={config!r}: CV-Bench's configs are {', '.join(CONFIGS)} (or all)")
        source = source or HUB
        check_limit(limit)
        questions = []
        for part in CONFIGS if config == "all" else (config,):  # a limit keeps N of each (both are split test)
            rows = load_table(source, part, "test", cache_dir,
                              hint=f"Set paths.cv_bench_dir to a copy of the dataset repository {HUB} (its README.md, "
                                   "test_2d.parquet and test_3d.parquet).")
            require_columns(rows, COLUMNS, f"{source} ({part})", f"CV-Bench's fields ({', '.join(COLUMNS)}, ...)")
            questions += first_questions(self._questions(name, source, part, rows), limit)
        super().__init__(name, "cv_bench", questions, circular=circular)

    @staticmethod
    def _questions(name: str, source: str, config: str, rows) -> list[Question]:
        questions = []
        for k, row in enumerate(rows.select_columns([c for c in rows.column_names if c != "image"])):
            where = f"{source} ({config}) row {k} (idx {row.get('idx')})"
            questions.append(Question(
                id=f"{name}-{config}-{row['idx']}", question=row["question"], options=list(row["choices"]),
                answer=letter_index(row["answer"], len(row["choices"]), where), category=row["task"],
                image=table_image(rows, k), image_key=f"{name}-{row.get('filename') or row['idx']}",
                prompt=row["prompt"], objects=named_objects(row["question"], list(row["choices"])),
                meta={"source": row["source"], "type": row["type"]}))
        return questions

