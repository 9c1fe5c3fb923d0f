"""Scoring order: one image's statements together, images longest first, whole images per rank, every index
once (a rank with nothing to do scores a copy of the first sample), less padding than dataset order."""

from __future__ import annotations

import pytest
from torch.utils.data import DataLoader

from zerovlm.batching import GroupedSampler, deal, grouped_order, padding_waste
from zerovlm.data.synthetic import SyntheticDataset


def test_sampler_orders_longest_first_and_keeps_every_index_once():
    lengths = [5, 9, 1, 9, 3]
    assert list(GroupedSampler(lengths)) == [1, 3, 0, 4, 2]
    assert len(GroupedSampler(lengths)) == 5
    assert list(GroupedSampler(lengths, sort=False)) == [0, 1, 2, 3, 4]


def test_statements_about_one_image_stay_together_longest_image_first():
    lengths = [5, 9, 1, 9, 3, 2]
    images = ["a", "b", "a", "c", "b", "a"]
    assert grouped_order(lengths, images) == [[1, 4], [3], [0, 5, 2]]
    assert list(GroupedSampler(lengths, images)) == [1, 4, 3, 0, 5, 2]
    assert grouped_order(lengths, images, sort=False) == [[0, 2, 5], [1, 4], [3]]


def test_ranks_get_whole_images_balanced_and_never_nothing():
    groups = [[1, 4], [3], [0, 5, 2], [6]]
    shares = deal(groups, 2)
    assert shares == [[1, 4, 6], [3, 0, 5, 2]]
    assert sorted(i for s in shares for i in s) == list(range(7))
    assert deal([[0]], 3) == [[0], [0], [0]]  # fewer images than ranks: copies, removed at the merge
    assert deal([[0, 1]], 2) == [[0, 1], [0]]


def test_sorted_batches_waste_less_padding_than_dataset_order():
    dataset = SyntheticDataset(num_scenes=40, splits=["train", "dev", "test"])
    lengths = dataset.text_lengths()
    assert lengths[0] == len(dataset[0].statement)
    assert dataset.image_keys()[0] == dataset[0].meta["image"]
    plain = list(DataLoader(range(len(dataset)), batch_size=8, collate_fn=list))
    ordered = list(DataLoader(range(len(dataset)), batch_size=8, collate_fn=list,
                              sampler=GroupedSampler(lengths, dataset.image_keys())))
    assert sorted(i for b in ordered for i in b) == list(range(len(dataset)))
    assert padding_waste(lengths, ordered) < padding_waste(lengths, plain)
    assert padding_waste([3, 3], [[0, 1]]) == 0 and padding_waste([1, 3], [[0, 1]]) == pytest.approx(1 / 3)
