"""samples.png: the kept inputs cut back into their views exactly, one framed card per sample with the answer's
colour, and the text a researcher needs under it (raw answer in generate mode, the prior's first lines, caption
choice's answer and choice)."""

import numpy as np
import pytest
from PIL import Image

from zerovlm.results.visualize import (
    MARGIN,
    PAGE,
    RIGHT,
    UNPARSED,
    WRONG,
    Paragraph,
    describe,
    input_tiles,
    rows_by_sample,
    samples_png,
    view_names,
)
from zerovlm.stitch import Layout


def _views(n, size=64, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


def _row(sample_id, correct=True, prediction=True, n=4, **extra):
    return {"id": sample_id, "statement": "The red sphere is left of the cube.", "label": prediction if correct
            else not prediction, "prediction": prediction, "correct": correct and prediction is not None,
            "p_yes": 0.6, "raw": None, "views": [{"name": name} for name in ("origin", "left", "right", "random")[:n]],
            "stage": "evaluate", "dataset": "synthetic", "view_set": "four", **extra}


@pytest.mark.parametrize("kind", ["grid", "horizontal", "vertical"])
@pytest.mark.parametrize("n", [2, 3, 4])
def test_a_stitched_input_is_cut_back_into_its_views_pixel_exact(tmp_path, kind, n):
    layout = Layout(kind, cell_size=64, gap=8)
    views = _views(n)
    layout.stitch(views).save(tmp_path / "s.png")
    tiles = input_tiles(tmp_path, "s", layout, n)
    assert [np.asarray(t).tolist() for t in tiles] == [np.asarray(v).tolist() for v in views]


def test_separate_and_single_inputs_are_their_own_tiles(tmp_path):
    views = _views(3, seed=1)
    for k, view in enumerate(views):
        view.save(tmp_path / f"sep.{k}.png")
    assert [np.asarray(t).tolist() for t in input_tiles(tmp_path, "sep", Layout("separate"), 3)] == \
        [np.asarray(v).tolist() for v in views]
    photo = Image.fromarray(np.full((30, 50, 3), 7, dtype=np.uint8))
    photo.save(tmp_path / "one.png")
    (tile,) = input_tiles(tmp_path, "one", Layout("grid", 64), 1)
    assert tile.size == (50, 30)  # the original photo as the backbone got it, not a cell
    assert input_tiles(tmp_path, "absent", Layout("grid"), 1) is None


def test_cards_are_framed_apart_and_coloured_by_the_answer(tmp_path):
    layout = Layout("horizontal", cell_size=64, gap=8)
    rows = [_row("a"), _row("b", correct=False), _row("c", prediction=None)]
    for k, row in enumerate(rows):
        layout.stitch(_views(4, seed=k)).save(tmp_path / f"{row['id']}.png")
    path = samples_png(rows, tmp_path, tmp_path / "samples.png", layout, note="tiny random backbone")
    picture = np.asarray(Image.open(path))
    # three cards side by side, each with its answer's colour along its top edge
    band = picture[:, MARGIN + 2]
    top = int(np.argmax(np.all(band == RIGHT, axis=1)))
    assert top > 0 and np.all(picture[top, MARGIN + 2] == RIGHT)
    row_colours = [tuple(c) for c in picture[top][::1]]
    assert row_colours.count(WRONG) > 50 and row_colours.count(UNPARSED) > 50
    # the page shows between neighbouring cards: a full column of page colour beside each card's frame
    page_columns = [x for x in range(picture.shape[1]) if np.all(picture[top:top + 60, x] == PAGE)]
    first_card_right = min(x for x in page_columns if x > MARGIN)
    assert set(range(first_card_right, first_card_right + 10)) <= set(page_columns)  # 10 px apart at least


def _texts(lines):
    return [line.text for line in lines]


def test_the_text_under_a_card_says_what_the_model_did():
    binary = _texts(describe([_row("a", correct=False)]))
    assert binary[0] == "The red sphere is left of the cube."
    assert binary[1] == "label no, answer yes  (p_yes 0.600): WRONG" and binary[-1] == "a"

    generated = describe([_row("g", prediction=None, label=True, raw=" Perhaps, it depends. ", p_yes=None)])
    assert "label yes, answer unparsed: UNPARSED" in _texts(generated)
    assert 'model wrote: "Perhaps, it depends."' in _texts(generated)

    prior_text = "3D information about the objects.\nObj 1 (red sphere): 3D center (1, 2, 3)\n\nObj 2 (cube): x\nz\nw"
    with_prior = _texts(describe([_row("p", prior_text=prior_text)]))
    at = with_prior.index("3D prior:")
    assert with_prior[at + 1:at + 4] == ["3D information about the objects.", "Obj 1 (red sphere): 3D center (1, 2, 3)",
                                         "Obj 2 (cube): x"]
    assert with_prior[at + 4].startswith("... 2 more lines")

    choice = {"id": "c", "statement": "A mug on a plate", "options": ["A mug on a plate", "A mug under a plate"],
              "label": 0, "prediction": 1, "correct": False, "raw": None}
    lines = describe([choice])
    assert [(line.text, line.color) for line in lines[:2]] == [("0. A mug on a plate  [answer]", RIGHT),
                                                               ("1. A mug under a plate  [chosen]", WRONG)]
    assert isinstance(lines[0], Paragraph) and lines[2].text == "WRONG"


def test_compare_views_cards_name_their_tiles_in_the_order_they_were_stitched():
    """Rows come sorted by id (left, random, right); the picture is stitched left, right, random."""
    rows = [{"id": f"s/{name}", "sample": "s", "view": k, "pose": {"name": name}, "psnr": 10.0 + k, "mae": 0.1}
            for name, k in (("left", 0), ("random", 2), ("right", 1))]
    ordered = rows_by_sample(rows)["s"]
    assert view_names(ordered) == ["left generated", "right generated", "random generated", "left true",
                                   "right true", "random true"]
    assert [line.text.split(":")[0] for line in describe(ordered)[:3]] == ["left", "right", "random"]
