"""The generate-mode parser on real-looking answers: yes, no, or unparsed, never a guess."""

from __future__ import annotations

import pytest

from zerovlm.backbones.answers import parse_answer

YES, NO, UNPARSED = True, False, None
TABLE = [
    ("Yes", YES), ("yes", YES), ("Yes.", YES), ("YES!", YES), ("**Yes**", YES), ("Yes, it is.", YES),
    ("yes, the red cube is to the left of the blue sphere.", YES), ("Yeah.", YES), ("Yep", YES),
    ("True", YES), ("The statement is true.", YES), ("That is correct.", YES), ("Correct.", YES),
    ("The answer is yes.", YES), ("It is not false.", YES), ("Not false.", YES),
    ("Yes. No other object is there.", YES),
    ("No", NO), ("no.", NO), ("NO", NO), ("No, it is not.", NO), ("Nope.", NO), ("False", NO),
    ("The statement is false.", NO), ("The statement is not true.", NO), ("That isn't true.", NO),
    ("It is not entirely correct.", NO), ("Incorrect.", NO), ("Wrong", NO), ("The statement is untrue.", NO),
    ("No. The cube is on the right.", NO), ("\n\nNo", NO), ("  no  ", NO), ("The answer is: no", NO),
    ("No, the statement is correct.", UNPARSED), ("yes and no", UNPARSED), ("I cannot tell from the image.", UNPARSED),
    ("The cube is on the right.", UNPARSED), ("", UNPARSED), ("   ", UNPARSED), ("Maybe.", UNPARSED),
    ("It is hard to say", UNPARSED), ("Yesterday the cube moved.", UNPARSED), ("Nobody knows.", UNPARSED),
    ("Notably, the sphere is red.", UNPARSED), ("\u00e9\u00e8\u00e0", UNPARSED), ("The red cube", UNPARSED),
    ("right", UNPARSED), ("The statement is right.", UNPARSED),
]

# One word, as a model told "answer yes or no" often gives it.
ONE_WORD = [
    ("Yup.", YES), ("TRUE", YES), ("Accurate.", YES), ("yes!", YES),
    ("Nope", NO), ("FALSE.", NO), ("Inaccurate", NO), ("No!", NO),
]

# A short sentence around the verdict.
SHORT = [
    ("It's true.", YES), ("Yes, the cat is on the table.", YES), ("That's false.", NO),
    ("No, it isn't.", NO), ("No, the dog is behind the car.", NO), ("This is incorrect.", NO),
    ("Not true.", NO), ("It is not correct.", NO),
]

# "no" answering, though something other than a comma or full stop follows it.
NO_ANSWERING = [
    ("No it is not", NO), ("No it's not.", NO), ("No the cat is on the right.", NO), ("No there isn't.", NO),
    ("No, there is no cat.", NO), ("I would say no.", NO), ("I would say no, the cat is on the right.", NO),
    ("The answer is no because the cup is behind the plate.", NO), ("No - the cup is behind the plate.", NO),
    ("No: the cup is behind the plate.", NO), ("No no no.", NO), ("No, no.", NO),
    ("No not at all.", NO), ("There is no cat, so no.", NO),
]

# "no" as a determiner or adverb inside a description: not an answer; the verdict comes from elsewhere or not at all.
NO_DESCRIBING = [
    ("There is no cat. So the answer is yes.", YES),
    ("There are no cups on the table, so the statement is true.", YES),
    ("There are no people in the image, so the statement is false.", NO),
    ("No one is sitting on the bench, so the statement is true.", YES),
    ("There is no cat, so yes.", YES),
    ("No other object is between them, so the statement is correct.", YES),
    ("No red cube is visible, so the answer is no.", NO),
    ("There is no visible cat; the answer is yes.", YES),
    ("No two chairs are touching. The statement is true.", YES),
    ("The cup is no longer on the plate, so the statement is false.", NO),
    ("No cat is visible.", UNPARSED), ("No cats or dogs appear in the image.", UNPARSED),
    ("There is no dog in the image.", UNPARSED), ("There is no-one near the car.", UNPARSED),
    ("There is no way to tell from this angle.", UNPARSED), ("The cup is no longer on the plate.", UNPARSED),
]

# A description or reasoning first, the verdict last.
REASONING = [
    ("The cup is on the left of the plate. Therefore, the statement is true.", YES),
    ("In the image, a black cat sits on a wooden table and a dog lies on the floor beside it. The cat is above "
     "the dog, so the statement is true.", YES),
    ("Looking at the image, the umbrella is behind the bench rather than in front of it. Thus the statement is "
     "false.", NO),
    ("Step 1: find the cat. Step 2: find the sofa. The cat is under the sofa.\nAnswer: yes", YES),
    ("1. The car is parked on the street.\n2. The tree is to its right.\nTherefore, the answer is no.", NO),
    ("The person is standing next to the horse, not on it. The statement is incorrect.", NO),
]

# Hedges: a leaning answer word reads as that answer; no answer word reads as unparsed.
HEDGES = [
    ("Probably yes.", YES), ("Most likely, yes.", YES), ("Yes, probably.", YES), ("Likely true.", YES),
    ("I'm not sure.", UNPARSED), ("It is unclear from the image.", UNPARSED),
    ("Possibly, but I cannot be certain.", UNPARSED), ("It could be either way.", UNPARSED),
]

