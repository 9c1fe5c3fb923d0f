"""Reading yes/no from a generated answer, word by word, without guessing.

Answer words: yes, yeah, yep, yup, true, correct, accurate (yes) and no, nope, false, incorrect, wrong,
inaccurate, untrue (no); "right" is not one (it is a spatial word here). A negation directly before an answer
word ("not", "isn't", "is not", "not entirely") flips it.

"no" is an answer word only where it stands alone: followed by punctuation, a line break or the end of the
text ("No.", "No, there is no cat", "**No**", "The answer is no", "I would say no"), or by a word that starts a
new clause rather than a noun phrase: a pronoun, article, conjunction, auxiliary, preposition, negation or
answer word (CLAUSE_STARTS, or any "...n't": "No it is not", "No the cube is on the right", "No because ...").
Followed by any other word, after spaces only, it is a determiner or adverb and not an answer: "no cat",
"no red cube", "no other object", "no one", "no longer", "no way to tell"; so is "no-" in a compound
("no-one"). Words such as "nobody", "nothing", "none" are never answers.

The verdict is the polarity of the first sentence that holds an answer word: "There is no cat. So the answer
is yes." is yes, "There are no cups, so the statement is true." is yes. If that sentence holds both polarities
("No, the statement is correct"), or no sentence holds one ("I cannot tell", "No cat is visible."), the answer
is unparsed (None) and counted as such, never guessed.
"""

from __future__ import annotations

import re

YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "true", "correct", "accurate"})
NO_WORDS = frozenset({"no", "nope", "false", "incorrect", "wrong", "inaccurate", "untrue"})
NEGATIONS = frozenset({"not", "isn't", "isnt", "aren't", "wasn't", "doesn't", "never", "hardly"})
SKIPPABLE = frozenset({"entirely", "completely", "quite", "really", "exactly", "necessarily", "be", "is"})
# Words after which "no" is still an answer: they open a clause, never a noun phrase ("no it", "no the", "no
# because"); contractions count by their first part ("no it's", "no there's"), and every "...n't" counts.
CLAUSE_STARTS = frozenset({
    "i", "you", "he", "she", "it", "we", "they", "there", "here", "this", "that", "these", "those",
    "the", "a", "an", "my", "its", "their",
    "and", "but", "or", "so", "because", "since", "as", "although", "though", "while", "however", "therefore",
    "thus", "hence", "then", "if", "when", "unless",
    "is", "are", "was", "were", "be", "do", "does", "did", "can", "cannot", "could", "would", "will", "should",
    "may", "might", "must", "has", "have", "had",
    "in", "on", "at", "from", "to", "of", "for", "with", "by", "not", "never",
}) | YES_WORDS | NO_WORDS
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s*")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# What follows an answer-word "no" when it is a determiner: spaces only, then a word; or a hyphen ("no-one").
_AFTER_NO = re.compile(r"[ \t]+([a-z0-9]+(?:'[a-z]+)?)|-[a-z]")


def _is_determiner_no(sentence: str, end: int) -> bool:
    """Whether the "no" ending at `end` in `sentence` (lower case) leads a noun phrase rather than answering."""
    after = _AFTER_NO.match(sentence, end)
    if after is None:
        return False
    follower = after.group(1)
    if follower is None:  # "no-one", "no-go"
        return True
    return not (follower in CLAUSE_STARTS or follower.split("'")[0] in CLAUSE_STARTS or follower.endswith("n't"))


def _polarities(sentence: str) -> list[bool]:
    sentence = sentence.lower().replace("\u2019", "'")
    matches = list(_WORD.finditer(sentence))
    words = [m.group() for m in matches]
    found = []
    for i, word in enumerate(words):
        if word not in YES_WORDS and word not in NO_WORDS:
            continue
        if word == "no" and _is_determiner_no(sentence, matches[i].end()):
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
