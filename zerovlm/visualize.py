"""samples.png: the inputs of the first samples (inputs/, as the backbone received them) with statement, label and
prediction under each."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from zerovlm.stitch import Layout

THUMB = 256
TEXT_LINES = 6
LINE = 12


def _answer(value) -> str:
    return "unparsed" if value is None else ("yes" if value else "no")


def _caption(row: dict) -> list[str]:
    verdict = "ok" if row.get("correct") else "wrong"
    if "options" in row:  # caption choice: the statement is the right caption
        picked = "tie" if row["prediction"] is None else f"option {row['prediction']}"
        return [*textwrap.wrap(row["statement"], 40)[: TEXT_LINES - 2], f"answer=option {row['label']} pred={picked}",
                f"{verdict}  {row['id']}"]
    if "prediction" in row:
        p_yes = "" if row["p_yes"] is None else f" p_yes={row['p_yes']:.3f}"
        return [*textwrap.wrap(row["statement"], 40)[: TEXT_LINES - 2],
                f"label={_answer(row['label'])} pred={_answer(row['prediction'])}{p_yes}", f"{verdict}  {row['id']}"]
    if "psnr" in row:  # compare_views: one row per view; the picture is the sample's
        return [row["sample"], f"{row['pose']['name']}: PSNR {row['psnr']:.1f} dB, MAE {row['mae']:.3f}"]
    return [*textwrap.wrap(row["statement"], 40)[: TEXT_LINES - 1], row["id"]]


def input_picture(inputs_dir: str | Path, sample_id: str) -> Image.Image | None:
    """The kept input of a sample: inputs/<id>.png, or its separate images inputs/<id>.<k>.png side by side."""
    single = Path(inputs_dir) / f"{sample_id}.png"
    if single.exists():
        with Image.open(single) as im:
            return im.convert("RGB")
    parts = []
    while (part := Path(inputs_dir) / f"{sample_id}.{len(parts)}.png").exists():
        with Image.open(part) as im:
            parts.append(im.convert("RGB"))
    return Layout("horizontal", THUMB, 8).stitch(parts) if parts else None


def samples_png(rows: list[dict], inputs_dir: str | Path, path: str | Path, note: str | None = None) -> Path | None:
    """A grid of the kept pictures (inputs/), each with its row's caption; one cell per picture."""
    shown, seen = [], set()
    for r in rows:
        sample_id = r.get("sample", r["id"])
        if sample_id not in seen and (picture := input_picture(inputs_dir, sample_id)) is not None:
            seen.add(sample_id)
            shown.append((r, picture))
    if not shown:
        return None
    cols = min(4, len(shown))
    rows_n = -(-len(shown) // cols)
    header = LINE + 8 if note else 0
    cell_h = THUMB + TEXT_LINES * LINE + 8
    canvas = Image.new("RGB", (cols * THUMB, header + rows_n * cell_h), (255, 255, 255))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    if note:
        draw.text((4, 4), note, fill=(160, 0, 0), font=font)
    for i, (row, picture) in enumerate(shown):
        x, y = (i % cols) * THUMB, header + (i // cols) * cell_h
        picture.thumbnail((THUMB, THUMB))
        canvas.paste(picture, (x + (THUMB - picture.width) // 2, y))
        for k, line in enumerate(_caption(row)):
            draw.text((x + 4, y + THUMB + 4 + k * LINE), line, fill=(0, 0, 0), font=font)
    canvas.save(path)
    return Path(path)
