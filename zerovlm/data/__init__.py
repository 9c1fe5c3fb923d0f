"""Datasets: each yields `Sample`s, the one record every later stage reads."""

from zerovlm.data.sample import Sample

__all__ = ["Sample"]
