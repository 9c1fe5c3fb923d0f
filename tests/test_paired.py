"""Paired comparisons between jobs: the baseline job found by setting, the same samples or a refusal, Holm over
the sweep, and `zerovlm-report compare`."""

from __future__ import annotations

import json

import pytest
import yaml

from zerovlm.results.metrics import compute_metrics
from zerovlm.results.paired import compare, compare_sweep, parse_baseline, read_rows
from zerovlm.results.report import collect, main
from zerovlm.results.statistics import holm, mcnemar_exact

SETTING = {"stage": "evaluate", "dataset": {"name": "vsr_random"}, "views": {"name": "origin"},
           "generator": {"name": "oracle"}, "layout": {"name": "grid"}, "prompt": {"name": "plain"},
           "backbone": {"name": "tiny_llava"}, "prior": None, "seed": 0}


def job(sweep, num, correct, views="origin", prompt="plain", ids=None, **setting):
    path = sweep / str(num)
    path.mkdir(parents=True)
    config = {**SETTING, **setting, "views": {"name": views}, "prompt": {"name": prompt}, "paths": {"x": str(num)}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    ids = ids or [f"s{i}" for i in range(len(correct))]
    rows = [{"id": i, "image": f"img{k // 2}", "split": "test", "label": True, "prediction": c, "correct": c,
             "relation": "left of", "negative_type": "none"} for k, (i, c) in enumerate(zip(ids, correct, strict=True))]
    (path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "metrics.json").write_text(json.dumps(compute_metrics(rows)))  # as the job writes it
    (path / ".hydra").mkdir()
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"views={views}", f"prompt={prompt}"]))
    return path


def test_each_job_is_compared_with_the_baseline_of_its_own_setting(tmp_path):
    base = [True] * 10 + [False] * 10
    jobs = [job(tmp_path, 0, base), job(tmp_path, 1, [True] * 19 + [False], views="left"),
            job(tmp_path, 2, base, views="left", prompt="view"),
            job(tmp_path, 3, base, views="left", backbone={"name": "tiny_clip"})]  # no tiny_clip baseline
    found = compare_sweep({job: yaml.safe_load((job / "config.yaml").read_text()) for job in jobs},
                          parse_baseline("views=origin,prompt=plain"))
    assert found[jobs[0]] == {"baseline": jobs[0]}
    assert found[jobs[3]] == {"baseline": None,  # said why: no tiny_clip job has the baseline's options
                              "why": "no job with views=origin,prompt=plain has this job's backbone=tiny_clip"}
    left = found[jobs[1]]["comparison"]
    assert left["difference"] == pytest.approx(0.45) and (left["b01"], left["b10"]) == (9, 0)
    assert left["p"] == mcnemar_exact(9, 0) and found[jobs[2]]["comparison"]["p"] == 1.0
    assert [left["p_holm"], found[jobs[2]]["comparison"]["p_holm"]] == holm([left["p"], 1.0])
    assert 0 < left["low"] <= left["difference"] <= left["high"]


def test_jobs_that_scored_other_samples_are_refused_and_said_so(tmp_path):
    job(tmp_path, 0, [True, False, True, False])
    job(tmp_path, 1, [True, True, True, False], views="left", ids=["s0", "s1", "s2", "other"])
    columns, rows, _, _, refused, _, _ = collect(tmp_path)
    assert rows[1]["vs baseline"] == "different samples: not compared" and "p (Holm)" not in rows[1]
    assert len(refused) == 1 and "1 'id' values only in A: 's3'" in refused[0]
    with pytest.raises(ValueError, match="different samples"):
        compare(tmp_path / "0", tmp_path / "1")


def test_report_and_compare_on_the_command_line(tmp_path, capsys):
    job(tmp_path, 0, [True] * 6 + [False] * 6)
    job(tmp_path, 1, [True] * 12, views="left")
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert "| views | n | accuracy |" in out and "| vs baseline | p (Holm) |" in out
    assert "+0.500 [" in out and "(job 0) | 0.0312 (0.0312) |" in out  # 6 discordant pairs one way: p = 2/64
    main(["compare", str(tmp_path / "0"), str(tmp_path / "1")])
    out = capsys.readouterr().out
    assert "B - A = +0.500" in out and "A wrong B right 6, A right B wrong 0; exact McNemar p = 0.03125" in out
    main([str(tmp_path), "--baseline", "views=left"])  # another baseline: the origin job is compared with left
    assert "-0.500 [" in capsys.readouterr().out
    with pytest.raises(ValueError, match="--baseline"):
        parse_baseline("views")


def test_compare_refuses_with_an_error_status(tmp_path):
    job(tmp_path, 0, [True, False])
    job(tmp_path, 1, [True, False], ids=["a", "b"])
    with pytest.raises(SystemExit) as stop:
        main(["compare", str(tmp_path / "0"), str(tmp_path / "1")])
    assert stop.value.code == 2


