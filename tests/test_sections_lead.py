"""The ``"lead"`` window feature group (issue 18): how far a window's 1-3 kHz sits below its track's fullest."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.train.sections import WindowFeatures
from workbench.train.sections.dj_features import EXTRA_GROUPS, FEATURES_V1_DIM, LEAD_BANDS, lead_block


def _frames(n_full: int = 60, n_verse: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """features-v1-shaped frames 1 s apart: a "chorus" with every band, then a "verse" without the lead (1-3 kHz)."""
    rng = np.random.default_rng(0)
    f = rng.normal(0.0, 0.01, (n_full + n_verse, FEATURES_V1_DIM))
    f[:, :64] -= 3.0
    f[n_full:, LEAD_BANDS[0]:LEAD_BANDS[1]] -= 2.0  # 20 dB down (dB / 10)
    f[n_full:, :LEAD_BANDS[0]] += 0.5  # louder below: the shortfall is the lead's alone
    return f, np.arange(n_full + n_verse, dtype=np.float64) + 0.5


def test_lead_shows_the_missing_lead_and_nothing_in_the_full_arrangement() -> None:
    f, t = _frames()
    x = lead_block(f, t)
    assert x.shape == (t.size, EXTRA_GROUPS["lead"]) and x.min() >= 0.0
    assert x[5:55].max() < 0.05  # the chorus lacks nothing (away from the 4-s running mean's edge)
    assert x[65:].min() == pytest.approx(2.0, abs=0.05)  # the verse: the lead's 2 (dB / 10) short
    with pytest.raises(ParameterError, match="features-v1"):
        lead_block(f[:, :64], t)


def test_lead_stays_raw_under_the_track_norm() -> None:
    f, t = _frames()
    spec = WindowFeatures(extra=("dj", "lead"), track_norm=True)
    out = spec.transform(f, t, duration_s=float(t[-1] + 0.5))
    np.testing.assert_allclose(out[:, -1:], lead_block(f, t), atol=1e-5)  # not z-scored: 0 means "all there"
    assert np.abs(out[:, -10:-1].mean(axis=0)).max() < 1e-4  # the dj group beside it is
    assert spec.group_names()[-1] == "lead" and out.shape[1] == spec.dim(FEATURES_V1_DIM)


def test_the_export_metadata_keeps_the_lead_column_raw_and_the_track_model_needs_features_v1() -> None:
    """The vector-in model's metadata marks the lead column raw; the audio-in track model computes it
    (tests/test_track_in.py: parity) from features-v1 frames only."""
    from workbench.export.run_export import track_norm_metadata
    from workbench.train.sections.features_torch import TorchWindowFeatures

    spec = WindowFeatures(extra=("dj", "novelty", "ends", "lead"), track_relative=False, track_norm=True)
    meta = track_norm_metadata(spec, FEATURES_V1_DIM)
    assert meta is not None and spec.dim(FEATURES_V1_DIM) - 1 in meta["raw_columns"]
    assert spec.dim(FEATURES_V1_DIM) - 2 in meta["raw_columns"]  # the ends group's last column
    module = TorchWindowFeatures(spec, hop_s=0.5, offset_s=1.0, frame_dim=FEATURES_V1_DIM)
    assert module.dim == spec.dim(FEATURES_V1_DIM)
    with pytest.raises(ParameterError, match="'lead' feature group needs features-v1 frames"):
        TorchWindowFeatures(WindowFeatures(extra=("lead",)), hop_s=0.5, offset_s=1.0, frame_dim=128)
