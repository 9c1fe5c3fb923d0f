"""samples.png: the first samples of a job as a researcher reads them, one framed card per sample.

Each card shows the views as the backbone received them (inputs/, cut back into the layout's tiles and shown in
the layout's arrangement) with each view's name under its tile (drawn here only, never on what the model sees),
then the statement, the answer against the label in colour (green right, red wrong, amber unparsed), the raw
text in generate mode, the first lines of the 3D prior's text, and the sample id. A compare_views card shows the
generated views above the true ones with their PSNR; a render card, the views made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from zerovlm.backbones.answers import LETTERS
from zerovlm.stitch import Layout

PAGE = (236, 236, 236)
CARD = (255, 255, 255)
BORDER = (190, 190, 190)
INK = (20, 20, 20)
FAINT = (110, 110, 110)
RIGHT, WRONG, UNPARSED = (20, 130, 50), (200, 30, 30), (210, 130, 0)
TILE = 176  # a view's side on the card; one view alone gets SINGLE
SINGLE = 256
PAD, GAP, MARGIN = 10, 6, 14  # inside a card, between tiles, between cards
MAX_WIDTH = 1600
MAX_COLUMNS = 4
TEXT, SMALL = 13, 11  # font sizes
PRIOR_LINES = 3


def _font(size: int):
    return ImageFont.load_default(size=size)


@dataclass
class Line:
    text: str
    color: tuple = INK
    size: int = TEXT


@dataclass
class Paragraph(Line):
    """Text wrapped to the card's width, to at most `lines` lines."""

    lines: int | None = None


