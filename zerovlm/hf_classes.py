"""Picking transformers classes that work here, and saying clearly where torchvision, which some need, is missing."""

from __future__ import annotations


def image_processor_class(name: str):
    """transformers' PIL image processor `<name>Pil` where it has one (the default backend wants torchvision, which
    this project does not install), else `<name>`."""
    import transformers

    return getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)


TORCHVISION_HINT = ('install torchvision with a torch it imports beside: pip install -e ".[torchvision]" '
                    '(here: make install-torchvision, which pairs torch and torchvision)')


def torchvision_error() -> Exception | None:
    """Why torchvision does not import here (not installed, or a build that does not match torch: it raises at
    import), or None where it does."""
    try:
        import torchvision  # noqa: F401
    except Exception as error:
        return error
    return None


def require_torchvision(what: str) -> None:
    """Fail clearly, naming `what`, where torchvision does not import (transformers' video processors need it)."""
    if (error := torchvision_error()) is not None:
        raise ImportError(f"{what} needs torchvision, which does not import here ({error}); {TORCHVISION_HINT}")
