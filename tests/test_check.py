"""zerovlm-check's comparisons, offline: the published outputs against outputs that match and that do not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zerovlm.check import REFERENCES, compare, main

BY_NAME = {r.checkpoint: r for r in REFERENCES}


def test_every_family_the_issue_names_has_a_reference():
    assert set(BY_NAME) == {"llava-hf/llava-1.5-7b-hf", "llava-hf/llava-v1.6-mistral-7b-hf",
                            "Qwen/Qwen2.5-VL-7B-Instruct", "Salesforce/instructblip-vicuna-7b"}
    for reference in REFERENCES:
        assert (reference.expected_text is None) != (reference.expected_logits is None)
        assert len(reference.images) == len(reference.texts) > reference.compared


def test_text_matches_word_for_word_and_says_where_it_parts():
    llava = BY_NAME["llava-hf/llava-1.5-7b-hf"]
    same = compare(llava, {"text": " The image features two cats lying down on a pink couch. One cat is located on"})
    assert same.matches and same.line().startswith("llava-hf/llava-1.5-7b-hf: matches")
    other = compare(llava, {"text": "The image features two dogs lying down on a pink couch."})
    assert not other.matches and "first 4 words agree" in other.line() and "differs" in other.line()


def test_logits_match_within_the_tests_tolerance_and_show_the_numbers():
    blip = BY_NAME["Salesforce/instructblip-vicuna-7b"]
    published = [list(row) for row in blip.expected_logits]
    near = [[v + 0.0009 for v in row] for row in published]
    assert compare(blip, {"logits": near}).matches
    far = [row[:] for row in published]
    far[2][2] += 0.01
    outcome = compare(blip, {"logits": far})
    assert not outcome.matches and "within 0.01 of the published values (tolerance 0.001)" in outcome.line()
    assert "9.2678" in outcome.line()


def test_offline_it_says_it_needs_the_hub_and_fails(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main([]) == 2
    assert "zerovlm-check needs the Hugging Face hub" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--only", "org/unknown"])


def test_the_console_script_exits_non_zero_offline():
    proc = subprocess.run([sys.executable, "-m", "zerovlm.check"], capture_output=True, text=True,
                          env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    assert proc.returncode == 2 and "HF_HUB_OFFLINE is set" in proc.stderr
