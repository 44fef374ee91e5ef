"""Session 16's review of h16/blend and h16/user: one test per defect, each failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import three_folder_music

from workbench.similarity.blend import Blend


def test_a_default_blend_writes_model_pt_as_before_the_setting():
    """``Blend.to_checkpoint`` wrote ``"backbone": "training"`` into every run's ``model.pt``: a default run's file
    (and so its sha256, its search tag and index folder) was no longer the one the same run wrote before."""
    mean, std = np.arange(3, dtype=np.float32), np.full(3, 2.0, dtype=np.float32)
    assert set(Blend(0.25, mean, std).to_checkpoint()) == {"weight", "mean", "std"}
    searched = Blend(0.25, mean, std, backbone="search").to_checkpoint()
    assert searched["backbone"] == "search"
    assert Blend.from_checkpoint({"blend": searched}).backbone == "search"
    assert Blend.from_checkpoint({"blend": Blend(0.25, mean, std).to_checkpoint()}).backbone == "training"
