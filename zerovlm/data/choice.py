"""Multiple-choice questions about images, from the spatial benchmarks' published files (cv_bench.py, blink.py,
threedsr.py, embspatial.py): what they share.

A loader turns a benchmark's rows into `Question`s; `ChoiceDataset` makes them Samples (`question` holds the
prompt with its options, `statement` the bare question, `options` and `answer` the choices and the right one).

- The prompt: the benchmark's own question-with-choices where it publishes one (CV-Bench's and BLINK's `prompt`),
  else the question and its options lettered "A. ...", as VLMEvalKit lists them.
- Limits apply to whole questions: `dataset.limit=N` keeps a split's first N questions with every reordered copy
  of each (3DSRBench's mirrored question is a question of its own, as its authors count it).
- `dataset.circular=true` asks every question once per rotation of its options, each listed the same way
  ("A. ..."); metrics.json then has CircularEval's accuracy (a question counts when every rotation is answered
  right). 3DSRBench ships its own reordered copies.
- The objects a question names, for the 3D prior: the benchmark's annotation where it has one (EmbSpatial's
  `objects`, CV-Bench's "the chair (highlighted by a red box)"), the options where the question asks "which
  object", or "Is the X <relation> the Y?" read with VSR's relations (BLINK's questions come from VSR).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from zerovlm.backbones.answers import LETTERS, lettered
from zerovlm.data.records import check_limit
from zerovlm.data.relations import OPPOSITES, vsr_meta_categories
from zerovlm.data.sample import Sample

# what a row of predictions.jsonl carries from a question (metrics.choice_metrics reads them)
CHOICE_FIELDS = ("benchmark", "group", "rotation", "source", "type", "flipped")
# "the chair (highlighted by a red box)": a noun phrase of up to four words before the bracket
_NAMED_IN_BRACKETS = re.compile(r"\bthe\s+((?:[a-z0-9\-']+\s+){0,3}?[a-z0-9\-']+)\s*"
                                r"\((?:highlighted|annotated|marked)\b")
_WHICH_OBJECT = re.compile(r"\bwhich\s+(?:object|item|one)\b", re.IGNORECASE)


@dataclass
class Question:
    id: str
    question: str  # the bare question
    options: list[str]
    answer: int  # index of the right option
    category: str  # as the benchmark reports it (task, relation, subtype)
    image: Callable[[], Image.Image]  # decodes the embedded image when the sample is made
    image_key: str  # the picture's identity: questions about one picture share a batch and a bootstrap group
    prompt: str | None = None  # the benchmark's own question-with-options, when it publishes one
    objects: list[str] = field(default_factory=list)  # the objects the question names (for the 3D prior)
    split: str = "test"
    meta: dict = field(default_factory=dict)  # benchmark, group (copies of one question), source, type, flipped


def load_table(source: str, config: str | None = None, split: str | None = None, cache_dir: str | None = None,
               hint: str = "", **kwargs):
    """A benchmark's rows through the `datasets` library: `source` is a Hugging Face dataset id (read through the
    hub's cache, so offline once fetched), a local copy of its repository, or a builder ("csv", "json") with
    `data_files`. Fails naming the source and what to set when it cannot be read."""
    import datasets

    datasets.disable_progress_bars()
    try:
        return datasets.load_dataset(source, config, split=split, cache_dir=cache_dir, **kwargs)
    except Exception as error:  # noqa: BLE001 - offline, not cached, not found: all say the same to the user
        what = kwargs.get("data_files") or source
        raise FileNotFoundError(f"could not read {what} (config {config}, split {split}): {type(error).__name__}: "
                                f"{str(error)[:300]}. {hint}") from None


def benchmark_file(source: str, filename: str, hint: str) -> Path:
    """A file of a benchmark's release: `source` is a local folder holding it, or a Hugging Face dataset id whose
    file is read through the hub's cache."""
    if Path(source).is_dir():
        path = Path(source) / filename
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found. {hint}")
        return path
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(source, filename, repo_type="dataset"))
    except Exception as error:  # noqa: BLE001
        raise FileNotFoundError(f"could not get {filename} of the Hugging Face dataset {source} "
                                f"({type(error).__name__}). {hint}") from None


def require_columns(rows, columns: tuple[str, ...], where: str, expected: str) -> None:
    missing = sorted(set(columns) - set(rows.column_names))
    if missing:
        raise ValueError(f"{where}: no column {', '.join(missing)}: expected {expected}")


def letter_index(answer: str, count: int, where: str) -> int:
    """"(C)", "C" -> 2, checked against the number of options."""
    letter = answer.strip().strip("()").strip()
    if len(letter) != 1 or letter not in LETTERS[:count]:
        raise ValueError(f"{where}: answer {answer!r} is not one of the letters of its {count} options")
    return LETTERS.index(letter)


def lettered_prompt(question: str, options: list[str]) -> str:
    return question + "\n" + lettered(options)


def decoded(data: Callable[[], bytes | str]) -> Callable[[], Image.Image]:
    """A function giving the image of embedded bytes, raw or base64 text, that `data()` reads when it is needed."""
    import base64

    def load() -> Image.Image:
        raw = data()
        raw = base64.b64decode(raw) if isinstance(raw, str) else raw
        with Image.open(io.BytesIO(raw)) as image:
            return image.convert("RGB")

    return load


