from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

TRUE_STATEMENT = "none"  # negative_type of a true statement
NEGATIVE_TYPES = ("relation_swap", "object_swap")


@dataclass
class Sample:
    """One true/false spatial statement about one image."""

    id: str
    split: str
    image: Image.Image
    statement: str
    label: bool
    relation: str
    subject: str
    object: str
    negative_type: str = TRUE_STATEMENT  # relation_swap | object_swap for false statements built from true ones
    meta: dict[str, Any] = field(default_factory=dict)
