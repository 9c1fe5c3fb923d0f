"""Reading yes/no from a generated answer, word by word, without guessing.

Answer words: yes, yeah, yep, yup, true, correct, accurate (yes) and no, nope, false, incorrect, wrong,
inaccurate, untrue (no); "right" is not one (it is a spatial word here). A negation (NEGATIONS: "not", "never",
"hardly", "isn't", "don't", "doesn't", "didn't", "cannot", "can't", "couldn't", "won't", "wouldn't", ...)
directly before an answer word, over SKIPPABLE words ("is not", "not entirely", "cannot be", "not to be"),
flips it: "It is not correct" and "The statement cannot be true" are no, "It can't be false" is yes. A negated
opinion or appearance verb (OPINION_VERBS: "think", "believe", "seem", "look", "appear"; "I don't think",
"I do not believe", "It doesn't seem", "It does not appear to be") flips every answer word after it in its
clause, up to a conjunction that opens a new statement (SCOPE_ENDS: "so", "and", "because", ...): "I don't
think the statement is true" and "It doesn't look correct" are no, "I don't think it's false" is yes, and "I
don't think the cup is left so the statement is false" is no. An answer word directly after "the" names a thing
rather than answering ("The correct answer is no" is no, "The true statement is ..." holds no answer); "a"
does not ("This is a false statement" is no). "so" directly after "think" or "believe" answers yes, flipped by
a negation before the verb: "I think so" is yes, "I don't think so" is no.

"no" is an answer word only where it stands alone: followed by punctuation, a line break or the end of the
text ("No.", "No, there is no cat", "**No**", "The answer is no", "I would say no"), or by a word that starts a
new clause rather than a noun phrase: a pronoun, article, conjunction, auxiliary, preposition, negation or
answer word (CLAUSE_STARTS, or any "...n't": "No it is not", "No the cube is on the right", "No because ...").
Followed by any other word, after spaces only, it is a determiner or adverb and not an answer: "no cat",
"no red cube", "no other object", "no one", "no longer", "no way to tell"; so is "no-" in a compound
("no-one"). Words such as "nobody", "nothing", "none" are never answers.

Sentences end at . ! ? ; and line breaks; clauses inside a sentence end at commas, colons and "but". A clause
that says the answer cannot be told (UNSURE: "cannot tell", "unable to determine", "hard to say", "no way to
tell", "not sure", "don't know", "unclear", ...) holds no answer, whatever answer words it names: "I cannot
determine whether the statement is true" is unparsed (this rule comes first, so "cannot" there is no
negation), while "I'm not sure, but I think the statement is true" is yes from its second clause. Some replies
answer without an answer word: a sentence that is only "Absolutely", "Definitely", "Certainly", "Surely",
"Sure" or "Of course" is yes (leading a longer sentence, such a word only stresses it: "Certainly, the
statement is false" is no); a clause that is only "Not", with one of those words but "Sure", or "Probably",
"Likely", "Most likely" before it or "really", "at all", "exactly", "quite" after it ("Probably not",
"Definitely not", "Not really", "Not exactly"), is no, and so is a clause that is only "No way" (elsewhere "no
way" is a determiner "no", as above: "There is no way to tell" holds no answer). "Not necessarily" alone is a
hedge a person cannot read either way: unparsed.

The verdict is the polarity of the first sentence that holds an answer: "There is no cat. So the answer is
yes." is yes, "There are no cups, so the statement is true." is yes. If that sentence holds both polarities
("No, the statement is correct"), or no sentence holds one ("I cannot tell", "No cat is visible.", "Maybe."),
the answer is unparsed (None) and counted as such, never guessed.
"""

from __future__ import annotations

import re

# The words whose single-token variants likelihood scoring sums for yes and for no (backbone.yes_words / no_words):
# as a reply begins after a space ("ASSISTANT: Yes") or after a line break ("assistant\nYes").
YES_VARIANTS = ("yes", "Yes", "YES", " yes", " Yes")
NO_VARIANTS = ("no", "No", "NO", " no", " No")

YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "true", "correct", "accurate"})
NO_WORDS = frozenset({"no", "nope", "false", "incorrect", "wrong", "inaccurate", "untrue"})
NEGATIONS = frozenset({
    "not", "never", "hardly", "isn't", "isnt", "aren't", "wasn't", "weren't", "doesn't", "don't", "didn't",
    "cannot", "can't", "couldn't", "won't", "wouldn't",
})
SKIPPABLE = frozenset({"entirely", "completely", "quite", "really", "exactly", "necessarily", "to", "be", "is"})
# Verbs whose negation carries to the answer words after them in the clause ("I don't think it is true").
OPINION_VERBS = frozenset({"think", "believe", "seem", "seems", "look", "looks", "appear", "appears"})
# Conjunctions that open a new statement and so end that carry ("I don't think ... so the statement is false").
SCOPE_ENDS = frozenset({
    "so", "and", "because", "since", "therefore", "thus", "hence", "although", "though", "while", "whereas", "yet",
})
# Verbs after which "so" answers yes ("I think so"), or no when negated ("I don't think so").
SO_VERBS = frozenset({"think", "believe"})
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
# A clause saying the answer cannot be told: its answer words are what it cannot tell, not an answer.
UNSURE = re.compile(
    r"\b(?:(?:cannot|can't|can not|could not|couldn't|unable to|not able to|impossible to|not possible to|hard to"
    r"|difficult to|no way to)(?: \w+ly)?(?: be)? (?:tell|told|determine|determined|say|said|know|known|sure"
    r"|certain|confirm|confirmed|verify|verified|judge|judged)"
    r"|(?:not|don't) (?:\w+ly )?(?:sure|certain|clear|know)|unclear|uncertain|unsure)\b"
)
# Replies without an answer word: a whole sentence for yes ("Absolutely."), a clause for no ("Probably not, ...").
_EMPHATIC = r"absolutely|definitely|certainly|surely|of course"
_REPLY_YES = re.compile(rf"{_EMPHATIC}|sure")
_REPLY_NO = re.compile(
    rf"(?:(?:{_EMPHATIC}|probably|most likely|likely) )?not(?: really| at all| exactly| quite)?|no way"
)
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s*")
_CLAUSE = re.compile(r"[,:]|\bbut\b")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# What follows an answer-word "no" when it is a determiner: spaces only, then a word; or a hyphen ("no-one").
_AFTER_NO = re.compile(r"[ \t]+([a-z0-9]+(?:'[a-z]+)?)|-[a-z]")


