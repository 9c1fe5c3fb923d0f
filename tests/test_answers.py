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


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[repr(t) for t, _ in TABLE])
def test_parse_answer(text, expected):
    assert parse_answer(text) is expected
