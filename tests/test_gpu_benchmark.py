"""benchmarks/gpu_throughput.py: end to end on the tiny models (its --tiny check, on the CPU), its refusal without a
GPU, the peak table and the message naming missing packages."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_throughput.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    # one thread: the tiny models' many small operations crawl when threads contend for a busy machine's cores
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_tiny_run_measures_everything_and_prints_the_table(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_script("--tiny", "--device", "cpu", "--samples", "8", "--images", "4", "--out", str(out),
                      "--work", str(tmp_path / "work"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    report = json.loads(out.read_text())
    assert report["tiny"] is True and report["peak_tflops"] is None and report["parts"] == ["llava", "zero123"]
    assert not (tmp_path / "work").exists()  # removed without --keep

    llava = report["llava"]
    assert llava["image_tokens"] == 16 and llava["tflop_per_sample"] > 0  # tiny LLaVA: (32 / 8) ** 2 patches
    names = ["model_alone", "hand_loop", "zerovlm", "zerovlm_four_statements_per_image"]
    for name in names:
        e = llava[name]
        assert e["count"] == 8 and e["per_s"] > 0 and e["per_s"] == pytest.approx(e["count"] / e["seconds"], rel=1e-3)
        assert e["tflops_per_s"] == pytest.approx(llava["tflop_per_sample"] * e["per_s"])
        assert e["peak_share"] is None  # no peak for a CPU
    alone, hand = llava["model_alone"]["per_s"], llava["hand_loop"]["per_s"]
    assert llava["hand_loop"]["time_over_model_alone"] == pytest.approx(alone / hand)
    for name in names[2:]:
        job = llava[name]
        assert job["time_over_model_alone"] == pytest.approx(alone / job["per_s"])
        assert job["time_over_hand_loop"] == pytest.approx(hand / job["per_s"])
        seconds = job["job_seconds"]
        assert {"setup", "total", "rest"} <= set(seconds)
        assert job["seconds"] == pytest.approx(seconds["total"] - seconds["setup"], abs=1e-3)
    assert llava["zerovlm_four_statements_per_image"]["images"] == 2
    # the job scored what the hand loop scored: the same model input, the same p(yes) (float32 on the CPU)
    assert llava["zerovlm"]["model_input_equals_hand_loop"] is True
    assert llava["zerovlm"]["max_abs_p_yes_difference_from_hand_loop"] < 1e-4

    z = report["zero123"]
    assert z["tflop_per_view"] > 0 and z["steps"] == 2 and z["size"] == 32 and z["images"] == 4
    assert set(z["sampler"]) == {"4", "12"} and set(z["render"]) == {"4", "12"}
    reference = z["sampler"]["4"]["per_s"]
    for e in [*z["sampler"].values(), *z["render"].values()]:
        assert e["per_s"] > 0 and e["time_over_sampler"] == pytest.approx(reference / e["per_s"])
    assert all(e["count"] == 12 for e in z["render"].values())  # 4 images x 3 generated views

    lines = report["markdown"]
    assert lines[0].startswith(f"Measured {report['date']} on CPU") and "tiny random models" in lines[0]
    llava_table = next(i for i, line in enumerate(lines) if line.startswith("| tiny LLaVA, likelihood, 8 statements |"))
    assert lines[llava_table + 1] == "|---|---|---|---|---|---|---|"
    assert [line.split(" | ")[0] for line in lines[llava_table + 2:llava_table + 6]] == [
        "| model alone (inputs prepared, forward only)", "| hand loop (open image, chat template, processor, forward)",
        "| zerovlm job, VSR-like (1 statement per image)", "| zerovlm job, What'sUp-like (4 statements per image)"]
    zero_table = next(i for i, line in enumerate(lines) if line.startswith("| tiny Zero-1-to-3, 32 px, 2 DDIM steps"))
    rows = lines[zero_table + 2:zero_table + 6]
    assert all(line.count("|") == 8 for line in rows) and "stage=render" in rows[2]
    assert "\n".join(lines) in proc.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_says_to_run_with_tiny(tmp_path):
    proc = run_script("--out", str(tmp_path / "x.json"), timeout=120)
    assert proc.returncode != 0 and not (tmp_path / "x.json").exists()
    assert "no GPU here" in proc.stderr and "--tiny" in proc.stderr
    proc = run_script("--device", "cpu", timeout=120)  # the real sizes on a CPU: refused too
    assert proc.returncode != 0 and "--tiny" in proc.stderr


def test_peak_table_and_missing_packages():
    script = load_script()
    assert script.peak_tflops("NVIDIA H100 80GB HBM3") == 989
    assert script.peak_tflops("NVIDIA H100 PCIe") == 756
    assert script.peak_tflops("NVIDIA H100 NVL") is None  # not in the table: n/a, not the SXM figure
    assert script.peak_tflops("NVIDIA H200") == 989
    assert script.peak_tflops("NVIDIA A100-SXM4-80GB") == 312
    assert script.peak_tflops("NVIDIA L40S") == 362
    assert script.peak_tflops("NVIDIA GeForce RTX 4090") == 165
    assert script.peak_tflops("Tesla T4") is None and script.peak_tflops(None) is None

    absent = {"hydra", "omegaconf", "diffusers"}
    find_spec = lambda name: None if name in absent else object()  # noqa: E731
    assert script.missing_packages(["llava"], find_spec) == ["hydra-core (for the zerovlm jobs)",
                                                             "omegaconf (for the zerovlm jobs)"]
    missing = script.missing_packages(["llava", "zero123"], find_spec)
    assert "diffusers (for the UNet and the VAE)" in missing and len(missing) == 3
    assert script.missing_packages(["llava", "zero123"]) == []  # this environment has them all
