"""The published numbers file: every cell of the paper's Tables 2 and 3, options that exist, and sample counts that
follow from the printed text by exact arithmetic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from zerovlm.cli import CONFIG_PATH
from zerovlm.results.published import (
    PUBLISHED,
    backbone_family,
    consistent_counts,
    consistent_sizes,
    load_published,
    published_rows,
)

DATA = yaml.safe_load(PUBLISHED.read_text())
ROWS = DATA["rows"]
DATASETS = ("vsr_random", "vsr_zeroshot", "whatsup_a", "whatsup_b")
TABLES_MD = ROOT.parent / "shared" / "papers" / "zerovlm_tables.md"  # the transcription notes, beside the clone


def test_source_names_the_first_author_first():
    assert PUBLISHED == ROOT / "experiments" / "published.yaml"
    assert DATA["source"].startswith("Zhou, Meng & Chen (2024)") and "arXiv:2407.14133" in DATA["source"]
    assert "status" not in DATA


def test_rows_name_existing_options():
    for row in ROWS:
        assert (Path(CONFIG_PATH) / "dataset" / f"{row['dataset']}.yaml").is_file(), row
        assert row["split"] == "test" and row["table"] in ("2", "3") and row["row"], row
        if "quoted" in row:  # not a VLM prompted with views
            assert row["views"] is None and row["prompt"] is None and row["table"] == "2", row
            assert row["backbone_family"] not in ("llava", "minigpt4"), row
        else:
            assert row["backbone_family"] in ("llava", "minigpt4"), row
            for group in ("views", "prompt"):
                assert (Path(CONFIG_PATH) / group / f"{row[group]}.yaml").is_file(), row


def test_printed_text_and_float_agree():
    for row in ROWS + DATA["figure6"]:
        assert isinstance(row["printed"], str) and float(row["printed"]) == row["accuracy"], row
        assert 0 <= row["accuracy"] <= 100
    assert isinstance(DATA["headline_improvement"], str)


def test_cell_counts():
    cells = Counter(row["table"] for row in ROWS)
    assert cells == {"2": 21, "3": 44}  # Table 2: 4+2+1+2+2+2+4+4 printed cells; Table 3: 11 rows x 4 datasets
    for dataset in DATASETS:
        assert sum(row["table"] == "3" and row["dataset"] == dataset for row in ROWS) == 11
    assert len({(row["table"], row["row"], row["dataset"]) for row in ROWS}) == len(ROWS)
    assert len(DATA["figure6"]) == 4


def test_recorded_sample_counts_follow_from_the_printed_numbers():
    sizes = DATA["sizes"]
    assert sorted(n for dataset in DATASETS for n in sizes[dataset]) == sorted(
        [2195, 616, 111, 100, 1222, 412, 408, 500, 102, 52, 52])
    for row in ROWS:
        candidates = consistent_sizes(row["printed"], sizes[row["dataset"]])
        assert row["n_candidates"] == candidates, row
        if "quoted" in row:
            assert row["n"] is None and row["n_basis"] == "quoted", row
            continue
        assert row["n_basis"] == "inferred", row
        if not candidates:
            assert row["n"] is None, row
            continue
        # several fit: the size most of the column fits, where this row fits it; else the first in `sizes` order
        column = [other for other in ROWS if "quoted" not in other
                  and (other["table"], other["dataset"]) == (row["table"], row["dataset"])]
        votes = Counter(n for other in column for n in other["n_candidates"])
        mode = max(sizes[row["dataset"]], key=lambda n: votes[n])
        assert row["n"] == (mode if mode in candidates else candidates[0]), row


def test_inferred_sizes_per_table3_column():
    def column(dataset):
        return Counter(row["n"] for row in ROWS if row["table"] == "3" and row["dataset"] == dataset)

    assert column("vsr_random") == {500: 10, 2195: 1}
    assert column("vsr_zeroshot") == {102: 10, 616: 1}
    assert column("whatsup_a") == {52: 10, None: 1}
    assert column("whatsup_b") == {52: 5, None: 5, 408: 1}


def test_known_values_by_hand():
    assert consistent_counts("70.29", 2195) == [1543]  # 1543 / 2195 = 70.296...: truncated
    assert consistent_counts("82.35", 102) == [84]  # 84 / 102 = 82.352...
    assert consistent_counts("81.80", 500) == [409]
    assert consistent_counts("100", 52) == [52]
    assert consistent_sizes("71.14", [52, 111, 206, 412]) == []
    assert consistent_sizes("75.21", [52, 100]) == []
    assert consistent_sizes("70.29", [2195, 500]) == [2195]
    assert consistent_sizes("54.5", [22]) == [22] and consistent_sizes("54.50", [22]) == []  # 12/22 = 54.545...
    with pytest.raises(TypeError):
        consistent_counts(54.5, 100)
    clip = [row for row in ROWS if row["row"] == "CLIP (frozen)" and row["dataset"] == "vsr_zeroshot"]
    assert [row["printed"] for row in clip] == ["54.50"]


def test_whatsup_a_origin_disagreement_is_recorded():
    rows = published_rows("whatsup_a", "test", "origin", "plain", "llava15_7b")
    assert sorted((row["table"], row["printed"]) for row in rows) == [("2", "71.74"), ("3", "71.14")]
    assert all("71.74" in row["note"] and "71.14" in row["note"] for row in rows)


def test_published_rows_for_a_job():
    rows = published_rows("vsr_zeroshot", "test", "left", "view", "tiny_llava")
    assert [row["printed"] for row in rows] == ["87.25"]
    assert published_rows("vsr_random", "test", "origin", "plain", "qwen25_vl_7b") == []
    assert published_rows("vsr_random", "dev", "origin", "plain", "llava15_7b") == []
    assert [row["printed"] for row in published_rows("vsr_random", "test", "four", "view", "llava15_13b")] == ["72.20"]


def test_backbone_families():
    for path in Path(CONFIG_PATH, "backbone").glob("*.yaml"):
        family = backbone_family(path.stem)
        assert family == ("llava" if path.stem.removeprefix("tiny_").startswith("llava") else None), path.stem
    assert backbone_family("llava_next_mistral_7b") == "llava" and backbone_family("minigpt4") == "minigpt4"


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "published.yaml"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_published(missing)
    assert load_published() == ROWS


@pytest.mark.skipif(not TABLES_MD.is_file(), reason=f"no transcription notes at {TABLES_MD}")
def test_every_cell_matches_the_transcription_notes():
    text = TABLES_MD.read_text()

    def table(title):
        section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
        lines = [line for line in section.splitlines() if line.startswith("|")]
        return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]

    expected = set()
    for cells in table("Table 2"):
        expected |= {("2", cells[0], d, p) for d, p in zip(DATASETS, cells[1:], strict=True) if p != "-"}
    for cells in table("Table 3"):
        expected |= {("3", " | ".join(cells[:3]), d, p) for d, p in zip(DATASETS, cells[3:], strict=True)}
    assert {(row["table"], row["row"], row["dataset"], row["printed"]) for row in ROWS} == expected
