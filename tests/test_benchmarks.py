"""The spatial benchmarks beyond VSR and What'sUp's controlled subsets: each loader on a fixture in its published
format, each scoring rule against its benchmark's own definition, and every option one override away."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from benchmark_fixtures import (
    CV_BENCH_2D,
    CV_BENCH_3D,
    EMBSPATIAL,
    THREEDSR,
    write_all,
    write_embspatial,
    write_threedsr,
)
from conftest import SHARED_VSR, read_jsonl, run_cli
from test_throughput import job

from zerovlm.backbones.answers import parse_choice
from zerovlm.data.blink import BlinkDataset
from zerovlm.data.choice import ChoiceDataset, Question, named_objects
from zerovlm.data.cv_bench import CVBenchDataset
from zerovlm.data.embspatial import EmbSpatialDataset
from zerovlm.data.threedsr import ThreeDSRBenchDataset, question_group
from zerovlm.data.whatsup_spatial import WhatsUpSpatialDataset
from zerovlm.prompts import PromptBuilder
from zerovlm.results.metrics import circular_accuracy, compute_metrics, cv_bench_accuracy
from zerovlm.stitch import Layout

OPTIONS = ["whatsup_coco_one", "whatsup_coco_two", "whatsup_gqa_one", "whatsup_gqa_two", "cv_bench_2d",
           "cv_bench_3d", "blink_spatial", "blink_depth", "blink_multiview", "3dsrbench", "embspatial"]


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("benchmarks"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("hf_datasets"))


def test_cv_bench_reads_the_published_parquet_with_its_prompts_and_answers(benchmarks, cache):
    two_d = CVBenchDataset("cv_bench_2d", "2D", str(benchmarks["cv_bench_dir"]), cache)
    assert len(two_d) == len(CV_BENCH_2D)
    assert [two_d[k].answer for k in range(len(two_d))] == [2, 0, 1]  # "(C)", "(A)", "(B)"
    first = two_d[0]
    assert first.question == "How many organs are in the image? Select from the following choices.\n(A) 3\n(B) 2\n" \
                             "(C) 1\n(D) 0"  # the row's own prompt, as the authors ask it
    assert first.statement == "How many organs are in the image?" and first.image.size == (48, 40)
    assert (first.category, first.meta["source"], first.meta["type"]) == ("Count", "ADE20K", "2D")
    assert two_d[2].meta["objects"] == ["bicycle", "car"]  # "the bicycle (annotated by the red box)"
    both = CVBenchDataset("cv_bench", "all", str(benchmarks["cv_bench_dir"]), cache)
    assert len(both) == len(CV_BENCH_2D) + len(CV_BENCH_3D) and both[4].meta["source"] == "Omni3D"
    limited = CVBenchDataset("cv_bench", "all", str(benchmarks["cv_bench_dir"]), cache, limit=1)
    assert limited.sample_ids() == ["cv_bench-2D-0", "cv_bench-3D-3"]  # a limit keeps N of each config
    with pytest.raises(ValueError, match="configs are 2D, 3D"):
        CVBenchDataset("x", "4D", str(benchmarks["cv_bench_dir"]), cache)


def test_blink_reads_each_subtask_and_shows_a_questions_images_side_by_side(benchmarks, cache):
    spatial = BlinkDataset("blink_spatial", "Spatial_Relation", str(benchmarks["blink_dir"]), cache_dir=cache)
    assert len(spatial) == 2 and [spatial[k].answer for k in range(2)] == [1, 0]
    assert spatial[0].question == "Is the car beneath the cat?\nSelect from the following choices.\n(A) yes\n(B) no"
    assert spatial[0].split == "val" and spatial[0].meta["objects"] == ["car", "cat"]
    views = BlinkDataset("blink_multiview", "Multi-view_Reasoning", str(benchmarks["blink_dir"]), cache_dir=cache)
    picture = views[0].image
    assert picture.size == (48 + 8 + 56, 32)  # image_1, a gap, image_2; the unused image_3 and image_4 are empty
    assert picture.getpixel((0, 0)) != picture.getpixel((48 + 8, 0))
    with pytest.raises(ValueError, match="test answers are hidden"):
        BlinkDataset("b", "Spatial_Relation", str(benchmarks["blink_dir"]), split="test", cache_dir=cache)


def test_3dsrbench_keeps_the_authors_copies_of_each_question_in_groups(benchmarks, cache):
    dataset = ThreeDSRBenchDataset("3dsrbench", str(benchmarks["threedsr_dir"]), cache_dir=cache)
    assert len(dataset) == 4 * len(THREEDSR)
    samples = [dataset[k] for k in range(len(dataset))]
    assert [s.meta["group"] for s in samples[:4]] == ["3dsrbench-VIN6MS3J"] * 2 + ["3dsrbench-VIN6MS3J-flip"] * 2
    assert [s.meta["flipped"] for s in samples[:4]] == [False, False, True, True]
    assert {s.options[s.answer] for s in samples[:4]} == {"red hat of the person in red in the back"}
    assert samples[0].question == ("Question: Consider the real-world 3D locations of the objects. Which object has a "
                                   "higher location?\nOptions:\nA. baseball glove\nB. red hat of the person in red "
                                   "in the back")
    assert samples[0].meta["type"] == "height" and samples[4].meta["objects"] == ["cup", "laptop"]
    # the copies of a "which object" question name its objects in one order, whatever their options' order
    assert [s.meta["objects"] for s in samples[:4]] == [["baseball glove", "red hat of the person in red in the "
                                                         "back"]] * 4
    assert question_group("AB12CD34-2") == "AB12CD34" and question_group("AB12CD34-flip-1") == "AB12CD34-flip"
    assert question_group("AB12CD34-flip") == "AB12CD34-flip"
    limited = ThreeDSRBenchDataset("3dsrbench", str(benchmarks["threedsr_dir"]), cache_dir=cache, limit=1)
    assert len(limited) == 2  # the first question with its reordered copy: a limit never splits a group


def test_3dsrbench_images_written_once_are_found_by_their_row_index(tmp_path, cache):
    """VLMEvalKit writes a repeated image once; the other rows hold that row's index."""
    root = write_threedsr(tmp_path)
    tsv = root / "3dsrbench_v1_vlmevalkit_circular.tsv"
    header, *lines = tsv.read_text().splitlines()
    image = header.split("\t").index("image")
    cells = lines[1].split("\t")
    cells[image] = "0"  # row index 0 holds the picture
    tsv.write_text("\n".join([header, lines[0], "\t".join(cells), *lines[2:]]) + "\n")
    dataset = ThreeDSRBenchDataset("3dsrbench", str(root), cache_dir=cache)
    assert dataset[1].image.tobytes() == dataset[0].image.tobytes()


