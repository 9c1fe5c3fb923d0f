"""Picking transformers classes that work here."""

from __future__ import annotations


def image_processor_class(name: str):
    """transformers' PIL image processor `<name>Pil` where it has one (the default backend wants torchvision, which
    this project does not install), else `<name>`."""
    import transformers

    return getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)
