"""Finding dataset images on disk, downloading missing ones once, and loading them with clear errors."""

from __future__ import annotations

import io
import logging
import time
import urllib.error
import urllib.request
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from zerovlm.files import write_bytes_atomic

log = logging.getLogger(__name__)


def first_existing(candidates: list[Path]) -> Path:
    """The first candidate that exists, else the first candidate (named in the error when it is opened)."""
    return next((p for p in candidates if p.is_file()), candidates[0])


def readable(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except (OSError, UnidentifiedImageError, SyntaxError):
        return False


def load_image(path: Path, sample_id: str, hint: str) -> Image.Image:
    """The image as RGB; a missing or undecodable file fails naming the sample, the path and what to do (`hint`
    says where the dataset's images are looked for: advice for a missing file, not for a damaged one)."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise FileNotFoundError(f"sample {sample_id}: image {path} does not exist. {hint}") from None
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise OSError(f"sample {sample_id}: image {path} exists but cannot be decoded ({error}): the file is "
                      f"damaged or not an image (a partial download?). Replace it, or set dataset.on_missing=skip "
                      "to leave such samples out (counted in metrics.json).") from None


def download(url: str, dest: Path, retries: int = 3, timeout: float = 30.0, backoff: float = 1.0) -> str | None:
    """Fetch `url` into `dest` (atomically, checked to be an image); None on success, else the last error."""
    error = None
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
            write_bytes_atomic(dest, data)
            return None
        except (urllib.error.URLError, OSError, UnidentifiedImageError, SyntaxError) as e:
            error = f"{type(e).__name__}: {e}"
            if attempt + 1 < retries:
                time.sleep(backoff * 2**attempt)
    return error


def download_missing(items: list[tuple[str, Path]], retries: int = 3, backoff: float = 1.0) -> dict[Path, str]:
    """Download every (url, dest) whose dest is absent, with a progress bar; {dest: error} for the failures."""
    from tqdm.auto import tqdm

    missing = [(url, dest) for url, dest in items if not dest.is_file()]
    failures = {}
    for url, dest in tqdm(missing, desc="downloading images", unit="image", disable=not missing):
        error = download(url, dest, retries=retries, backoff=backoff)
        if error:
            failures[dest] = f"{url}: {error}"
    if failures:
        log.warning("%d of %d images could not be downloaded, e.g. %s", len(failures), len(missing),
                    next(iter(failures.values())))
    return failures
