"""Small copies of the spatial benchmarks in their published formats, with placeholder images: the files the
loaders read, written as their authors publish them (parquet through the `datasets` library with embedded
images, VLMEvalKit's TSV with base64 images, the authors' JSON)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image


def _image(seed: int, size=(48, 40), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, ((37 * seed) % 256, (91 * seed) % 256, (53 * seed) % 256)).save(out, fmt)
    return out.getvalue()


def _card(configs: dict[str, list[tuple[str, str]]]) -> str:
    """A dataset card's YAML header naming each config's split files, as on the hub."""
    lines = ["---", "configs:"]
    for name, files in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        lines += [f"  - split: {split}\n    path: {path}" for split, path in files]
    return "\n".join(lines + ["---", ""])


def _parquet(path: Path, rows: list[dict], images: tuple[str, ...]) -> None:
    import datasets
    from datasets import Dataset, Features, Sequence, Value
    from datasets import Image as ImageFeature

    datasets.disable_progress_bars()

    features = {}
    for key, value in rows[0].items():
        if key in images:
            features[key] = ImageFeature()
        elif isinstance(value, list):
            features[key] = Sequence(Value("string"))
        elif isinstance(value, int):
            features[key] = Value("int32")
        else:
            features[key] = Value("string")
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows, features=Features(features)).to_parquet(str(path))


CV_BENCH_2D = [  # (task, source, question, choices, answer)
    ("Count", "ADE20K", "How many organs are in the image?", ["3", "2", "1", "0"], "(C)"),
    ("Count", "COCO", "How many cars are in the image?", ["1", "2", "3", "4"], "(A)"),
    ("Relation", "COCO", "Considering the relative positions of the bicycle (annotated by the red box) and the car "
     "(annotated by the blue box) in the image provided, where is the bicycle (annotated by the red box) located "
     "with respect to the car (annotated by the blue box)?", ["left", "right"], "(B)"),
]
CV_BENCH_3D = [
    ("Depth", "Omni3D", "Which object is closer to the camera taking this photo, the table (highlighted by a red "
     "box) or the chair (highlighted by a blue box)?", ["table", "chair"], "(A)"),
    ("Distance", "Omni3D", "Estimate the real-world distances between objects in this image. Which object is closer "
     "to the lamp (highlighted by a red box), the sofa (highlighted by a blue box) or the desk (highlighted by a "
     "green box)?", ["sofa", "desk"], "(B)"),
]


def write_cv_bench(root: Path) -> Path:
    """nyu-visionx/CV-Bench: README.md (configs 2D, 3D), test_2d.parquet, test_3d.parquet."""
    idx = 0
    for kind, table in (("2D", CV_BENCH_2D), ("3D", CV_BENCH_3D)):
        rows = []
        for task, source, question, choices, answer in table:
            listed = "\n".join(f"({'ABCD'[k]}) {c}" for k, c in enumerate(choices))
            rows.append({"idx": idx, "type": kind, "task": task, "image": {"bytes": _image(idx), "path": None},
                         "question": question, "choices": choices, "answer": answer,
                         "prompt": f"{question} Select from the following choices.\n{listed}",
                         "filename": f"img/{kind}/{task.lower()}/{source.lower()}_{idx}.png", "source": source})
            idx += 1
        _parquet(root / f"test_{kind.lower()}.parquet", rows, ("image",))
    (root / "README.md").write_text(_card({"2D": [("test", "test_2d.parquet")],
                                           "3D": [("test", "test_3d.parquet")]}))
    return root


BLINK = {  # subtask: [(question, choices, answer, images)]
    "Spatial_Relation": [("Is the car beneath the cat?", ["yes", "no"], "(B)", 1),
                         ("Is the car under the cat?", ["yes", "no"], "(A)", 1)],
    "Relative_Depth": [("Two points are circled on the image, labeled by A and B beside each circle. Which point is "
                        "closer to the camera?", ["A is closer", "B is closer"], "(B)", 1)],
    "Multi-view_Reasoning": [("The images are frames from a video. The video is shooting a static scene. The camera "
                              "is either moving clockwise (left) or counter-clockwise (right) around the object. The "
                              "first image is from the beginning of the video and the second image is from the end. "
                              "Is the camera moving left or right when shooting the video?", ["left", "right"],
                              "(B)", 2)],
}


def write_blink(root: Path) -> Path:
    """BLINK-Benchmark/BLINK: README.md (a config per subtask), <subtask>/val-00000-of-00001.parquet."""
    for subtask, questions in BLINK.items():
        rows = []
        for n, (question, choices, answer, count) in enumerate(questions, start=1):
            listed = "\n".join(f"({'ABCD'[k]}) {c}" for k, c in enumerate(choices))
            images = {f"image_{k}": {"bytes": _image(10 * n + k, size=(40 + 8 * k, 32)), "path": None}
                      if k <= count else None for k in range(1, 5)}
            rows.append({"idx": f"val_{subtask}_{n}", "question": question,
                         "prompt": f"{question}\nSelect from the following choices.\n{listed}", "choices": choices,
                         "answer": answer, "sub_task": subtask, **images})
        _parquet(root / subtask / "val-00000-of-00001.parquet", rows, tuple(f"image_{k}" for k in range(1, 5)))
    (root / "README.md").write_text(_card({s: [("val", f"{s}/val-00000-of-00001.parquet")] for s in BLINK}))
    return root


THREEDSR = [  # qid base, category, question, options, answer letter (of the first order)
    ("VIN6MS3J", "height_higher", "Consider the real-world 3D locations of the objects. Which object has a higher "
     "location?", ["baseball glove", "red hat of the person in red in the back"], "B"),
    ("Q2B8ZK1P", "location_next_to", "Consider the real-world 3D locations of the objects. Is the cup next to the "
     "laptop?", ["yes", "no"], "A"),
]


def threedsr_rows() -> list[dict]:
    """VLMEvalKit's circular TSV rows: each question, its reordered copy (-1), its mirrored copy (-flip) and that
    one's reordered copy (-flip-1)."""
    rows = []
    for base, category, question, options, answer in THREEDSR:
        for flip in ("", "-flip"):
            for copy in (0, 1):
                order = options if copy == 0 else options[::-1]
                right = options["AB".index(answer)]
                rows.append({"index": len(rows), "qid": base + flip + (f"-{copy}" if copy else ""),
                             "question": question, "A": order[0], "B": order[1], "C": "", "D": "",
                             "answer": "AB"[order.index(right)], "category": category,
                             "image": base64.b64encode(_image(len(rows), fmt="JPEG")).decode(),
                             "image_source": "MS-COCO",
                             "image_url": "http://images.cocodataset.org/train2017/000000557944.jpg"})
    return rows