def _wrap(text: str, width: int, font, limit: int | None = None) -> list[str]:
    """Words into lines no wider than `width` pixels; the last line kept ends with "..." when cut."""
    lines, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and font.getlength(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    if limit is not None and len(lines) > limit:
        lines = lines[:limit]
        while lines[-1] and font.getlength(lines[-1] + " ...") > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += " ..."
    return lines


def _yes_no(value) -> str:
    return "unparsed" if value is None else ("yes" if value else "no")


def _verdict(row: dict) -> Line:
    if row.get("prediction") is None:
        return Line("UNPARSED", UNPARSED)
    return Line("correct", RIGHT) if row.get("correct") else Line("WRONG", WRONG)


def describe(rows: list[dict]) -> list[Line]:
    """The card's text under the tiles (a Paragraph is wrapped to the card's width)."""
    row = rows[0]
    if "psnr" in row:  # compare_views: a row per generated view
        return [Line(f"{r['pose']['name']}: PSNR {r['psnr']:.1f} dB, MAE {r['mae']:.3f}") for r in rows] + \
            [Line(row["sample"], FAINT, SMALL)]
    out: list[Line] = [Paragraph(row["statement"])] if row.get("statement") else []
    if "options" in row and "prediction" in row:  # the options, the right one and the chosen one
        question = "question" in row  # a multiple-choice question (lettered options) rather than a caption choice
        out = out if question else []
        for k, option in enumerate(row["options"]):
            marks = [m for m, hit in (("answer", k == row["label"]), ("chosen", k == row["prediction"])) if hit]
            color = RIGHT if k == row["label"] else (WRONG if k == row["prediction"] else INK)
            name = LETTERS[k] if question else str(k)
            out.append(Paragraph(f"{name}. {option}" + (f"  [{', '.join(marks)}]" if marks else ""), color))
        out.append(_verdict(row))
    elif "prediction" in row:
        p_yes = "" if row.get("p_yes") is None else f"  (p_yes {row['p_yes']:.3f})"
        verdict = _verdict(row)
        out.append(Paragraph(f"label {_yes_no(row['label'])}, answer {_yes_no(row['prediction'])}{p_yes}: "
                             f"{verdict.text}", verdict.color))
    if row.get("raw") is not None:  # generate mode: what the model wrote
        out.append(Paragraph(f'model wrote: "{row["raw"].strip()}"', FAINT, SMALL, lines=2))
    if row.get("prior_text"):
        text_lines = [t for t in row["prior_text"].splitlines() if t.strip()]
        out.append(Line("3D prior:", FAINT, SMALL))
        out.extend(Paragraph(t, FAINT, SMALL, lines=1) for t in text_lines[:PRIOR_LINES])
        if len(text_lines) > PRIOR_LINES:
            more = len(text_lines) - PRIOR_LINES
            out.append(Line(f"... {more} more line{'s' if more > 1 else ''} (prior_text in predictions.jsonl)",
                            FAINT, SMALL))
    out.append(Line(row["id"], FAINT, SMALL))
    return out


def view_names(rows: list[dict]) -> list[str]:
    if "pose" in rows[0]:  # compare_views: the generated views above the true ones
        poses = [r["pose"]["name"] for r in rows]
        return [f"{p} generated" for p in poses] + [f"{p} true" for p in poses]
    return [v["name"] for v in rows[0].get("views", [])]


def input_tiles(inputs_dir: str | Path, sample_id: str, layout: Layout, n: int) -> list[Image.Image] | None:
    """The views of a kept input (inputs/<id>.png, or inputs/<id>.<k>.png for separate images), cut back into the
    layout's tiles; the whole picture as one tile when it is not a stitch of n views."""
    single = Path(inputs_dir) / f"{sample_id}.png"
    if not single.exists():
        parts = []
        while (part := Path(inputs_dir) / f"{sample_id}.{len(parts)}.png").exists():
            with Image.open(part) as im:
                parts.append(im.convert("RGB"))
        return parts or None
    with Image.open(single) as im:
        picture = im.convert("RGB")
    if n < 2 or layout.kind in ("single", "separate") or picture.size != layout.canvas_size(n):
        return [picture]
    tiles = []
    for i in range(n):
        x, y = layout.cell_origin(i, n)
        tiles.append(picture.crop((x, y, x + layout.cell_size, y + layout.cell_size)))
    return tiles


def input_picture(inputs_dir: str | Path, sample_id: str) -> Image.Image | None:
    """The kept input of a sample as one picture: inputs/<id>.png, or its separate images side by side."""
    tiles = input_tiles(inputs_dir, sample_id, Layout("horizontal", 256, 8), 0)
    if not tiles:
        return None
    return tiles[0] if len(tiles) == 1 else Layout("horizontal", 256, 8).stitch(tiles)


class Card:
    """One sample: tiles in the layout's arrangement, each named, and the text beneath, inside a frame."""

    def __init__(self, rows: list[dict], tiles: list[Image.Image], layout: Layout) -> None:
        self.rows, self.names = rows, view_names(rows)
        if len(self.names) != len(tiles):
            self.names = [""] * len(tiles)
        grid = layout.kind if layout.kind in ("horizontal", "vertical", "grid") else "horizontal"
        self.shape = Layout(grid).shape(len(tiles))
        self.side = min(SINGLE if len(tiles) == 1 else TILE, max(max(t.size) for t in tiles))  # never enlarged
        self.tiles = [self._fit(t) for t in tiles]
        self.name_h = TEXT + 6 if any(self.names) else 0
        rows_n, cols = self.shape
        self.width = 2 * PAD + cols * self.side + (cols - 1) * GAP
        self.tiles_h = rows_n * (self.side + self.name_h) + (rows_n - 1) * GAP

    def _fit(self, tile: Image.Image) -> Image.Image:
        tile = tile.copy()
        tile.thumbnail((self.side, self.side))
        return tile

    def text(self, width: int) -> list[Line]:
        lines = []
        for item in describe(self.rows):
            if isinstance(item, Paragraph):
                lines.extend(Line(t, item.color, item.size) for t in _wrap(item.text, width, _font(item.size),
                                                                            item.lines))
            else:
                lines.append(item)
        return lines

    def height(self, width: int) -> int:
        return 2 * PAD + self.tiles_h + 6 + sum(line.size + 4 for line in self.text(width - 2 * PAD))

    def draw(self, canvas: Image.Image, x: int, y: int, width: int, height: int) -> None:
        draw = ImageDraw.Draw(canvas)
        verdict = _verdict(self.rows[0]).color if "prediction" in self.rows[0] else BORDER
        draw.rectangle((x, y, x + width - 1, y + height - 1), fill=CARD, outline=BORDER)
        draw.rectangle((x, y, x + width - 1, y + 4), fill=verdict)  # the answer's colour along the top
        rows_n, cols = self.shape
        left = x + (width - self.width) // 2 + PAD  # the tiles centred on a card wider than they are
        for i, tile in enumerate(self.tiles):
            r, c = divmod(i, cols)
            tx = left + c * (self.side + GAP)
            ty = y + PAD + r * (self.side + self.name_h + GAP)
            canvas.paste(tile, (tx + (self.side - tile.width) // 2, ty + (self.side - tile.height) // 2))
            if self.names[i]:
                font = _font(TEXT)
                name_x = tx + (self.side - font.getlength(self.names[i])) / 2
                draw.text((name_x, ty + self.side + 2), self.names[i], fill=INK, font=font)
        ty = y + PAD + self.tiles_h + 6
        for line in self.text(width - 2 * PAD):
            draw.text((x + PAD, ty), line.text, fill=line.color, font=_font(line.size))
            ty += line.size + 4


SETTING_NAMES = (("dataset", "dataset"), ("view_set", "views"), ("generator", "generator"), ("layout", "layout"),
                 ("prompt_name", "prompt"), ("prior", "prior"), ("backbone", "backbone"), ("scoring", "scoring"))


def title(setting: dict) -> str:
    """"evaluate: dataset=synthetic views=four ...": the job's setting as overrides."""
    return f"{setting.get('stage', 'job')}: " + "  ".join(f"{name}={setting[key]}" for key, name in SETTING_NAMES
                                                         if setting.get(key) is not None)


def rows_by_sample(rows: list[dict]) -> dict[str, list[dict]]:
    """Each sample's rows, in the order of `rows`; compare_views' rows (one per view) in the order the views were
    stitched into its picture (`view`), whatever order the rows came in (sorted by id: left, random, right)."""
    by_sample: dict[str, list[dict]] = {}
    for r in rows:
        by_sample.setdefault(r.get("sample", r["id"]), []).append(r)
    for sample_rows in by_sample.values():
        sample_rows.sort(key=lambda r: r.get("view", 0))
    return by_sample


def samples_png(rows: list[dict], inputs_dir: str | Path, path: str | Path, layout: Layout | None = None,
                note: str | None = None, setting: dict | None = None) -> Path | None:
    """Cards of the samples whose inputs were kept (inputs/), in the order of rows, under the job's setting (by
    default the first row's); `layout` is the one that stitched them. None when no input was kept."""
    layout = layout or Layout("grid")
    cards = []
    for sample_id, sample_rows in rows_by_sample(rows).items():
        n = len(view_names(sample_rows))
        if (tiles := input_tiles(inputs_dir, sample_id, layout, n)) is not None:
            cards.append(Card(sample_rows, tiles, layout))
    if not cards:
        return None
    width = max(max(c.width for c in cards), 300)
    columns = max(1, min(MAX_COLUMNS, len(cards), (MAX_WIDTH - MARGIN) // (width + MARGIN)))
    page_width = MARGIN + columns * (width + MARGIN)
    header = [Line(t, color) for text, color in ((title(setting or rows[0]), INK), (note, WRONG)) if text
              for t in _wrap(text, page_width - 2 * MARGIN, _font(TEXT))]
    header_h = MARGIN + sum(line.size + 6 for line in header)
    lines = [cards[i:i + columns] for i in range(0, len(cards), columns)]
    heights = [max(c.height(width) for c in line) for line in lines]
    canvas = Image.new("RGB", (page_width, header_h + sum(h + MARGIN for h in heights)), PAGE)
    draw = ImageDraw.Draw(canvas)
    y = MARGIN
    for line in header:
        draw.text((MARGIN, y), line.text, fill=line.color, font=_font(line.size))
        y += line.size + 6
    y = header_h
    for line, height in zip(lines, heights, strict=True):
        for k, card in enumerate(line):
            card.draw(canvas, MARGIN + k * (width + MARGIN), y, width, height)
        y += height + MARGIN
    canvas.save(path)
    return Path(path)
