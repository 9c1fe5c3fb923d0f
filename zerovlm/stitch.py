"""Stitch layouts: the views become the picture the VLM sees.

One view, in any layout, is given to the backbone as it is: the original photo at its own resolution (the
paper's "Origin" rows), a generated view at the generator's; the model's processor then does exactly what it
does with any photo. Several views are stitched: horizontal (1 x n), vertical (n x 1) and grid (ceil(sqrt n)
columns, filled row by row, as the paper's 2 x 2 figure); each view is fitted into a square cell of `cell_size`
(aspect kept, centred on the background colour), cells are `gap` pixels apart, and an optional caption strip of
`label_height` pixels sits above each cell. A view already cell-sized is pasted unchanged, so stitching is
pixel-exact. `separate` gives the views as separate images, each as it is, in order, to backbones that take
several (backbone.multi_image).
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

KINDS = ("single", "horizontal", "vertical", "grid", "separate")
CORNERS = ("in the upper left corner", "in the upper right corner",
           "in the lower left corner", "in the lower right corner")
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


class Layout:
    def __init__(self, kind: str = "grid", cell_size: int = 256, gap: int = 8, background=(255, 255, 255),
                 labels: bool = False, label_height: int = 20, name: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"layout.kind={kind!r}: choose one of {', '.join(KINDS)}")
        if cell_size < 1 or gap < 0 or label_height < 0:
            raise ValueError(f"layout.cell_size={cell_size}, layout.gap={gap}, layout.label_height={label_height}: "
                             "a cell is at least 1 pixel, gaps and labels 0 or more")
        self.kind, self.cell_size, self.gap = kind, cell_size, gap
        self.background = tuple(int(c) for c in background)
        self.labels, self.label_height = labels, label_height
        self.name = name or kind

    def shape(self, n: int) -> tuple[int, int]:
        """(rows, columns) for n views."""
        if n < 1:
            raise ValueError("a layout needs at least one view")
        if self.kind == "single":
            if n != 1:
                raise ValueError(f"layout=single shows one view but the view set has {n}: use layout=grid, "
                                 "horizontal or vertical")
            return 1, 1
        if self.kind == "horizontal":
            return 1, n
        if self.kind in ("vertical", "separate"):
            return n, 1
        cols = math.ceil(math.sqrt(n))
        return math.ceil(n / cols), cols

    def cell_origin(self, index: int, n: int) -> tuple[int, int]:
        """Top-left pixel (x, y) of the image (below its caption strip) of view `index`."""
        _, cols = self.shape(n)
        r, c = divmod(index, cols)
        strip = self.label_height if self.labels else 0
        return c * (self.cell_size + self.gap), r * (self.cell_size + strip + self.gap) + strip

    def canvas_size(self, n: int) -> tuple[int, int]:
        rows, cols = self.shape(n)
        strip = self.label_height if self.labels else 0
        return cols * self.cell_size + (cols - 1) * self.gap, rows * (self.cell_size + strip) + (rows - 1) * self.gap

    def _fit(self, image: Image.Image) -> Image.Image:
        image = _rgb(image)
        if image.size == (self.cell_size, self.cell_size):
            return image
        scale = self.cell_size / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        cell = Image.new("RGB", (self.cell_size, self.cell_size), self.background)
        cell.paste(image.resize(size, Image.Resampling.BICUBIC),
                   ((self.cell_size - size[0]) // 2, (self.cell_size - size[1]) // 2))
        return cell

    def stitch(self, images: list[Image.Image], captions: list[str] | None = None) -> Image.Image | list[Image.Image]:
        if self.kind == "separate":  # each view as it is, not joined
            return [_rgb(image) for image in images]
        n = len(images)
        self.shape(n)  # refuses view counts the layout cannot show
        if n == 1 and not (self.labels and captions):  # one view: the picture itself, not a cell
            return _rgb(images[0])
        canvas = Image.new("RGB", self.canvas_size(n), self.background)
        draw = ImageDraw.Draw(canvas)
        font = ImageFont.load_default()
        for i, image in enumerate(images):
            x, y = self.cell_origin(i, n)
            canvas.paste(self._fit(image), (x, y))
            if self.labels and captions:
                draw.text((x + 4, y - self.label_height + 4), captions[i], fill=(0, 0, 0), font=font)
        return canvas

    def positions(self, n: int) -> list[str]:
        """Where each view is, in words, for the view prompt."""
        rows, cols = self.shape(n)
        if self.kind == "separate":
            return [f"as the {ORDINALS[i]} image" for i in range(n)]
        if rows == cols == 1:
            return ["in the image"]
        if (rows, cols) == (2, 2):
            return list(CORNERS[:n])
        if rows == 1:
            if n == 2:
                return ["on the left", "on the right"]
            if n == 3:
                return ["on the left", "in the middle", "on the right"]
            return [f"in the {ORDINALS[i]} place from the left" for i in range(n)]
        if cols == 1:
            if n == 2:
                return ["at the top", "at the bottom"]
            if n == 3:
                return ["at the top", "in the middle", "at the bottom"]
            return [f"in the {ORDINALS[i]} place from the top" for i in range(n)]
        return [f"in row {i // cols + 1}, column {i % cols + 1}" for i in range(n)]
