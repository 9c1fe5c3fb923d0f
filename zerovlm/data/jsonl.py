"""Reading annotation files with errors that name the file and the line."""

from __future__ import annotations

import json
from pathlib import Path


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, record) for every non-empty line; a malformed line fails with file and line number."""
    path = Path(path)
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error.msg}): {line.strip()[:120]!r}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            records.append((number, record))
    return records


def read_json(path: str | Path):
    """A whole JSON file (What'sUp's annotation lists); malformed JSON fails with file and line number."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None


def require(record: dict, fields: dict[str, type], where: str) -> None:
    """Fail with `where` (file:line) when a field is missing or of the wrong type."""
    for name, kind in fields.items():
        if name not in record:
            raise ValueError(f"{where}: field {name!r} is missing")
        if not isinstance(record[name], kind) or (kind is int and isinstance(record[name], bool)):
            raise ValueError(f"{where}: field {name!r} should be {kind.__name__}, got {record[name]!r}")