def test_the_papers_number_stands_beside_ours_where_the_setting_matches(tmp_path):
    paper = job(tmp_path, 0, [True] * 7 + [False] * 3, backbone={"name": "llava15_7b"})
    metrics = json.loads((paper / "metrics.json").read_text())
    metrics["splits"]["test"]["interval"] = {"low": 0.65, "high": 0.75, "method": "wilson"}
    (paper / "metrics.json").write_text(json.dumps(metrics))
    no_interval = job(tmp_path, 1, [True] * 10, views="left", prompt="view", dataset={"name": "whatsup_a"},
                      backbone={"name": "llava15_7b"})
    metrics = json.loads((no_interval / "metrics.json").read_text())
    del metrics["splits"]["test"]["interval"]
    (no_interval / "metrics.json").write_text(json.dumps(metrics))
    job(tmp_path, 2, [True] * 10, views="left", backbone={"name": "qwen25_vl_7b"})  # a family the paper did not run
    columns, rows, *_ = collect(tmp_path)
    assert columns[-3:] == ["paper (test)", "ours - paper (pts)", "paper in our interval"]
    # VSR random, original image, no view prompt: 70.29 in Tables 2 and 3, a count of 2195 fits it
    assert rows[0]["paper (test)"] == "70.29 (Tables 2, 3; n ≈ 2195)"
    assert rows[0]["ours - paper (pts)"] == "-0.3" and rows[0]["paper in our interval"] == "yes"
    assert rows[1]["paper (test)"] == "88.46 (Table 3; n ≈ 52)" and rows[1]["ours - paper (pts)"] == "+11.5"
    assert "paper in our interval" not in rows[1]  # no interval in this job's metrics
    assert "paper (test)" not in rows[2]


def test_a_job_without_a_comparison_says_why_and_a_mistyped_baseline_is_an_error(tmp_path, capsys):
    job(tmp_path, 0, [True, False, True, False], views="origin", prompt="view")
    job(tmp_path, 1, [True, True, True, False], views="left", prompt="view")
    job(tmp_path, 2, [True, True, True, True], views="left", prompt="plain")  # no origin + plain job
    columns, rows, _, _, refused, _, _ = collect(tmp_path)  # default: views=origin, otherwise the same setting
    assert [r["vs baseline"].split(" [")[0] for r in rows] == ["baseline", "+0.250", "no baseline job: see below"]
    assert refused == ["job 2: no job with views=origin has this job's prompt=plain"]
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert "Not compared: job 2: no job with views=origin has this job's prompt=plain" in out
    assert "--baseline group=option" in out  # how to pick another
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path), "--baseline", "views=origin,prompt=plian"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "no job of this sweep has prompt=plian; its jobs have prompt=plain, view" in err
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--baseline", "prompts=plain"])  # an unknown key
    assert "--baseline names ['prompts']" in capsys.readouterr().err


def test_a_sweep_without_any_baseline_job_says_so(tmp_path, capsys):
    job(tmp_path, 0, [True, False], views="left")
    job(tmp_path, 1, [True, True], views="right")
    *_, refused, _, _ = collect(tmp_path)
    assert refused == ["jobs 0, 1: no job of the sweep has views=origin"]


def test_a_rebuilt_report_leaves_no_picture_of_an_earlier_one(tmp_path):
    from zerovlm.results.report import write_report

    job(tmp_path, 0, [True] * 6 + [False] * 6)
    job(tmp_path, 1, [True] * 12, views="left")
    write_report(tmp_path)
    assert (tmp_path / "report_paired.png").exists()
    write_report(tmp_path, "views=left,prompt=view")  # no job has prompt=view: nothing compared
    assert not (tmp_path / "report_paired.png").exists() and (tmp_path / "report.png").exists()


def test_a_sweep_whose_jobs_are_all_baselines_says_how_to_compare_them(tmp_path):
    job(tmp_path, 0, [True, False], prompt="plain")
    job(tmp_path, 1, [True, True], prompt="view")  # a sweep of prompts on the original image
    *_, refused, _, _ = collect(tmp_path)
    assert refused == ["every job has views=origin, so each is its own baseline job; name what the others are "
                       "compared with, e.g. views=origin,group=option"]


