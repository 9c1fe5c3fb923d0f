"""A content-addressed store of generated views (and of 3D priors' geometry, as JSON): a view is generated once,
ever.

The key is the SHA-256 of everything that determines the pixels (generator fingerprint, what it is
conditioned on, pose, seed), as canonical JSON. Entries are PNG (lossless) files written to a temporary file
in the same directory and renamed into place, so a killed run never leaves a broken entry and two ranks
writing the same view both leave a whole one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

from PIL import Image

from zerovlm.files import write_bytes_atomic


def image_digest(image: Image.Image) -> str:
    """SHA-256 of an image's mode, size and pixels."""
    h = hashlib.sha256(f"{image.mode}:{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


class CorruptEntry(ValueError):
    """A cache entry whose file exists but cannot be read."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: cannot be decoded")
        self.path = path


class ViewCache:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    @staticmethod
    def key(**parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def path(self, key: str, suffix: str = ".png") -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def get(self, key: str) -> Image.Image | None:
        """The cached view, or None when there is none; `CorruptEntry` when its file cannot be decoded (a truncated
        or corrupt PNG: the view is made again and the file replaced)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except (OSError, SyntaxError, ValueError) as error:
            raise CorruptEntry(path) from error

    def put(self, key: str, image: Image.Image) -> Path:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return write_bytes_atomic(self.path(key), buffer.getvalue())

    def get_json(self, key: str):
        """A cached JSON value (a 3D prior's geometry), or None."""
        path = self.path(key, ".json")
        return json.loads(path.read_text()) if path.exists() else None

    def put_json(self, key: str, value) -> Path:
        return write_bytes_atomic(self.path(key, ".json"), json.dumps(value).encode())