def test_embspatial_reads_the_authors_json(benchmarks, cache):
    dataset = EmbSpatialDataset("embspatial", str(benchmarks["embspatial_dir"]), cache_dir=cache)
    second = dataset[1]
    assert second.answer == 1 and second.options == EMBSPATIAL[1]["answer_options"]
    assert second.statement == "How are drawer and soapbottle positioned in relation to each other in the image?"
    assert second.question.endswith("\nA. The drawer is blocking the soapbottle.\nB. The drawer is beneath the "
                                    "soapbottle.\nC. The drawer is touching the soapbottle.\nD. The drawer is above "
                                    "the soapbottle.")
    assert second.meta["objects"] == ["drawer", "soapbottle"] and second.category == "under"
    assert second.meta["source"] == "ai2thor"


def test_whatsup_coco_and_gqa_spatial_read_the_authors_rows(benchmarks):
    root = str(benchmarks["whatsup_dir"])
    coco = WhatsUpSpatialDataset("whatsup_coco_one", "coco_one", root)
    assert len(coco) == 2 and coco.records[0].image_path.name == "000000397133.jpg"
    first = coco[0]
    assert first.options == ["A photo of a dining table on the bottom", "A photo of a dining table on the top"]
    assert first.answer == 0 and (first.subject, first.relation) == ("dining table", "on the bottom")
    two = WhatsUpSpatialDataset("whatsup_gqa_two", "gqa_two", root, task="verify")
    assert [(two[k].statement, two[k].label) for k in range(2)] == [("A photo of a cup above a saucer", True),
                                                                   ("A photo of a cup below a saucer", False)]
    assert (two[0].subject, two[0].relation, two[0].object) == ("cup", "above", "saucer")
    assert two.records[0].image_path == benchmarks["whatsup_dir"] / "vg_images" / "713.jpg"


