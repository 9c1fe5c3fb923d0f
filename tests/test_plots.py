"""The report's pictures: PNGs that grow with the settings, reproducible bytes, and the right artists."""

from __future__ import annotations

import pytest
from PIL import Image

from zerovlm.results.plots import accuracy_figure, accuracy_png, paired_figure, paired_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _accuracy(n: int, groups=("vsr_random", "whatsup_a"), label="views={i} prompt=view", paper=()):
    return [{"label": label.format(i=i), "group": groups[i % len(groups)], "accuracy": 0.6, "low": 0.55,
             "high": 0.65, "majority": 0.5, "chance": None, "paper": [70.29] if i in paper else []}
            for i in range(n)]


def _paired(n: int):
    return [{"label": f"views={i} prompt=view", "group": "vsr_random", "difference": 0.05 * (i - 1),
             "low": 0.05 * (i - 1) - 0.03, "high": 0.05 * (i - 1) + 0.03, "p_holm": [0.0004, 0.5, 0.03, None][i % 4]}
            for i in range(n)]


def _size(path):
    with Image.open(path) as image:
        return image.size


def test_writes_pngs_that_grow_with_the_settings(tmp_path):
    small = accuracy_png(_accuracy(2), tmp_path / "small.png")
    large = accuracy_png(_accuracy(40), tmp_path / "sub" / "large.png")
    assert small == tmp_path / "small.png" and large.read_bytes().startswith(PNG_MAGIC)
    (w_small, h_small), (w_large, h_large) = _size(small), _size(large)
    assert h_large > h_small + 38 * 25  # about 0.3 inch a row at 120 dpi
    assert w_large == pytest.approx(w_small, rel=0.1)

    paired_small = paired_png(_paired(2), tmp_path / "p2.png", "views=origin,prompt=plain")
    paired_large = paired_png(_paired(30), tmp_path / "p30.png", "views=origin,prompt=plain")
    assert paired_small.read_bytes().startswith(PNG_MAGIC)
    assert _size(paired_large)[1] > _size(paired_small)[1] + 28 * 25


def test_long_labels_widen_the_image_instead_of_being_cut(tmp_path):
    short = accuracy_png(_accuracy(3), tmp_path / "short.png")
    long = accuracy_png(_accuracy(3, label="views=origin,left,right,random layout=grid2x2 prompt=view seed={i} " * 2),
                        tmp_path / "long.png")
    assert _size(long)[0] > _size(short)[0] + 300


def test_same_input_same_bytes(tmp_path):
    entries = _accuracy(6, paper={1})
    first = accuracy_png(entries, tmp_path / "a.png", note="tiny random backbone: answers at chance").read_bytes()
    again = accuracy_png(entries, tmp_path / "b.png", note="tiny random backbone: answers at chance").read_bytes()
    assert first == again
    base = "views=origin,prompt=plain"
    assert paired_png(_paired(5), tmp_path / "c.png", base).read_bytes() == paired_png(
        _paired(5), tmp_path / "d.png", base).read_bytes()


def test_empty_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no entries"):
        accuracy_png([], tmp_path / "a.png")
    with pytest.raises(ValueError, match="no entries"):
        paired_png([], tmp_path / "p.png", "views=origin,prompt=plain")
    assert not list(tmp_path.iterdir())


def _paper_points(fig):
    """(panel title, y) of every paper marker drawn."""
    return [(ax.get_title(loc="left"), y) for ax in fig.axes for line in ax.get_lines()
            if line.get_label() == "paper" for y in line.get_ydata()]


def _legend_texts(fig):
    return [text.get_text() for legend in fig.legends for text in legend.get_texts()]


def test_paper_markers_only_where_the_paper_has_numbers():
    entries = _accuracy(4, groups=("vsr_random",), paper={2})
    entries[2]["paper"] = [70.29, 71.14]  # the paper disagrees with itself: both drawn
    fig = accuracy_figure(entries)
    assert _paper_points(fig) == [("vsr_random", 2), ("vsr_random", 2)]
    assert "paper" in _legend_texts(fig) and "majority baseline" in _legend_texts(fig)

    without = accuracy_figure(_accuracy(4))
    assert _paper_points(without) == [] and "paper" not in _legend_texts(without)


def test_one_panel_per_dataset_with_the_baseline_and_the_note():
    entries = _accuracy(5, groups=("vsr_random", "whatsup_a"))
    entries.append({"label": "prompt=view", "group": "whatsup_a_caption", "accuracy": 0.4, "low": 0.3, "high": 0.5,
                    "majority": None, "chance": 0.25, "paper": []})
    fig = accuracy_figure(entries, note="tiny random backbone: answers at chance")
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["vsr_random", "whatsup_a", "whatsup_a_caption"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["views=0 prompt=view", "views=2 prompt=view",
                                                                     "views=4 prompt=view"]
    assert "chance baseline" in _legend_texts(fig)
    assert "tiny random backbone: answers at chance" in [t.get_text() for t in fig.texts]


def test_paired_figure_names_the_baseline_and_shows_holm_p_per_row():
    fig = paired_figure(_paired(4), "views=origin,prompt=plain")
    assert any("difference from views=origin,prompt=plain" in t.get_text() for t in fig.texts)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["p<0.001", "p=0.5", "p=0.03", "p n/a"]
    low, high = ax.get_xlim()
    assert low < 0 < high and low == -high
