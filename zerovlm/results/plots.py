"""The report's two pictures: each setting's accuracy with its interval beside the baseline it must beat and the
paper's number, and each setting's paired difference from the sweep's baseline job.

Plain data in, a PNG out. Drawn on a bare `matplotlib.figure.Figure` (Agg, no pyplot state), one panel per dataset,
one row per setting; the figure grows with the rows and the saved image grows to fit long labels. The same input
gives the same bytes (no timestamp in the PNG's metadata).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

ROW = 0.3  # inches per setting
HEAD = 0.45  # inches above each panel: the gap and the dataset's name
WIDTH = 6.0  # inches of the data area; labels extend left of it
ABOVE, OVERLAPS, BELOW = "tab:green", "tab:gray", "tab:red"
VERSUS_BASELINE = {"interval above the baseline": ABOVE, "interval includes the baseline": OVERLAPS,
                   "interval below the baseline": BELOW}
VERSUS_ZERO = {"better, Holm p < 0.05": ABOVE, "no clear difference": OVERLAPS, "worse, Holm p < 0.05": BELOW}
MARKS = ("majority baseline", "chance baseline", "paper")  # legend labels of the accuracy picture's lines and markers
METADATA = {"Software": None}  # no version or date in the file: the same input, the same bytes


def _groups(entries: list[dict], what: str) -> dict[str, list[dict]]:
    if not entries:
        raise ValueError(f"no entries to draw: the {what} picture needs at least one setting")
    groups: dict[str, list[dict]] = {}
    for entry in entries:
        groups.setdefault(str(entry["group"]), []).append(entry)
    return groups


def _frame(groups: dict[str, list[dict]], title: str, note: str | None, legend_rows: int):
    """A figure with one panel per group, stacked, sharing the x axis; its height follows the number of rows."""
    top = 0.3 + (0.35 if note else 0.0)
    bottom = 0.55 + 0.25 * legend_rows
    height = top + sum(HEAD + ROW * len(rows) for rows in groups.values()) + bottom
    fig = Figure(figsize=(WIDTH + 0.5, height))
    left, center = 0.25 / (WIDTH + 0.5), (0.25 + WIDTH / 2) / (WIDTH + 0.5)
    fig.text(center, 1 - 0.12 / height, title, ha="center", va="top", fontsize=11, weight="bold")
    if note:
        fig.text(center, 1 - 0.47 / height, note, ha="center", va="top", fontsize=9.5, color="firebrick",
                 style="italic", bbox={"facecolor": "mistyrose", "edgecolor": "firebrick", "boxstyle": "round"})
    axes, y = [], height - top
    for name, rows in groups.items():
        y -= HEAD + ROW * len(rows)
        ax = fig.add_axes((left, y / height, WIDTH / (WIDTH + 0.5), ROW * len(rows) / height),
                          sharex=axes[0] if axes else None)
        ax.set_title(name, loc="left", fontsize=10, weight="bold")
        ax.set_yticks(range(len(rows)), [str(row["label"]) for row in rows], fontsize=9)
        ax.set_ylim(len(rows) - 0.5, -0.5)  # first setting on top
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
        ax.tick_params(axis="x", labelbottom=False)
        axes.append(ax)
    axes[-1].tick_params(axis="x", labelbottom=True)
    return fig, axes, (center, bottom - 0.5, height)


def _legend(fig: Figure, axes, place, colours: dict[str, str]) -> None:
    """One legend below the x axis: the colour key (always all of it) on the first row, below it the lines and
    markers actually drawn (each artist labelled with its kind)."""
    drawn: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            drawn.setdefault(label, handle)
    marks = [(label, drawn[label]) for label in MARKS if label in drawn]
    key = [(kind, Line2D([], [], color=colour, marker="o", ms=5)) for kind, colour in colours.items()]
    order = [item for i, dot in enumerate(key) for item in [dot, *marks[i:i + 1]]]  # filled column by column
    center, y, height = place
    fig.legend([h for _, h in order], [label for label, _ in order], loc="upper center",
               bbox_to_anchor=(center, y / height), ncols=len(key), frameon=False, fontsize=9)


def _dot(ax, y: int, value: float, low, high, color: str) -> None:
    low, high = value if low is None else low, value if high is None else high
    ax.errorbar([value], [y], xerr=[[max(value - low, 0)], [max(high - value, 0)]], fmt="o", color=color, ms=5,
                capsize=3, elinewidth=1.5, zorder=3)


def accuracy_figure(entries: list[dict], title: str | None = None, note: str | None = None) -> Figure:
    """Accuracy (percent) per setting with its interval, coloured by where the interval lies against the baseline
    to beat (majority label; chance in caption choice), drawn per row as a segment; the paper's numbers for the
    setting as open diamonds."""
    groups = _groups(entries, "accuracy")
    marked = any(e.get(k) is not None for e in entries for k in ("majority", "chance")) or any(
        e.get("paper") for e in entries)
    fig, axes, place = _frame(groups, title or "accuracy per setting (95 % interval)", note, 1 + marked)
    for ax, rows in zip(axes, groups.values(), strict=True):
        for y, e in enumerate(rows):
            baseline = e.get("majority") if e.get("majority") is not None else e.get("chance")
            low = e["accuracy"] if e.get("low") is None else e["low"]
            high = e["accuracy"] if e.get("high") is None else e["high"]
            color = OVERLAPS if baseline is None or low <= baseline <= high else ABOVE if low > baseline else BELOW
            _dot(ax, y, 100 * e["accuracy"], 100 * low, 100 * high, color)
            for key, style in (("majority", "-"), ("chance", ":")):
                if e.get(key) is not None:
                    ax.vlines(100 * e[key], y - 0.5, y + 0.5, colors="k", linestyles=style, lw=1.2,
                              label=f"{key} baseline", zorder=2)
            if e.get("paper"):
                ax.plot(list(e["paper"]), [y] * len(e["paper"]), "D", mfc="none", mec="tab:blue", mew=1.5, ms=7,
                        ls="none", label="paper", zorder=4)
    axes[-1].set_xlim(0, 100)
    axes[-1].set_xlabel("accuracy (%)")
    _legend(fig, axes, place, VERSUS_BASELINE)
    return fig


def paired_figure(entries: list[dict], baseline: str, note: str | None = None) -> Figure:
    """Each setting's paired difference from the baseline job (percentage points) with its interval, a line at 0,
    and the Holm-adjusted p beside each row (bold below 0.05)."""
    groups = _groups(entries, "paired difference")
    title = f"difference from {baseline} (paired, 95 % bootstrap interval)"
    fig, axes, place = _frame(groups, title, note, 1)
    reach = max(abs(e[k]) for e in entries for k in ("difference", "low", "high") if e.get(k) is not None)
    reach = 100 * max(reach * 1.15, 0.01)
    for ax, rows in zip(axes, groups.values(), strict=True):
        ax.axvline(0, color="k", lw=1.2, zorder=2)
        for y, e in enumerate(rows):
            p = e.get("p_holm")
            significant = p is not None and p < 0.05 and e["difference"] != 0
            color = OVERLAPS if not significant else ABOVE if e["difference"] > 0 else BELOW
            _dot(ax, y, 100 * e["difference"], *[None if e.get(k) is None else 100 * e[k] for k in ("low", "high")],
                 color)
            text = "p n/a" if p is None else ("p<0.001" if p < 0.001 else f"p={p:.2g}")
            ax.text(1.01, y, text, transform=ax.get_yaxis_transform(), va="center", fontsize=9,
                    weight="bold" if significant else "normal")
    axes[-1].set_xlim(-reach, reach)
    axes[-1].set_xlabel("difference in accuracy (percentage points; > 0: better than the baseline)")
    _legend(fig, axes, place, VERSUS_ZERO)
    return fig


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120, bbox_inches="tight", pad_inches=0.15, metadata=METADATA)
    return path


def accuracy_png(entries: list[dict], path, title: str | None = None, note: str | None = None) -> Path:
    """Draw `accuracy_figure` into `path` (PNG) and return the path."""
    return _save(accuracy_figure(entries, title, note), path)


def paired_png(entries: list[dict], path, baseline: str, note: str | None = None) -> Path:
    """Draw `paired_figure` into `path` (PNG) and return the path."""
    return _save(paired_figure(entries, baseline, note), path)

