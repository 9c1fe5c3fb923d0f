"""Layouts: exact canvas sizes, every pixel where it belongs, positions in words."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zerovlm.stitch import Layout

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
BG = (10, 20, 30)


def solid(colour, size=(64, 64)):
    return Image.new("RGB", size, colour)


def expected_canvas(rows, cols, cell, gap, colours, strip=0):
    h = rows * (cell + strip) + (rows - 1) * gap
    w = cols * cell + (cols - 1) * gap
    canvas = np.empty((h, w, 3), dtype=np.uint8)
    canvas[:] = BG
    for i, colour in enumerate(colours):
        r, c = divmod(i, cols)
        y = r * (cell + strip + gap) + strip
        x = c * (cell + gap)
        canvas[y:y + cell, x:x + cell] = colour
    return canvas


@pytest.mark.parametrize(("kind", "n", "shape"), [
    ("grid", 4, (2, 2)), ("grid", 3, (2, 2)), ("grid", 1, (1, 1)), ("grid", 5, (2, 3)),
    ("horizontal", 4, (1, 4)), ("vertical", 3, (3, 1)), ("single", 1, (1, 1)),
])
def test_pixel_exact_layouts(kind, n, shape):
    layout = Layout(kind, cell_size=64, gap=6, background=BG)
    assert layout.shape(n) == shape
    colours = (COLOURS * 2)[:n]
    out = np.asarray(layout.stitch([solid(c) for c in colours]))
    np.testing.assert_array_equal(out, expected_canvas(*shape, 64, 6, colours))


def test_grid_is_filled_row_by_row_like_the_paper():
    layout = Layout("grid", cell_size=64, gap=8, background=BG)
    out = np.asarray(layout.stitch([solid(c) for c in COLOURS]))
    assert out.shape == (136, 136, 3)
    assert tuple(out[0, 0]) == COLOURS[0] and tuple(out[0, 135]) == COLOURS[1]
    assert tuple(out[135, 0]) == COLOURS[2] and tuple(out[135, 135]) == COLOURS[3]
    assert tuple(out[68, 68]) == BG  # the gap
    assert layout.positions(4) == ["in the upper left corner", "in the upper right corner",
                                   "in the lower left corner", "in the lower right corner"]


def test_views_already_cell_sized_are_pasted_unchanged():
    rng = np.random.default_rng(0)
    noise = [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(2)]
    out = np.asarray(Layout("horizontal", cell_size=64, gap=4, background=BG).stitch(noise))
    np.testing.assert_array_equal(out[:, :64], np.asarray(noise[0]))
    np.testing.assert_array_equal(out[:, 68:], np.asarray(noise[1]))


def test_non_square_views_are_fitted_and_centred():
    views = [solid((255, 0, 0), (128, 64)), solid(COLOURS[1])]
    out = np.asarray(Layout("horizontal", cell_size=64, gap=0, background=BG).stitch(views))[:, :64]
    assert out.shape == (64, 64, 3)
    assert (out[16:48] == (255, 0, 0)).all()
    assert (out[:16] == BG).all() and (out[48:] == BG).all()


def test_labels_add_a_caption_strip_above_each_cell():
    layout = Layout("horizontal", cell_size=64, gap=4, background=(255, 255, 255), labels=True, label_height=16)
    out = np.asarray(layout.stitch([solid(COLOURS[0]), solid(COLOURS[1])], ["origin", "left"]))
    assert out.shape == (80, 132, 3)
    assert (out[16:] [:, :64] == COLOURS[0]).all()
    strip = out[:16, :64]
    assert (strip != 255).any()  # text was drawn
    assert layout.stitch([solid(COLOURS[0])] * 2, ["a", "b"]).tobytes() == \
        layout.stitch([solid(COLOURS[0])] * 2, ["a", "b"]).tobytes()


def test_single_refuses_several_views():
    with pytest.raises(ValueError, match="layout=single shows one view"):
        Layout("single").stitch([solid(COLOURS[0])] * 2)
    with pytest.raises(ValueError, match="layout.kind"):
        Layout("diagonal")


def test_positions_in_words():
    assert Layout("horizontal").positions(2) == ["on the left", "on the right"]
    assert Layout("horizontal").positions(3) == ["on the left", "in the middle", "on the right"]
    assert Layout("vertical").positions(2) == ["at the top", "at the bottom"]
    assert Layout("horizontal").positions(4)[3] == "in the fourth place from the left"
    assert Layout("grid").positions(6)[4] == "in row 2, column 2"


def test_separate_layout_keeps_the_views_apart_and_names_them_in_order():
    layout = Layout("separate", cell_size=64, gap=0, background=BG)
    out = layout.stitch([solid(COLOURS[0]), solid(COLOURS[1], (128, 64))])
    assert isinstance(out, list) and [im.size for im in out] == [(64, 64), (128, 64)]  # each as it is
    assert np.asarray(out[0]).tolist() == np.asarray(solid(COLOURS[0])).tolist()
    assert layout.positions(3) == ["as the first image", "as the second image", "as the third image"]


def test_one_view_is_the_picture_itself_in_every_layout():
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 80, 3), dtype=np.uint8))
    for kind in ("single", "grid", "horizontal", "vertical"):
        out = Layout(kind, cell_size=64, gap=6, background=BG).stitch([photo])
        assert out.size == (80, 48)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(photo))
    separate = Layout("separate", cell_size=64).stitch([photo, solid(COLOURS[0], (30, 20))])
    assert [im.size for im in separate] == [(80, 48), (30, 20)]  # each image as it is
    np.testing.assert_array_equal(np.asarray(separate[0]), np.asarray(photo))
    assert Layout("grid").stitch([photo.convert("L")]).mode == "RGB"


def test_a_labelled_single_view_keeps_its_caption_strip():
    out = Layout("single", cell_size=64, gap=0, labels=True, label_height=16).stitch([solid(COLOURS[0])], ["left"])
    assert out.size == (64, 80)