def test_bad_benchmark_files_fail_naming_the_file_and_the_row(tmp_path, cache):
    root = write_threedsr(tmp_path / "3d")
    tsv = root / "3dsrbench_v1_vlmevalkit_circular.tsv"
    lines = tsv.read_text().splitlines()
    tsv.write_text("\n".join([lines[0], lines[1].replace("height_higher", "weight_heavier"), *lines[2:]]) + "\n")
    with pytest.raises(ValueError, match=rf"{tsv}:2 \(qid VIN6MS3J\): category 'weight_heavier' is none"):
        ThreeDSRBenchDataset("3dsrbench", str(root), cache_dir=cache)
    emb = write_embspatial(tmp_path / "emb")
    records = json.loads((emb / "embspatial_bench.json").read_text())
    records[1]["answer"] = 4
    (emb / "embspatial_bench.json").write_text(json.dumps(records))
    with pytest.raises(ValueError, match=r"record 1 \(ai2thor_799\): answer 4 is not an index of its 4 options"):
        EmbSpatialDataset("embspatial", str(emb), cache_dir=cache)
    with pytest.raises(FileNotFoundError, match="embspatial_bench.json not found. Set paths.embspatial_dir"):
        EmbSpatialDataset("embspatial", str(tmp_path), cache_dir=cache)
    records[1]["answer"], records[1]["image"] = 1, "bm90IGFuIGltYWdl"  # base64 of "not an image"
    (emb / "embspatial_bench.json").write_text(json.dumps(records))
    with pytest.raises(OSError, match=r"sample embspatial-ai2thor_799: its embedded image cannot be read"):
        EmbSpatialDataset("embspatial", str(emb), cache_dir=cache)[1]
    (tmp_path / "coco_qa_one_obj.json").write_text(json.dumps([[1, "A photo of a cat on the left"]]))
    with pytest.raises(ValueError, match=r"coco_qa_one_obj.json: row 0: expected \[image id, correct caption"):
        WhatsUpSpatialDataset("w", "coco_one", str(tmp_path))


@pytest.mark.parametrize(("text", "expected"), [
    ("B", 1), ("(B)", 1), ("(B) no", 1), ("B.", 1), ("B: no", 1), ("**A**", 0), ("The answer is B.", 1),
    ("Answer: (A)", 0), ("so the camera moves (B)", 1), ("no", 1), ("No.", 1), ("B\n\nBecause the cat", 1),
    ("B - the car is not under it", 1), ("The answer is B because the car is outside", 1),
    # never a guess: no letter, two letters, an article, a letter beyond the options
    ("A chair", None), ("(A) or (B)", None), ("answer is B, not option A", None), ("E", None), ("maybe", None),
    ("Answer: A chair is under the table", None),
])
def test_a_generated_answer_is_read_for_one_option_or_none(text, expected):
    assert parse_choice(text, ["yes", "no"]) == expected


