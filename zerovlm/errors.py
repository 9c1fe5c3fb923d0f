"""Errors a user fixes by changing a setting."""

from __future__ import annotations

from hydra.errors import CompactHydraException


class SettingError(CompactHydraException, ValueError):
    """A setting that cannot work, found before any data or model is loaded. Hydra prints its message alone, with
    no traceback: the message names the setting and what to set instead."""
