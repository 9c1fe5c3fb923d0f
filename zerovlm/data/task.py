"""The ZeroVLM task setting on any dataset: from each true statement, derive false ones of the paper's kinds.

- relation_swap: the same objects with another relation: the opposite one (left of <-> right of, above <->
  below, in front of <-> behind, on <-> under, ...) when the dataset's vocabulary has it, else one drawn from
  the vocabulary. Only opposites are surely false; `meta.swap.opposite` tells which kind each sample got.
- object_swap: the subject or the object replaced by an object named in no statement about that image. (A
  photo can hold objects its statements never name, as in the paper; on synthetic scenes this cannot happen.)
  The replacement is drawn from the objects named in the sample's own split when `split_objects` is given (VSR:
  its zero-shot split keeps the concepts of train, dev and test apart, so a test negative must not bring in a
  train concept), else from every object the dataset names.

Every draw is seeded by (seed, sample id, kind), so a sample's negatives do not depend on the others. A true
statement whose relation or object words cannot be found in its text gets no negative of that kind; the count
is reported (`skipped` in metrics.json), nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import numpy as np

from zerovlm.data.relations import OPPOSITES
from zerovlm.data.sample import NEGATIVE_TYPES, TRUE_STATEMENT
from zerovlm.seeding import derived_seed


def replace_phrase(text: str, old: str, new: str, last: bool = False) -> str | None:
    matches = list(re.finditer(rf"(?<![\w-]){re.escape(old)}(?![\w-])", text))
    if not matches:
        return None
    m = matches[-1] if last else matches[0]
    return text[:m.start()] + new + text[m.end():]


def derive_negatives(true_records: list, image_objects: dict[str, set[str]], relations: list[str],
                     negatives: list[str], seed: int, compose=None,
                     split_objects: dict[str, set[str]] | None = None) -> tuple[list, Counter]:
    """[true, its negatives, next true, ...] and the counts of negatives that could not be made.

    `true_records` have id, statement, relation, subject, object and meta["image"] (any dataclass with those);
    `image_objects` maps an image to every object named about it; `relations` is the dataset's vocabulary.
    `compose(record, subject, relation, object)` writes a statement in the dataset's own wording; without it,
    the swapped words are replaced in the true statement's text. `split_objects` maps a split to the objects
    named in it: object swaps then draw from the record's split only.
    """
    unknown = set(negatives) - set(NEGATIVE_TYPES)
    if unknown:
        raise ValueError(f"dataset.negatives has {sorted(unknown)}; the kinds are {list(NEGATIVE_TYPES)}")
    everything = sorted({o for objects in image_objects.values() for o in objects})
    vocabularies = {split: sorted(objects) for split, objects in (split_objects or {}).items()}
    relations = sorted(set(relations))
    out, skipped = [], Counter()
    for r in true_records:
        out.append(replace(r, label=True, negative_type=TRUE_STATEMENT))
        for kind in negatives:
            rng = np.random.default_rng(derived_seed(seed, r.id, kind))
            if kind == "relation_swap":
                opposite = OPPOSITES.get(r.relation)
                new = opposite if opposite in relations else str(rng.choice([x for x in relations if x != r.relation]))
                statement = (compose(r, r.subject, new, r.object) if compose
                             else replace_phrase(r.statement, r.relation, new))
                swap = {"from": r.relation, "to": new, "opposite": new == opposite}
                fields = {"relation": new}
            else:
                named = image_objects.get(r.meta["image"], set()) | {r.subject, r.object}
                vocabulary = vocabularies[r.split] if split_objects is not None else everything
                candidates = [o for o in vocabulary if o not in named]
                if not candidates:
                    skipped["object_swap_no_candidate"] += 1
                    continue
                new = str(rng.choice(candidates))
                role = "subject" if rng.integers(2) == 0 else "object"
                old = getattr(r, role)
                if compose:
                    statement = compose(r, new if role == "subject" else r.subject, r.relation,
                                        new if role == "object" else r.object)
                else:
                    statement = replace_phrase(r.statement, old, new, last=role == "object")
                swap = {"from": old, "to": new, "role": role}
                fields = {role: new}
            if statement is None:
                skipped[f"{kind}_phrase_not_found"] += 1
                continue
            out.append(replace(r, id=f"{r.id}-{kind}", statement=statement, label=False, negative_type=kind,
                               meta={**r.meta, "swap": swap}, **fields))
    return out, skipped