def test_objects_a_question_names():
    assert named_objects("Is the dining table at the left side of the potted plant?", ["yes", "no"]) == \
        ["dining table", "potted plant"]
    assert named_objects("Which object has a higher location?", ["baseball glove", "red hat"]) == \
        ["baseball glove", "red hat"]
    assert named_objects("Estimate the distances. Which object is closer to the lamp (highlighted by a red box), "
                         "the sofa (highlighted by a blue box) or the desk (highlighted by a green box)?",
                         ["sofa", "desk"]) == ["lamp", "sofa", "desk"]
    assert named_objects("Is the camera moving left or right?", ["left", "right"]) == []


def _question(k: int, options=("left", "right", "above"), answer=2) -> Question:
    return Question(id=f"q{k}", question=f"Where is thing {k}?", options=list(options), answer=answer,
                    category="where", image=lambda: None, image_key=f"img{k}")


def test_two_questions_with_one_id_fail_before_any_work():
    with pytest.raises(ValueError, match="dataset=toy: two questions have the id q0"):
        ChoiceDataset("toy", "toy", [_question(0), _question(0)])


def test_circular_rotations_keep_the_right_option_and_the_group():
    dataset = ChoiceDataset("toy", "toy", [_question(0), _question(1)], circular=True, limit=1)
    rotations = dataset.questions
    assert [q.options for q in rotations] == [["left", "right", "above"], ["right", "above", "left"],
                                              ["above", "left", "right"]]
    assert {q.options[q.answer] for q in rotations} == {"above"}
    assert [dataset[k].question.split("\n")[1:] for k in range(3)] == [
        ["A. left", "B. right", "C. above"], ["A. right", "B. above", "C. left"], ["A. above", "B. left", "C. right"]]
    assert {q.meta["group"] for q in rotations} == {"q0"} and [q.meta["rotation"] for q in rotations] == [0, 1, 2]


def _rows(outcomes: dict[str, list[bool]], category="where", **extra) -> list[dict]:
    return [{"id": f"{group}-{k}", "group": group, "category": category, "correct": ok, **extra}
            for group, oks in outcomes.items() for k, ok in enumerate(oks)]


def test_circular_eval_counts_a_question_only_when_every_rotation_is_right():
    rows = _rows({"q0": [True, True, True], "q1": [True, False, True], "q2": [False, False, False]})
    assert circular_accuracy(rows)["accuracy"] == pytest.approx(1 / 3)  # plain accuracy would be 5/9
    assert circular_accuracy(rows)["n"] == 3 and circular_accuracy(rows)["copies"] == 9


def _authors_3dsrbench(rows: list[dict]) -> float:
    """compute_3dsrbench_results_circular.py's loop (its overall number), on (qid, category, hit) rows."""
    results = {}
    for qid, category, hit in rows:
        qid = qid[:-2] if qid[-2] == "-" else qid
        results[qid] = [results[qid][0] * hit, category] if qid in results else [hit, category]
    return float(np.mean([results[k][0] for k in results]))


def test_3dsrbench_circular_and_flip_eval_equal_the_authors_script():
    outcomes = {"VIN6MS3J": 1, "VIN6MS3J-1": 1, "VIN6MS3J-flip": 1, "VIN6MS3J-flip-1": 0,
                "Q2B8ZK1P": 0, "Q2B8ZK1P-1": 1, "Q2B8ZK1P-flip": 1, "Q2B8ZK1P-flip-1": 1}
    ours = [{"id": qid, "group": question_group(qid), "category": "height_higher", "type": "height",
             "correct": bool(hit)} for qid, hit in outcomes.items()]
    expected = _authors_3dsrbench([(qid, "height_higher", hit) for qid, hit in outcomes.items()])
    assert circular_accuracy(ours)["accuracy"] == expected == 0.5  # the mirrored question is a group of its own
    assert circular_accuracy(ours)["types"] == {"height": {"accuracy": 0.5, "n": 4}}


