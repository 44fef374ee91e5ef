"""Splits for training (compatibility): they live in :mod:`workbench.evaluate.splits`, the one home
of every metric and split; every name this module had is still importable from here."""

from __future__ import annotations

from workbench.evaluate.splits import (  # noqa: F401  (re-exported)
    LeakageError,
    assert_no_leakage,
    grouped_kfold,
    grouped_split,
    per_class_split,
    split_groups,
)
