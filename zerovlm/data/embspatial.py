"""EmbSpatial-Bench (Du et al. 2024): 3640 questions on embodied scenes (Matterport3D, AI2-THOR, ScanNet) about six
egocentric relations (above, below, left, right, close, far), four options each.

Read from the authors' release, `embspatial_bench.json` (`Phineas476/EmbSpatial-Bench` on the Hugging Face hub,
linked from mengfeidu/EmbSpatial-Bench): a JSON list of {data_source, scene_id, question_id, question, relation,
image (base64 JPEG), answer_options, answer (0-based), objects [{name, bbox}]}. The authors publish no evaluation
code ("accuracy; generation and likelihood"): the options are lettered after the question, the objects a question
is about are its `objects`, and accuracy is reported per relation and per data source.
"""

from __future__ import annotations

from zerovlm.data.choice import ChoiceDataset, Question, benchmark_file, decoded, load_table, require_columns

HUB = "Phineas476/EmbSpatial-Bench"
FILE = "embspatial_bench.json"
FIELDS = ("question_id", "question", "relation", "image", "answer_options", "answer")


class EmbSpatialDataset(ChoiceDataset):
    def __init__(self, name: str = "embspatial", source: str | None = None, file: str = FILE,
                 cache_dir: str | None = None, circular: bool = False, limit: int | None = None) -> None:
        hint = f"Set paths.embspatial_dir to a folder holding {file} from {HUB}."
        path = benchmark_file(source or HUB, file, hint)
        rows = load_table("json", split="train", cache_dir=cache_dir, hint=hint, data_files=str(path))
        require_columns(rows, FIELDS, str(path), f"the authors' format ({', '.join(FIELDS)}, objects, data_source)")
        questions = []
        for k, row in enumerate(rows.select_columns([c for c in rows.column_names if c != "image"])):
            options, answer = list(row["answer_options"]), row["answer"]
            if not isinstance(answer, int) or not 0 <= answer < len(options):
                raise ValueError(f"{path}: record {k} ({row['question_id']}): answer {answer!r} is not an index of "
                                 f"its {len(options)} options")
            questions.append(Question(
                id=f"{name}-{row['question_id']}", question=row["question"].strip().lstrip("'"), options=options,
                answer=answer, category=row["relation"], image=decoded(lambda k=k: rows[k]["image"]),
                image_key=f"{name}-{row['question_id']}",
                objects=[o["name"] for o in row.get("objects") or [] if o and o.get("name")],
                meta={"source": row.get("data_source")}))
        super().__init__(name, "embspatial", questions, limit=limit, circular=circular)