def test_cv_bench_combined_score_is_the_cards_formula():
    rows = [{"source": s, "correct": ok, "prediction": 0, "options": ["a", "b"]}
            for s, oks in {"ADE20K": [1, 1, 0, 0], "COCO": [1, 0, 0], "Omni3D": [1, 1, 1, 0, 0]}.items() for ok in oks]
    ade, coco, omni = 2 / 4, 1 / 3, 3 / 5
    got = cv_bench_accuracy(rows)
    assert got["cv_bench_accuracy"] == pytest.approx(((ade + coco) / 2 + omni) / 2)
    assert (got["accuracy_2d"], got["accuracy_3d"]) == (pytest.approx((ade + coco) / 2), pytest.approx(omni))
    no_coco = cv_bench_accuracy([r for r in rows if r["source"] != "COCO"])
    assert no_coco["cv_bench_accuracy"] is None and no_coco["accuracy_2d"] is None  # the card's 2D needs both


def test_a_multiple_choice_prompt_and_what_is_scored_as_its_answer(benchmarks, cache):
    sample = EmbSpatialDataset("embspatial", str(benchmarks["embspatial_dir"]), cache_dir=cache)[0]
    plain = PromptBuilder("plain", "{statement}")
    assert plain(sample, [], Layout("grid")) == (
        "From your perspective, which object in the image is at the shortest distance?\nA. garage door\nB. cabinet\n"
        "C. table\nD. cart\nAnswer with the option's letter from the given choices directly.")
    assert plain.answers(sample) == ["A", "B", "C", "D"]  # each letter's likelihood as the answer
    assert PromptBuilder("plain", "{statement}", choice_answer="text").answers(sample) == sample.options
    with pytest.raises(ValueError, match="prompt.choice_answer='word'"):
        PromptBuilder("plain", "{statement}", choice_answer="word")


def test_multiple_choice_metrics_per_category_with_chance():
    rows = [{"id": f"r{k}", "split": "test", "relation": c, "negative_type": "none", "category": c, "label": 0,
             "prediction": p, "correct": p == 0, "options": ["a", "b", "c", "d"][:n], "question": "?",
             "group": f"r{k}", "benchmark": "embspatial", "image": f"i{k}"}
            for k, (c, p, n) in enumerate([("close", 0, 4), ("close", 1, 4), ("under", None, 2)])]
    metrics = compute_metrics(rows)
    assert metrics["task"] == "multiple_choice" and metrics["unparsed"] == 1
    assert metrics["categories"]["close"]["accuracy"] == 0.5 and metrics["categories"]["under"]["chance"] == 0.5
    assert metrics["chance"] == pytest.approx((0.25 + 0.25 + 0.5) / 3) and "circular" not in metrics


def test_a_stop_iteration_inside_a_step_fails_the_job_instead_of_ending_its_loop():
    """Found with a question naming no object: the detector's pipeline raised StopIteration, which Lightning's loop
    took for the end of the data, and the job ended with no rows and no error of its own."""
    from types import SimpleNamespace

    from zerovlm.predict import no_silent_stop

    @no_silent_stop
    def step(module, batch, batch_idx=0):
        return next(iter([]))

    with pytest.raises(RuntimeError, match=r"predict_step raised StopIteration on batch 3 \(samples \['q1'\]"):
        step(SimpleNamespace(), [SimpleNamespace(id="q1")], 3)


def test_the_spatial_suite_sweeps_every_benchmark_views_and_prior():
    from hydra import compose, initialize_config_dir

    from zerovlm.cli import CONFIG_PATH

    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=spatial_suite"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert params.dataset.split(",") == ["vsr_random", "whatsup_a", *OPTIONS]
    assert (params.views, params.prior) == ("origin,four", "none,spatialpin")
    assert cfg.hydra.callbacks.report.baseline == "views=origin,prior=none" and cfg.prompt.name == "view"


