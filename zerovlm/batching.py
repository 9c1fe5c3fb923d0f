"""Length-sorted batches: samples of similar text length share a batch, so left padding wastes little.

The sampler yields dataset indices longest first (stable on ties); under DDP, Lightning wraps it and deals its
order out to the ranks, so each rank's batches stay sorted. Sorting changes which samples share a batch, not
a sample's result (rows are left-padded; see the batch-invariance tests)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler


class LengthSortedSampler(Sampler[int]):
    def __init__(self, lengths: Sequence[int]) -> None:
        self.order = sorted(range(len(lengths)), key=lambda i: -lengths[i])

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


class Remaining:
    """The samples of a dataset still to score (a resumed job), with their text lengths for sorting."""

    def __init__(self, dataset, indices: list[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.dataset[self.indices[i]]

    def text_lengths(self) -> list[int]:
        lengths = self.dataset.text_lengths()
        return [lengths[i] for i in self.indices]


def padding_waste(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """The share of padded positions when each batch is padded to its longest row."""
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1 - sum(lengths[i] for b in batches for i in b) / padded