def _is_determiner_no(clause: str, end: int) -> bool:
    """Whether the "no" ending at `end` in `clause` (lower case) leads a noun phrase rather than answering."""
    after = _AFTER_NO.match(clause, end)
    if after is None:
        return False
    follower = after.group(1)
    if follower is None:  # "no-one", "no-go"
        return True
    return not (follower in CLAUSE_STARTS or follower.split("'")[0] in CLAUSE_STARTS or follower.endswith("n't"))


def _negated(words: list[str], i: int) -> bool:
    """Whether a negation stands directly before words[i], over skippable words ("not entirely correct")."""
    j = i - 1
    while j >= 0 and words[j] in SKIPPABLE:
        j -= 1
    return j >= 0 and words[j] in NEGATIONS


def _clause_polarities(clause: str) -> list[bool]:
    if UNSURE.search(clause):
        return []
    matches = list(_WORD.finditer(clause))
    words = [m.group() for m in matches]
    if _REPLY_NO.fullmatch(" ".join(words)):
        return [False]
    found = []
    opinion_negated = False  # after "I don't think", "It doesn't seem", until the clause or statement ends
    for i, word in enumerate(words):
        if word == "so" and i > 0 and words[i - 1] in SO_VERBS:
            found.append(not _negated(words, i - 1))
            opinion_negated = False
            continue
        if word in OPINION_VERBS:
            opinion_negated = _negated(words, i)
            continue
        if word in SCOPE_ENDS:
            opinion_negated = False
            continue
        if word not in YES_WORDS and word not in NO_WORDS:
            continue
        if i > 0 and words[i - 1] == "the":  # "the correct answer", "the true statement"
            continue
        if word == "no" and _is_determiner_no(clause, matches[i].end()):
            continue
        flips = _negated(words, i) + opinion_negated  # "I don't think it is not true": two flips, yes
        found.append((word in YES_WORDS) != (flips % 2 == 1))
    return found


def _polarities(sentence: str) -> list[bool]:
    sentence = sentence.lower().replace("\u2019", "'")
    if _REPLY_YES.fullmatch(" ".join(_WORD.findall(sentence))):  # not "Certainly, the statement is false."
        return [True]
    return [polarity for clause in _CLAUSE.split(sentence) for polarity in _clause_polarities(clause)]


def parse_answer(text: str) -> bool | None:
    """True for yes, False for no, None when the text does not say (or says both)."""
    for sentence in _SENTENCE.split(text.strip()):
        found = _polarities(sentence)
        if found:
            return found[0] if len(set(found)) == 1 else None
    return None


LETTERS = "ABCDEFGHIJ"


def lettered(options: list[str]) -> str:
    """"A. left\nB. right": a multiple-choice question's options as they are listed (and read back here)."""
    return "\n".join(f"{LETTERS[k]}. {option}" for k, option in enumerate(options))


# a letter opening the answer: "B", "(B)", "(B) no", "B.", "B: the chair", "B - the chair", "B\n\nBecause",
# "**B**" (not the article of "A chair")
_LEADING_LETTER = re.compile(r"^[\s*\"'`]*(?:\(([A-J])\)|([A-J])(?=$|[.,:;)*\"'`]|\s*$|[ \t]*\n|\s+-))")
# "The answer is (B)", "Answer: B", "the correct option is B because ..."; not "Answer: A chair" (an article)
_STATED_LETTER = re.compile(r"(?i:\b(?:answer|option|choice))(?:\s+is)?\s*[:\-]?\s*(\(?)([A-J])\)?"
                            r"(?=$|[\s.,:;)])(\s+[a-z]+)?")
_BRACKETED_LETTER = re.compile(r"\(([A-J])\)")


def parse_choice(text: str, options: list[str]) -> int | None:
    """The option a generated answer picks, by letter (A = the first option) or by the option's exact text; None
    when it names none, or more than one, of them. Letters are read where they cannot be words: opening the
    answer ("B", "(B) no", "B. the chair", not the article of "A chair"), stated ("the answer is B") or bracketed
    anywhere ("... so (B)"); all the letters read must be one. Without a letter, the whole answer must equal one
    option's text (case and final punctuation aside). A letter beyond the options is not an answer."""
    text = text.strip()
    letters = LETTERS[:len(options)]

    def index(found: list[str]) -> int | None:
        picked = set(found)
        return letters.index(picked.pop()) if len(picked) == 1 and next(iter(picked)) in letters else None

    found = [letter for bracket, letter, word in _STATED_LETTER.findall(text)
             if bracket or letter != "A" or not word]  # "Answer: A chair ..." is an article, not option A
    found += _BRACKETED_LETTER.findall(text)
    if (m := _LEADING_LETTER.match(text)) is not None:
        found.append(m.group(1) or m.group(2))
    if found:  # every letter the answer names must be the same one
        return index(found)
    bare = text.lower().rstrip(".!").strip()
    matches = [k for k, option in enumerate(options) if option.lower().rstrip(".!").strip() == bare]
    return matches[0] if len(matches) == 1 else None