@pytest.mark.slow
def test_the_spatial_suite_runs_offline_on_fixtures_with_a_table_per_benchmark(tmp_path, benchmarks, whatsup_dir):
    """Every benchmark one override away: the suite's datasets on their fixtures, without and with the (tiny) 3D
    prior, each job paired with its prior=none job in a table per benchmark."""
    datasets = ["whatsup_a", *OPTIONS] + (["vsr_random"] if SHARED_VSR.is_dir() else [])
    coco = [f"paths.coco_dir={make_coco(tmp_path / 'coco')}", f"paths.vsr_splits_dir={SHARED_VSR}"] \
        if SHARED_VSR.is_dir() else []
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", "experiment=spatial_suite", f"dataset={','.join(datasets)}", "views=origin",
                   "prior=none,spatialpin_tiny", "generator=tiny_zero123", "dataset.limit=2",
                   f"hydra.sweep.dir={sweep}",
                   *[f"paths.{key}={value}" for key, value in benchmarks.items() if key != "whatsup_dir"],
                   f"paths.whatsup_dir={merged_whatsup(tmp_path / 'whatsup', whatsup_dir, benchmarks['whatsup_dir'])}",
                   *coco, timeout=900)
    jobs = sorted((p for p in sweep.iterdir() if (p / "metrics.json").exists()), key=lambda p: int(p.name))
    assert len(jobs) == 2 * len(datasets)
    for job_dir in jobs:
        metrics = json.loads((job_dir / "metrics.json").read_text())
        assert metrics["n"] > 0 and metrics["setting"]["dataset"] in datasets
    report = (sweep / "report.md").read_text()
    for name in datasets:  # a table per benchmark, the prior job against the one without
        table = report.split(f"### dataset={name}\n")[1].split("###")[0]
        assert "| baseline |" in table and "(job " in table and "spatialpin_tiny" in table
    assert "circular acc" in report.split("### dataset=3dsrbench")[1].split("###")[0]
    assert "Sweep directory" in proc.stdout


def make_coco(root: Path) -> Path:
    """Placeholder COCO images for the first two questions of each VSR split."""
    from conftest import placeholder_image

    for split in ("dev", "test"):
        for line in (SHARED_VSR / "random" / f"{split}.jsonl").read_text().splitlines()[:8]:
            record = json.loads(line)
            folder = record["image_link"].rstrip("/").split("/")[-2]
            placeholder_image(root / folder / record["image"], seed=len(record["image"]))
    return root


def merged_whatsup(root: Path, controlled: Path, spatial: Path) -> Path:
    """One What'sUp release folder with the controlled subsets and the COCO / GQA ones, as the authors' data/."""
    import shutil

    shutil.copytree(controlled, root)
    shutil.copytree(spatial, root, dirs_exist_ok=True)
    return root


@pytest.mark.slow
def test_generated_answers_views_and_the_prior_on_a_multiple_choice_benchmark(tmp_path, benchmarks):
    paths = [f"paths.{key}={value}" for key, value in benchmarks.items()]
    metrics, rows = job(tmp_path / "gen", "dataset=3dsrbench", *paths, "backbone.scoring=generate",
                        "trainer.enable_progress_bar=false")
    assert all(r["answered_by"] == "generated text" and r["raw"] is not None for r in rows)
    assert all(r["prediction"] == parse_choice(r["raw"], r["options"]) for r in rows)
    assert metrics["circular"]["copies"] == 8 and metrics["circular"]["n"] == 4
    metrics, rows = job(tmp_path / "views", "dataset=embspatial", *paths, "views=origin_left",
                        "generator=tiny_zero123", "generator.steps=2", "prior=spatialpin_tiny",
                        "trainer.enable_progress_bar=false")
    first = rows[0]
    assert [v["name"] for v in first["views"]] == ["origin", "left"]
    assert first["prompt"].startswith("The original image on the left and the left view image on the right.")
    assert first["prior_text"] in first["prompt"]
    assert "drawer" in first["prior_text"] and "soapbottle" in first["prior_text"]  # the question's `objects`
    assert metrics["views_generated"] == 2
    assert read_jsonl(tmp_path / "views" / "predictions.jsonl") == rows