def test_results_are_tidy_numbers_that_recompute_from_the_predictions(tmp_path):
    import pandas as pd

    from zerovlm.results.report import write_report
    from zerovlm.results.statistics import accuracy_interval, min_detectable_difference

    job(tmp_path, 0, [True] * 10 + [False] * 10)
    left = job(tmp_path, 1, [True] * 19 + [False], views="left")
    write_report(tmp_path)
    results = pd.read_parquet(tmp_path / "results.parquet")
    assert pd.read_csv(tmp_path / "results.csv").shape == results.shape
    overall = results[results["scope"] == "overall"].set_index("job")
    assert list(overall.index) == ["0", "1"]
    assert {"dataset", "views", "generator", "layout", "prompt", "backbone", "prior", "seed", "stage"} <= set(results)
    for column in ("n", "accuracy", "low", "high", "groups", "difference", "b01", "b10", "mcnemar_p", "holm_p",
                   "min_detectable_difference", "paper_accuracy"):
        assert pd.api.types.is_numeric_dtype(results[column]), column
    rows = read_rows(left)
    recomputed = accuracy_interval([r["correct"] for r in rows], [r["image"] for r in rows])
    assert (overall.loc["1", "low"], overall.loc["1", "high"]) == (recomputed["low"], recomputed["high"])
    assert overall.loc["1", "interval_method"] == "bootstrap over images" and overall.loc["1", "groups"] == 10
    assert overall.loc["1", "comparison"] == "compared" and overall.loc["1", "vs_job"] == "0"
    assert (overall.loc["1", "b01"], overall.loc["1", "b10"]) == (9, 0)
    assert overall.loc["1", "difference"] == pytest.approx(0.45)
    # one comparison in this sweep: alpha 0.05 itself
    assert overall.loc["1", "min_detectable_difference"] == pytest.approx(min_detectable_difference(20, 9))
    assert overall.loc["0", "comparison"] == "baseline"
    test = results[(results["scope"] == "split") & (results["subset"] == "test")].set_index("job")
    assert test.loc["1", "paper_accuracy"] == pytest.approx(0.818) and test.loc["1", "paper_n"] > 0  # Table 3, L-V


def test_a_setting_run_with_several_seeds_gets_its_mean_over_seeds(tmp_path):
    import pandas as pd

    from zerovlm.results.report import write_report
    from zerovlm.results.statistics import seed_interval

    runs = [[True] * 12 + [False] * 8, [True] * 14 + [False] * 6, [True] * 10 + [False] * 10]
    jobs = [job(tmp_path, k, correct, views="random", seed=k) for k, correct in enumerate(runs)]
    text = write_report(tmp_path)
    results = pd.read_parquet(tmp_path / "results.parquet")
    seeds = results[results["scope"] == "seeds"]
    assert len(seeds) == 1 and seeds.iloc[0]["subset"] == "0,1,2" and seeds.iloc[0]["views"] == "random"
    assert seeds.iloc[0]["job"] == "0,1,2" and pd.isna(seeds.iloc[0]["seed"])
    assert pd.api.types.is_integer_dtype(results["seed"])  # still a number column, for df.seed == 0
    expected = seed_interval([[r["correct"] for r in read_rows(j)] for j in jobs],
                             [r["image"] for r in read_rows(jobs[0])])
    for key in ("accuracy", "low", "high", "seed_sd", "seed_min", "seed_max"):
        assert seeds.iloc[0][key] == pytest.approx(expected[key]), key
    assert seeds.iloc[0]["accuracy"] == pytest.approx(0.6) and "Over seeds" in text
    assert "0.600 [" in text.split("Over seeds")[1]


def test_power_names_the_smallest_difference_each_comparison_could_detect(tmp_path, capsys):
    from zerovlm.results.statistics import min_detectable_difference

    job(tmp_path, 0, [True] * 10 + [False] * 10)
    job(tmp_path, 1, [True] * 19 + [False], views="left")
    main(["power", str(tmp_path)])
    out = capsys.readouterr().out
    assert "| job | vs job | n | discordant | difference | smallest detectable | seen |" in out
    assert "| 1 | 0 | 20 | 9 | +0.450 [" in out and f"±{min_detectable_difference(20, 9):.3f} | yes |" in out
    main([str(tmp_path)])
    assert f"±{min_detectable_difference(20, 9):.3f}" in capsys.readouterr().out  # a column of the report too


def test_a_failed_baseline_job_is_named_and_a_rebuilt_report_keeps_the_sweeps_baseline(tmp_path):
    job(tmp_path, 0, [True, False, True, False], views="origin", prompt="view")
    job(tmp_path, 1, [True, True, True, False], views="left", prompt="view")
    failed = tmp_path / "2"  # origin + plain, failed
    (failed / ".hydra").mkdir(parents=True)
    (failed / "config.yaml").write_text(yaml.safe_dump({**SETTING, "views": {"name": "origin"},
                                                        "prompt": {"name": "plain"}}))
    (failed / "error.json").write_text(json.dumps({"type": "RuntimeError", "last_line": "boom"}))
    job(tmp_path, 3, [True, True, False, False], views="left", prompt="plain")
    *_, refused, _, _ = collect(tmp_path)
    assert refused == ["job 3: its baseline job 2 has no result (failed, or still running)"]
    # the sweep's own baseline (an experiment's, in multirun.yaml) is what a rebuilt report compares with
    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"callbacks": {"report": {
        "baseline": "views=origin,prompt=view"}}}}))
    main([str(tmp_path)])
    report = (tmp_path / "report.md").read_text()
    assert "vs baseline: accuracy minus that of the job with views=origin,prompt=view" in report
