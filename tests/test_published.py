"""The published numbers file parses, and every row names options that exist."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import ROOT

from zerovlm.cli import CONFIG_PATH


def test_published_rows_name_existing_options():
    data = yaml.safe_load((ROOT / "experiments" / "published.yaml").read_text())
    assert data["source"].startswith("Meng, Zhou & Chen")
    for row in data["rows"]:
        for group in ("dataset", "views", "prompt"):
            assert (Path(CONFIG_PATH) / group / f"{row[group]}.yaml").is_file(), row
        assert row["split"] in ("dev", "test") and 0 <= row["accuracy"] <= 100 and row["table"]
