"""Relation vocabulary facts shared by the datasets: opposites, and VSR's meta-categories."""

from __future__ import annotations

from functools import cache
from pathlib import Path

# Pairs whose swap surely turns a true statement false; other relations swap to a random one (see task.py).
OPPOSITES = {
    "left of": "right of", "right of": "left of",
    "at the left side of": "at the right side of", "at the right side of": "at the left side of",
    "above": "below", "below": "above",
    "over": "under", "beneath": "above",
    "in front of": "behind", "behind": "in front of",
    "on": "under", "under": "on", "on top of": "under",
    "inside": "outside", "outside": "inside",
    "near": "far from", "close to": "far from", "far from": "close to", "far away from": "close to",
    "facing": "facing away from", "facing away from": "facing",
    "attached to": "detached from", "detached from": "attached to",
}

UNCATEGORIZED = "uncategorized"
_META_CATEGORY_FILE = Path(__file__).with_name("vsr_rel_meta_category_dict.txt")


@cache
def vsr_meta_categories() -> dict[str, str]:
    """relation -> VSR meta-category, read as VSR's own analysis script reads the file (a relation listed twice,
    "among", takes its last category, Unallocated). Relations in no category ("congruent") are absent: the
    datasets report them as `uncategorized`."""
    mapping = {}
    for line in _META_CATEGORY_FILE.read_text().splitlines():
        if not line.strip():
            continue
        category, relations = line.strip().split(": ")
        for relation in relations.split(","):
            mapping[relation.strip()] = category.strip()
    return mapping