def write_threedsr(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = threedsr_rows()
    lines = ["\t".join(rows[0])] + ["\t".join(str(v) for v in r.values()) for r in rows]
    (root / "3dsrbench_v1_vlmevalkit_circular.tsv").write_text("\n".join(lines) + "\n")
    return root


EMBSPATIAL = [
    {"data_source": "mp3d", "scene_id": "YVUC4YcDtcY", "question_id": "mp3d_57",
     "question": "From your perspective, which object in the image is at the shortest distance?", "relation": "close",
     "answer_options": ["garage door", "cabinet", "table", "cart"], "answer": 2,
     "objects": [{"name": "garage door", "bbox": [47, 0, 517, 254]}, {"name": "cabinet", "bbox": [123, 256, 130, 73]},
                 {"name": "table", "bbox": [0, 396, 640, 84]}, {"name": "cart", "bbox": [50, 279, 130, 138]}]},
    {"data_source": "ai2thor", "scene_id": "FloorPlan15", "question_id": "ai2thor_799",
     "question": "'How are drawer and soapbottle positioned in relation to each other in the image?",
     "relation": "under", "answer_options": ["The drawer is blocking the soapbottle.",
                                             "The drawer is beneath the soapbottle.",
                                             "The drawer is touching the soapbottle.",
                                             "The drawer is above the soapbottle."], "answer": 1,
     "objects": [{"name": "drawer", "bbox": [87, 223, 129, 300]}, {"name": "soapbottle", "bbox": [188, 73, 215, 111]}]},
]


def write_embspatial(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    records = [{**r, "image": base64.b64encode(_image(k, fmt="JPEG")).decode()} for k, r in enumerate(EMBSPATIAL)]
    (root / "embspatial_bench.json").write_text(json.dumps(records))
    return root


WHATSUP_SPATIAL = {
    "coco_qa_one_obj.json": [[397133, "A photo of a dining table on the bottom",
                              "A photo of a dining table on the top"],
                             [210520, "A photo of a bowl on the right", "A photo of a bowl on the left"]],
    "coco_qa_two_obj.json": [[37777, "A photo of a dining table to the left of a refrigerator",
                              "A photo of a dining table to the right of a refrigerator"]],
    "vg_qa_one_obj.json": [[2417, "A photo of a dog on the left", "A photo of a dog on the right"]],
    "vg_qa_two_obj.json": [[713, "A photo of a cup above a saucer", "A photo of a cup below a saucer"]],
}


def write_whatsup_spatial(root: Path) -> Path:
    """The json files and images in the authors' data/ layout (val2017/, vg_images/)."""
    root.mkdir(parents=True, exist_ok=True)
    for k, (name, rows) in enumerate(WHATSUP_SPATIAL.items()):
        (root / name).write_text(json.dumps(rows))
        for n, row in enumerate(rows):
            coco = name.startswith("coco")
            folder, file = ("val2017", f"{row[0]:012d}.jpg") if coco else ("vg_images", f"{row[0]}.jpg")
            (root / folder).mkdir(exist_ok=True)
            (root / folder / file).write_bytes(_image(10 * k + n, fmt="JPEG"))
    return root


def write_all(root: Path) -> dict[str, Path]:
    """Every benchmark under root, keyed by the paths.* setting that points at it."""
    return {"cv_bench_dir": write_cv_bench(root / "cv_bench"), "blink_dir": write_blink(root / "blink"),
            "threedsr_dir": write_threedsr(root / "3dsrbench"), "embspatial_dir": write_embspatial(root / "embspatial"),
            "whatsup_dir": write_whatsup_spatial(root / "whatsup")}
