"""The ZeroVLM paper's published numbers (experiments/published.yaml), and the arithmetic behind their sample counts.

The paper prints accuracies, never how many samples each one is measured on. An accuracy printed with d decimals
is 100 * k / n for whole k and n, so the printed text alone says which test sizes n it can come from:
`consistent_sizes` does that check exactly (Fractions, no floats). The yaml records the result per row as
`n_candidates` and `n` with `n_basis: inferred`; the paper states none of them.

Published rows are shown beside this project's results, never mixed into them: `published_rows` finds the rows
for one job's options.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import yaml

PUBLISHED = Path(__file__).resolve().parents[2] / "experiments" / "published.yaml"

# A backbone config name (a file in conf/backbone/, "tiny_" dropped) starts with one of these prefixes -> the
# paper's backbone family: ZeroVLM (L) is LLaVA, ZeroVLM (M) is MiniGPT-4 (which this project does not run).
# The paper's number belongs to its own checkpoint: shown beside any run of the family, it is a reference, not
# the same model. Names that match no prefix (qwen25_vl_7b, paligemma2_3b, ...) have no published rows.
BACKBONE_FAMILIES = {"llava": "llava", "minigpt4": "minigpt4"}


def read_published(path: str | Path | None = None) -> dict:
    """The whole published.yaml: source, sizes, rows, figure6."""
    path = Path(path) if path is not None else PUBLISHED
    if not path.is_file():
        raise FileNotFoundError(f"published numbers file not found: {path} (it lives in the repository's "
                                "experiments/ folder; pass its path when the package is installed elsewhere)")
    return yaml.safe_load(path.read_text())


def load_published(path: str | Path | None = None) -> list[dict]:
    """The published rows, one per table cell (see experiments/README.md for the fields)."""
    return read_published(path)["rows"]


def consistent_counts(printed: str, n: int) -> list[int]:
    """Every whole k for which 100 * k / n, rounded (half up) or truncated to the decimals `printed` shows, is
    `printed`. `printed` is the number's text ("54.50"): its trailing zeros say how precise it is."""
    if not isinstance(printed, str):
        raise TypeError(f"printed must be the number's text, as printed (got {printed!r})")
    decimal = Decimal(printed)
    value = Fraction(decimal)
    unit = Fraction(1, 10 ** max(0, -decimal.as_tuple().exponent))
    # rounding gives value for [value - unit/2, value + unit/2), truncation for [value, value + unit)
    low, high = value - unit / 2, value + unit
    first = max(0, math.ceil(low * n / 100))
    return [k for k in range(first, n + 1) if Fraction(100 * k, n) < high]


def consistent_sizes(printed: str, candidates: Iterable[int]) -> list[int]:
    """The sizes n among `candidates` that some whole count k of correct answers makes print as `printed`."""
    return [n for n in candidates if consistent_counts(printed, n)]


def backbone_family(name: str) -> str | None:
    """The paper's backbone family of a backbone config name: llava15_7b, llava_next_mistral_7b, tiny_llava ->
    "llava"; None for a family the paper did not run."""
    base = name.removeprefix("tiny_")
    for prefix, family in BACKBONE_FAMILIES.items():
        if base.startswith(prefix):
            return family
    return None


def published_rows(dataset: str, split: str, views: str, prompt: str, backbone: str,
                   rows: list[dict] | None = None) -> list[dict]:
    """The published rows measured in the setting of one job (its option names and backbone config name).
    Several can match (What'sUp A's original image is printed in Table 2 and Table 3): all are returned."""
    family = backbone_family(backbone)
    if family is None:
        return []
    rows = load_published() if rows is None else rows
    wanted = {"dataset": dataset, "split": split, "views": views, "prompt": prompt, "backbone_family": family}
    return [row for row in rows if all(row.get(key) == value for key, value in wanted.items())]
