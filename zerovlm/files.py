"""Writing files and folders atomically: a reader sees the whole thing or nothing, and two processes writing
the same content both leave a whole one (a killed run never leaves a broken entry)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def folder_digest(path: str | os.PathLike) -> str | None:
    """SHA-256 of a local checkpoint folder (every file's relative path and bytes); None if it is not a folder
    (a hub id). It names a checkpoint's weights in cache keys."""
    import hashlib

    folder = Path(path)
    if not folder.is_dir():
        return None
    h = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(file.relative_to(folder)).encode())
        h.update(file.read_bytes())
    return h.hexdigest()


def checkpoint_digest(model: str, revision: str | None = None, marker: str = "config.json") -> str | None:
    """What names a checkpoint's weights in cache keys: the digest of a local folder, or for a hub id the commit of
    the cached snapshot it loads from (found by its `marker` file), so a moved branch never serves stale results;
    None for a hub id not in the cache."""
    digest = folder_digest(model)
    if digest is not None:
        return digest
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model, marker, revision=revision)  # .../snapshots/<commit>/<marker>
    return Path(found).parents[len(Path(marker).parts) - 1].name if isinstance(found, str) else None


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def ensure_pretrained(path: str | os.PathLike, build: Callable[[], tuple], marker: str = "config.json") -> Path:
    """Unless `path` holds a checkpoint, build its parts (model, processor, ...) and save_pretrained them there."""

    def save(tmp: Path) -> None:
        for part in build():
            part.save_pretrained(tmp)

    return save_dir_atomic(path, save, marker)


def save_dir_atomic(path: str | os.PathLike, save: Callable[[Path], None], marker: str) -> Path:
    """Unless `path/marker` exists, call save(tmp_dir) and rename it to `path` (another process may win)."""
    path = Path(path)
    if (path / marker).exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    except OSError as error:
        raise PermissionError(f"{path} does not exist yet and {path.parent} cannot be written "
                              f"({error.strerror or error}) to make it: set paths.cache_root (or $ZEROVLM_CACHE) "
                              "to a folder this job may write, or make it there once") from None
    try:
        save(tmp)
        os.replace(tmp, path)
    except OSError:
        if not (path / marker).exists():  # not merely another process that got there first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def check_writable(folder: str | os.PathLike, setting: str) -> None:
    """Fail at once, naming the folder and the setting, when `folder` cannot be created or written (rather than
    after the first batch's work)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        raise PermissionError(f"{folder} cannot be written ({error.strerror or error}): set {setting} to a folder "
                              "this job may write") from None


@contextmanager
def writing_into(folder: str | os.PathLike, setting: str) -> Iterator[None]:
    """A write into `folder` that fails for want of room or rights says which folder and which setting moves it
    (a bare "[Errno 28] No space left on device" names neither)."""
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        raise OSError(error.errno, f"{error.strerror} while writing into {folder}: free space there, or set "
                                   f"{setting} to another folder") from None