# Saying the answer cannot be told: the answer words named are what cannot be told, so no answer; a later clause
# or sentence that commits still answers.
CANNOT_TELL = [
    ("I cannot determine whether the statement is true.", UNPARSED), ("I can't tell if it's correct.", UNPARSED),
    ("It is unclear whether the statement is true.", UNPARSED), ("I'm not sure if that's true.", UNPARSED),
    ("It is impossible to say if the statement is false.", UNPARSED), ("I don't know if it's true.", UNPARSED),
    ("There is no way to tell whether the statement is true.", UNPARSED), ("Not sure.", UNPARSED),
    ("It's not entirely clear whether the statement is false.", UNPARSED),
    ("The statement cannot be verified as true from this image.", UNPARSED),
    ("I'm not sure, but I think the statement is true.", YES), ("It is hard to say, but I would say no.", NO),
    ("I can't be certain, but the statement is probably false.", NO),
    ("The image is unclear but the statement is false.", NO),
    ("The statement is true, though I cannot be completely sure.", YES),
    ("I cannot tell whether the statement is true. It looks false.", NO),
]

# An answer word after "the" names an answer or statement rather than giving one; after "a" it still answers.
NAMING = [
    ("The correct answer is no.", NO), ("The correct answer is yes.", YES), ("The correct answer: no", NO),
    ("The true statement is that the cat is left.", UNPARSED), ("Yes, that is the correct answer.", YES),
    ("This is a false statement.", NO),
]

# Replies that answer without an answer word.
REPLIES = [
    ("I think so.", YES), ("I believe so.", YES), ("I don't think so.", NO), ("I do not think so.", NO),
    ("I don't believe so, the cup is behind the plate.", NO),
    ("Probably not.", NO), ("Not really.", NO), ("Definitely not.", NO), ("Absolutely not!", NO),
    ("Of course not.", NO), ("Not at all.", NO), ("Most likely not, the cat is on the right.", NO),
    ("Absolutely.", YES), ("Definitely!", YES), ("Of course.", YES), ("Certainly, the statement is false.", NO),
    ("No way.", NO), ("No way, the cat is under the table.", NO),
    ("Not exactly.", NO), ("Not quite, the cup is behind the plate.", NO), ("Sure.", YES), ("Sure!", YES),
    ("Sure, the statement is false.", NO), ("Not necessarily.", UNPARSED),
]

# Modal negations ("cannot", "can't", "won't") flip the answer word like "not"; saying it cannot be told does not.
MODAL_NEGATED = [
    ("The statement cannot be true.", NO), ("It can't be false.", YES), ("That couldn't be correct.", NO),
    ("That won't be true.", NO), ("It wouldn't be accurate.", NO), ("It cannot be true, the cat is left.", NO),
    ("The statement can't be right.", UNPARSED), ("I cannot tell whether it can't be true.", UNPARSED),
    ("I can't say that it is false.", UNPARSED), ("It cannot be determined to be correct.", UNPARSED),
]

# A negated opinion or appearance verb carries to the answer word later in its clause.
OPINION_NEGATED = [
    ("I don't think the statement is true.", NO), ("I do not believe that is correct.", NO),
    ("It does not seem true.", NO), ("It doesn't look correct.", NO), ("It does not seem to be true.", NO),
    ("It doesn't appear to be accurate.", NO), ("I don't think it's false.", YES),
    ("I don't really think the statement is correct.", NO), ("I don't think it is not true.", YES),
    ("It doesn't seem like the answer is yes.", NO), ("I think the statement is true.", YES),
    ("It seems true.", YES), ("It looks incorrect.", NO),
    ("I don't think the cup is on the left, so the statement is false.", NO),
    ("I don't think the cup is on the left so the statement is false.", NO),
    ("It doesn't look like a cat, but the statement is true.", YES),
    ("I don't think so, the statement is false.", NO), ("It seems not to be true.", NO),
    ("It appears not to be correct.", NO),
]

# The statement quoted back, negations and "no" inside the quote included.
QUOTED = [
    ('The statement "the cat is not on the table" is true.', YES),
    ('The statement "There is no dog near the sofa" is true.', YES),
    ('The statement "no person is on the bench" is correct.', YES),
    ("The statement 'the cup is not left of the plate' is false.", NO),
    ('The statement "The cat is under the table." is false.', NO),
]

# Markdown around the verdict.
MARKDOWN = [
    ("**Answer:** Yes", YES), ("Answer: **No**", NO), ("**False**", NO), ("*Yes*", YES), ("`no`", NO),
    ("# Answer\nNo", NO), ("- Yes", YES), ("**No.** There is no cat in the image.", NO),
    ("**No** the cup is behind the plate.", NO),
]

# The question restated before the answer.
RESTATED = [
    ("Is the cat to the left of the dog? Yes, the cat is to the left of the dog.", YES),
    ("Q: Is the cup behind the plate?\nA: No", NO),
    ("The cat is to the left of the dog: true.", YES),
    ("Statement: The cat is under the table. Answer: False.", NO),
    ("Is there no cat on the sofa? Yes.", YES),
]

CASES = (
    TABLE + ONE_WORD + SHORT + NO_ANSWERING + NO_DESCRIBING + REASONING + HEDGES + CANNOT_TELL + NAMING + REPLIES
    + MODAL_NEGATED + OPINION_NEGATED + QUOTED + MARKDOWN + RESTATED
)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(t) for t, _ in CASES])
def test_parse_answer(text, expected):
    assert parse_answer(text) is expected


def test_cases_are_unique():
    texts = [text for text, _ in CASES]
    assert len(texts) == len(set(texts))
