"""The order in which samples are scored, and which rank scores which.

- The statements about one image stay next to each other (so a batch can compute their shared picture and
  prompt once, backbones/hf.py), and images come longest text first (so left padding wastes little).
- Under DDP every rank takes whole images, dealt greedily to the rank with the fewest samples so far, each
  rank's share keeping the global order. A rank left without a sample (fewer images than ranks) scores a copy
  of the first one; the merge keeps one row per sample and counts the copy (`duplicates_removed`).

The order changes which samples share a batch, never a sample's result (rows are left-padded; see the
batch-invariance tests). `sort_by_length=false` keeps the dataset's order (still one image's statements
together where the dataset lists them together)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from time import perf_counter

from torch.utils.data import Sampler


def _rank_and_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def grouped_order(lengths: Sequence[int], groups: Sequence[str] | None = None, sort: bool = True) -> list[list[int]]:
    """Indices grouped by image (first appearance), groups longest text first when `sort` (stable on ties)."""
    members: dict[object, list[int]] = {}
    for i in range(len(lengths)):
        members.setdefault(groups[i] if groups is not None else i, []).append(i)
    order = list(members.values())
    if sort:
        order = [sorted(g, key=lambda i: -lengths[i]) for g in order]
        order.sort(key=lambda g: -lengths[g[0]])
    return order


def deal(groups: list[list[int]], world: int) -> list[list[int]]:
    """Whole groups to `world` ranks, each to the rank with the fewest indices so far (lowest rank on ties)."""
    shares: list[list[int]] = [[] for _ in range(world)]
    for group in groups:
        min(shares, key=len).extend(group)
    for share in shares:
        if not share and groups:
            share.append(groups[0][0])
    return shares


class GroupedSampler(Sampler[int]):
    """This rank's indices: its share of the image groups, in order. Rank and world size are read when the
    loader asks (Lightning has set up the process group by then), so one sampler serves any number of ranks."""

    def __init__(self, lengths: Sequence[int], groups: Sequence[str] | None = None, sort: bool = True) -> None:
        self.groups = grouped_order(lengths, groups, sort)

    def _indices(self) -> list[int]:
        rank, world = _rank_and_world()
        return deal(self.groups, world)[rank]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices())

    def __len__(self) -> int:
        return len(self._indices())


READ_SECONDS = "_read_seconds"


def read_seconds(samples) -> float:
    """The seconds spent reading these samples (Remaining.__getitem__), taken out of their meta."""
    return sum(s.meta.pop(READ_SECONDS, 0.0) for s in samples)


class Remaining:
    """The samples of a dataset still to score (a resumed job), with their text lengths and image keys."""

    def __init__(self, dataset, indices: list[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        """The sample, read and decoded (its image too), with the seconds that took (`read_seconds` collects
        them into the job's time breakdown)."""
        start = perf_counter()
        sample = self.dataset[self.indices[i]]
        sample.meta[READ_SECONDS] = perf_counter() - start
        return sample

    def text_lengths(self) -> list[int]:
        lengths = self.dataset.text_lengths()
        return [lengths[i] for i in self.indices]

    def image_keys(self) -> list[str]:
        keys = self.dataset.image_keys()
        return [keys[i] for i in self.indices]


def padding_waste(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """The share of padded positions when each batch is padded to its longest row."""
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1 - sum(lengths[i] for b in batches for i in b) / padded
