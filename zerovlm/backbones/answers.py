"""Reading yes/no from a generated answer, word by word, without guessing.

Answer words: yes, yeah, yep, yup, true, correct, accurate (yes) and no, nope, false, incorrect, wrong,
inaccurate (no); "right" is not one (it is a spatial word here). A negation directly before an answer word
("not", "isn't", "is not", "not entirely") flips it. The verdict is the polarity of the first sentence that
holds an answer word; if that sentence holds both polarities ("No, the statement is correct"), or no sentence
holds one ("I cannot tell"), the answer is unparsed (None) and counted as such, never guessed.
"""

from __future__ import annotations

import re

YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "true", "correct", "accurate"})
NO_WORDS = frozenset({"no", "nope", "false", "incorrect", "wrong", "inaccurate", "untrue"})
NEGATIONS = frozenset({"not", "isn't", "isnt", "aren't", "wasn't", "doesn't", "never", "hardly"})
SKIPPABLE = frozenset({"entirely", "completely", "quite", "really", "exactly", "necessarily", "be", "is"})
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s*")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _polarities(sentence: str) -> list[bool]:
    words = _WORD.findall(sentence.lower().replace("\u2019", "'"))
    found = []
    for i, word in enumerate(words):
        if word not in YES_WORDS and word not in NO_WORDS:
            continue
        polarity = word in YES_WORDS
        j = i - 1
        while j >= 0 and words[j] in SKIPPABLE:
            j -= 1
        if j >= 0 and words[j] in NEGATIONS:
            polarity = not polarity
        found.append(polarity)
    return found


def parse_answer(text: str) -> bool | None:
    """True for yes, False for no, None when the text does not say (or says both)."""
    for sentence in _SENTENCE.split(text.strip()):
        found = _polarities(sentence)
        if found:
            return found[0] if len(set(found)) == 1 else None
    return None
