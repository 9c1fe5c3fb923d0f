"""Length-sorted batches: longest first, every index once, less padding, same results."""

from __future__ import annotations

import pytest
from torch.utils.data import DataLoader

from zerovlm.batching import LengthSortedSampler, padding_waste
from zerovlm.data.synthetic import SyntheticDataset


def test_sampler_orders_longest_first_and_keeps_every_index_once():
    lengths = [5, 9, 1, 9, 3]
    assert list(LengthSortedSampler(lengths)) == [1, 3, 0, 4, 2]
    assert len(LengthSortedSampler(lengths)) == 5


def test_sorted_batches_waste_less_padding_than_dataset_order():
    dataset = SyntheticDataset(num_scenes=40, splits=["train", "dev", "test"])
    lengths = dataset.text_lengths()
    assert lengths[0] == len(dataset[0].statement)
    plain = list(DataLoader(range(len(dataset)), batch_size=8, collate_fn=list))
    ordered = list(DataLoader(range(len(dataset)), batch_size=8, sampler=LengthSortedSampler(lengths),
                              collate_fn=list))
    assert sorted(i for b in ordered for i in b) == list(range(len(dataset)))
    assert padding_waste(lengths, ordered) < padding_waste(lengths, plain)
    assert padding_waste([3, 3], [[0, 1]]) == 0 and padding_waste([1, 3], [[0, 1]]) == pytest.approx(1 / 3)
