"""Seeded synthetic scenes with exactly known 3D layout: the embedded default dataset.

Scene i is drawn from ``numpy.random.default_rng([seed, i])`` alone, so any subset, order or rank sees the
same scenes. Each scene gives two samples: one true statement about a pair of objects, seen from the input
camera, and one false statement derived from it, alternately of the ZeroVLM paper's two kinds: relation
swapped (the opposite relation) and object swapped (an object of a colour that is not in the scene).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from zerovlm.data.records import check_limit, first_per_split
from zerovlm.data.sample import TRUE_STATEMENT, Sample
from zerovlm.render import COLORS, SHAPES, Camera, SceneObject, render

# relation -> (words in a statement, opposite relation)
RELATIONS = {
    "left of": ("to the left of", "right of"),
    "right of": ("to the right of", "left of"),
    "in front of": ("in front of", "behind"),
    "behind": ("behind", "in front of"),
    "on": ("on", "under"),
    "under": ("under", "on"),
}
MARGIN = 0.25  # scene units a pair must be apart along an axis before a statement is made about it


def statement(subject: str, relation: str, obj: str) -> str:
    return f"The {subject} is {RELATIONS[relation][0]} the {obj}."


def make_scene(seed: int, index: int) -> tuple[list[SceneObject], Camera]:
    rng = np.random.default_rng([seed, index])
    n = int(rng.integers(2, 4))
    colors = rng.choice(list(COLORS), size=n, replace=False)
    shapes = rng.choice(SHAPES, size=n)
    sizes = rng.uniform(0.5, 0.75, size=n)
    stacked = bool(rng.random() < 0.3)
    objects: list[SceneObject] = []
    for k in range(n):
        if stacked and k == 1:
            base = objects[0]
            size = float(min(sizes[1], base.size))
            center = (base.center[0], base.center[1], base.top + size / 2)
            objects.append(SceneObject(str(shapes[1]), str(colors[1]), center, size))
            continue
        shape = "cube" if stacked and k == 0 and shapes[0] == "sphere" else str(shapes[k])
        while True:
            x, y = rng.uniform(-1.3, 1.3), rng.uniform(-1.0, 1.2)
            if all(np.hypot(x - o.center[0], y - o.center[1]) > (sizes[k] + o.size) / 2 + 0.3 for o in objects):
                break
        objects.append(SceneObject(shape, str(colors[k]), (float(x), float(y), float(sizes[k] / 2)), float(sizes[k])))
    camera = Camera(polar=float(rng.uniform(60.0, 72.0)), azimuth=-90.0, radius=5.0)
    return objects, camera


def true_relations(objects: list[SceneObject], camera: Camera) -> list[tuple[int, str, int]]:
    """Every (subject, relation, object) that holds in the view of `camera`, with a margin."""
    _, right, _, forward = camera.frame()
    ahead = np.array([forward[0], forward[1], 0.0])
    ahead /= np.linalg.norm(ahead)
    found = []
    for a, oa in enumerate(objects):
        for b, ob in enumerate(objects):
            if a == b:
                continue
            if np.allclose(oa.center[:2], ob.center[:2]):
                found.append((a, "on" if oa.center[2] > ob.center[2] else "under", b))
                continue
            d = np.subtract(oa.center, ob.center)
            if d @ right < -MARGIN:
                found.append((a, "left of", b))
            if d @ right > MARGIN:
                found.append((a, "right of", b))
            if d @ ahead < -MARGIN:
                found.append((a, "in front of", b))
            if d @ ahead > MARGIN:
                found.append((a, "behind", b))
    return found


class SyntheticDataset:
    """A sequence of Samples from `num_scenes` seeded scenes, restricted to `splits`."""

    def __init__(
        self,
        num_scenes: int = 24,
        splits: list[str] | tuple[str, ...] = ("dev", "test"),
        split_fractions: dict[str, float] | None = None,
        image_size: int = 256,
        seed: int = 0,
        limit: int | None = None,
        name: str = "synthetic",
    ) -> None:
        fractions = dict(split_fractions or {"train": 0.5, "dev": 0.25, "test": 0.25})
        unknown = set(splits) - set(fractions)
        if unknown:
            raise ValueError(f"dataset.splits has {sorted(unknown)}; the synthetic splits are {sorted(fractions)}")
        check_limit(limit)
        self.name, self.image_size, self.seed = name, image_size, seed
        scene_split = self._assign_splits(num_scenes, fractions, seed)
        self.records = [r for i in range(num_scenes) if scene_split[i] in splits
                        for r in self._records(i, scene_split[i])]
        self.records = first_per_split(self.records, limit, split=lambda r: r["split"])
        if not self.records:
            raise ValueError(
                f"dataset=synthetic selected no samples (num_scenes={num_scenes}, splits={list(splits)}, "
                f"limit={limit}): raise num_scenes or choose other splits"
            )

    @staticmethod
    def _assign_splits(num_scenes: int, fractions: dict[str, float], seed: int) -> list[str]:
        order = np.random.default_rng([seed, 2**31]).permutation(num_scenes)
        total = sum(fractions.values())
        bounds = np.cumsum([f / total for f in fractions.values()]) * num_scenes
        split_of_rank = np.searchsorted(np.rint(bounds), np.arange(num_scenes), side="right")
        names = list(fractions)
        split = [""] * num_scenes
        for rank, scene in enumerate(order):
            split[scene] = names[min(split_of_rank[rank], len(names) - 1)]
        return split

    def _records(self, index: int, split: str) -> list[dict]:
        objects, camera = make_scene(self.seed, index)
        rng = np.random.default_rng([self.seed, index, 1])
        relations = true_relations(objects, camera)
        a, relation, b = relations[int(rng.integers(len(relations)))]
        subject, obj = objects[a].name, objects[b].name
        scene = {"objects": [asdict(o) for o in objects], "camera": asdict(camera)}
        base = {"scene_index": index, "split": split, "scene": scene}
        true = dict(base, id=f"synthetic-{index:05d}-true", subject=subject, object=obj, relation=relation,
                    label=True, negative_type=TRUE_STATEMENT)
        if index % 2 == 0:
            false = dict(true, relation=RELATIONS[relation][1], negative_type="relation_swap")
        else:
            absent = sorted(set(COLORS) - {o.color for o in objects})
            fake = f"{rng.choice(absent)} {rng.choice(SHAPES)}"
            swap_subject = bool(rng.integers(2))
            false = dict(true, subject=fake if swap_subject else subject, object=obj if swap_subject else fake,
                         negative_type="object_swap")
        false.update(id=f"synthetic-{index:05d}-false", label=False)
        return [true, false]

    def __len__(self) -> int:
        return len(self.records)

    def sample_ids(self) -> list[str]:
        return [r["id"] for r in self.records]

    def text_lengths(self) -> list[int]:
        """Characters of each statement, for length-sorted batches."""
        return [len(statement(r["subject"], r["relation"], r["object"])) for r in self.records]

    def image_keys(self) -> list[str]:
        """The scene each sample shows, so the statements about one scene can share a batch."""
        return [f"scene-{r['scene_index']:05d}" for r in self.records]

    def __getitem__(self, i: int) -> Sample:
        r = self.records[i]
        image = render(scene_objects(r["scene"]), Camera(**r["scene"]["camera"]), self.image_size)
        return Sample(
            id=r["id"], split=r["split"], image=image, label=r["label"], relation=r["relation"],
            statement=statement(r["subject"], r["relation"], r["object"]), subject=r["subject"], object=r["object"],
            negative_type=r["negative_type"],
            meta={"image": f"scene-{r['scene_index']:05d}", "scene": r["scene"], "scene_index": r["scene_index"]},
        )


def scene_objects(scene: dict) -> list[SceneObject]:
    return [SceneObject(o["shape"], o["color"], tuple(o["center"]), o["size"]) for o in scene["objects"]]