def table_image(rows, k: int, columns: tuple[str, ...] = ("image",)) -> Callable[[], Image.Image]:
    """A function giving row k's image (its images side by side), decoded when the sample is made: the table
    stays memory-mapped until then."""
    def load() -> Image.Image:
        row = rows.select_columns(list(columns))[k]
        images = [row[c].convert("RGB") for c in columns if row.get(c) is not None]
        if not images:
            raise ValueError(f"row {k} has no image in {', '.join(columns)}")
        return side_by_side(images)

    return load


def side_by_side(images: list[Image.Image], gap: int = 8) -> Image.Image:
    """Several images of one question (BLINK's multi-view pairs) as one picture, left to right in their order,
    top-aligned on white."""
    if len(images) == 1:
        return images[0]
    canvas = Image.new("RGB", (sum(im.width for im in images) + gap * (len(images) - 1),
                               max(im.height for im in images)), (255, 255, 255))
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width + gap
    return canvas


def _relation_words() -> list[str]:
    words = set(vsr_meta_categories()) | set(OPPOSITES) | {"beneath", "under", "above", "below", "behind"}
    return sorted(words, key=len, reverse=True)


def named_objects(question: str, options: list[str]) -> list[str]:
    """The objects a question names, in order, without repeats (see the module's docstring for how)."""
    found = [m.strip() for m in _NAMED_IN_BRACKETS.findall(question.lower())]
    if found:
        return list(dict.fromkeys(found))
    if _WHICH_OBJECT.search(question) and all(len(o.split()) <= 12 for o in options):
        return list(dict.fromkeys(options))
    relations = "|".join(re.escape(r) for r in _relation_words())
    last = re.split(r"(?<=[.!])\s+", question.strip())[-1]  # "Consider ... objects. Is the cup next to the laptop?"
    m = re.match(rf"^(?:is|are)\s+the\s+(.+?)\s+(?:{relations})\s+the\s+(.+?)\s*\?$", last, re.IGNORECASE)
    return [m.group(1), m.group(2)] if m else []


def rotated(q: Question) -> list[Question]:
    """The question once per rotation of its options (rotation k starts at option k), all in one group."""
    n, out = len(q.options), []
    for k in range(n):
        options = q.options[k:] + q.options[:k]
        out.append(Question(
            id=f"{q.id}-r{k}" if k else q.id, question=q.question, options=options, answer=(q.answer - k) % n,
            category=q.category, image=q.image, image_key=q.image_key,
            prompt=None, objects=q.objects, split=q.split,  # every rotation lettered alike ("A. ...")
            meta={**q.meta, "group": q.meta.get("group", q.id), "rotation": k}))
    return out


def first_questions(questions: list[Question], limit: int | None) -> list[Question]:
    """Every copy of the first `limit` questions (groups) of each split."""
    if limit is None:
        return questions
    kept: dict[str, list[str]] = {}
    for q in questions:
        groups = kept.setdefault(q.split, [])
        group = q.meta.get("group", q.id)
        if group not in groups and len(groups) < limit:
            groups.append(group)
    chosen = {(split, g) for split, groups in kept.items() for g in groups}
    return [q for q in questions if (q.split, q.meta.get("group", q.id)) in chosen]


class ChoiceDataset:
    """Samples of multiple-choice questions (see the module's docstring)."""

    def __init__(self, name: str, benchmark: str, questions: list[Question], limit: int | None = None,
                 circular: bool = False) -> None:
        check_limit(limit)
        self.name, self.benchmark = name, benchmark
        questions = first_questions(questions, limit)
        if circular:
            questions = [r for q in questions for r in rotated(q)]
        self.questions = questions
        seen: set[str] = set()
        for q in questions:  # before any work: merging the shards would fail only after every sample is scored
            if q.id in seen:
                raise ValueError(f"dataset={name}: two questions have the id {q.id}")
            seen.add(q.id)
        if not self.questions:
            raise ValueError(f"dataset={name} selected no questions (limit={limit}): nothing to score")

    def __len__(self) -> int:
        return len(self.questions)

    def sample_ids(self) -> list[str]:
        return [q.id for q in self.questions]

    def text_lengths(self) -> list[int]:
        return [len(q.prompt or q.question) + sum(len(o) for o in q.options) for q in self.questions]

    def image_keys(self) -> list[str]:
        return [q.image_key for q in self.questions]

    def __getitem__(self, i: int) -> Sample:
        q = self.questions[i]
        try:
            image = q.image()
        except (OSError, ValueError) as error:  # PIL's UnidentifiedImageError, binascii's Error, no image
            raise OSError(f"sample {q.id}: its embedded image cannot be read ({error}): check the benchmark's "
                          "file (damaged or incomplete: fetch it again)") from None
        subject, obj = (q.objects + ["", ""])[:2]
        return Sample(id=q.id, split=q.split, image=image, statement=q.question, label=True, relation=q.category,
                      subject=subject, object=obj, negative_type="none", category=q.category, options=q.options,
                      answer=q.answer, question=q.prompt or lettered_prompt(q.question, q.options),
                      meta={"benchmark": self.benchmark, "group": q.id, **q.meta, "image": q.image_key,
                            "objects": q.objects})
