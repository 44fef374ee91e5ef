"""The ``"repeat"`` window feature group: bar-synchronous self-similarity on a track with a known repeat."""

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.train.sections.dj_features import EXTRA_GROUPS, FEATURES_V1_DIM
from workbench.train.sections.features import WindowFeatures
from workbench.train.sections.repetition import REPEAT_COLUMNS, bar_repetition, repeat_block

BAR_S = 2.0
N_BARS = 64


def _track_with_a_repeat(seed: int = 0):
    """64 bars: A (0-15) and C (32-47) new material every bar, B (16-31) repeated as bars 48-63."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.25, N_BARS * BAR_S, 0.5)
    downbeats = np.arange(0.0, N_BARS * BAR_S, BAR_S)
    bar = (times // BAR_S).astype(int)
    chorus = rng.normal(size=(16, FEATURES_V1_DIM))
    fresh = rng.normal(size=(N_BARS, FEATURES_V1_DIM))
    frames = np.where(((bar >= 16) & (bar < 32))[:, None], chorus[np.clip(bar - 16, 0, 15)],
                      np.where((bar >= 48)[:, None], chorus[np.clip(bar - 48, 0, 15)], fresh[bar]))
    frames = frames + rng.normal(scale=0.1, size=frames.shape)
    return frames, times, downbeats, bar


def test_repeat_block_finds_the_repeated_section_and_its_first_occurrence():
    frames, times, downbeats, bar = _track_with_a_repeat()
    out = repeat_block(frames, times, downbeats, duration_s=N_BARS * BAR_S)
    assert out.shape == (times.size, EXTRA_GROUPS["repeat"]) == (times.size, len(REPEAT_COLUMNS))
    col = {name: out[:, i] for i, name in enumerate(REPEAT_COLUMNS)}
    first, second = (bar >= 16) & (bar < 32), bar >= 48
    once = ~(first | second)
    # every bar of B repeats exactly once (1 of 64 bars), 32 bars away, in a 16-bar run; A and C bars never
    assert np.allclose(col["share"][first | second], 1 / N_BARS) and np.all(col["share"][once] == 0)
    assert np.allclose(col["distance"][first | second], 32 / N_BARS) and np.all(col["distance"][once] == 0)
    assert np.allclose(col["run"][first | second], 16 / 16) and np.all(col["run"][once] == 0)
    inner = (first | second) & ~np.isin(bar, (16, 48))  # a repeat's first bar shares its shingle with a fresh bar
    assert col["strength"][inner].min() > 0.9 and col["strength"][first | second].min() > 0.5
    assert col["strength"][once].max() < 0.5
    assert np.all(col["first"][first] == 1.0) and np.all(col["first"][second] == 0.0)
    assert np.all(col["first"][once] == 0.5)


def test_repeat_block_without_a_grid_and_on_a_short_track():
    frames, times, _, bar = _track_with_a_repeat()
    pseudo = repeat_block(frames, times, None, duration_s=N_BARS * BAR_S)  # 2-s pseudo-bars: the same bars here
    assert np.allclose(pseudo, repeat_block(frames, times, np.arange(0.0, 128.0, 2.0), duration_s=128.0))
    short = bar < 12  # 12 bars cannot hold a repeat 8 bars away in 2-bar shingles
    out = repeat_block(frames[short], times[short], None, duration_s=24.0)
    assert np.all(out[:, [0, 1, 2, 4]] == 0) and np.all(out[:, 3] == 0.5)


def test_bar_repetition_and_repeat_block_refuse_bad_input():
    with pytest.raises(ParameterError, match="per_bar"):
        bar_repetition(np.zeros(5))
    with pytest.raises(ParameterError, match="min_lag_bars"):
        bar_repetition(np.zeros((40, 3)), min_lag_bars=0)
    with pytest.raises(ParameterError, match="frames_v1"):
        repeat_block(np.zeros((10, 12)), np.arange(10.0), None, duration_s=10.0)


def test_window_features_with_the_repeat_group():
    frames, times, downbeats, bar = _track_with_a_repeat()
    spec = WindowFeatures(extra=("dj", "novelty", "ends", "repeat"), track_relative=False, track_norm=True)
    assert spec.group_names()[-1] == "repeat" and WindowFeatures.from_dict(spec.to_dict()) == spec
    out = spec.transform(frames, times, duration_s=N_BARS * BAR_S, downbeats_s=downbeats)
    assert out.shape == (times.size, spec.dim(FEATURES_V1_DIM))
    # the group's columns come last and are kept as they are under the track norm
    expected = repeat_block(frames, times, downbeats, duration_s=N_BARS * BAR_S)
    assert np.allclose(out[:, -EXTRA_GROUPS["repeat"]:], expected, atol=1e-6)
    with pytest.raises(ParameterError, match="'repeat' feature group needs features-v1"):
        WindowFeatures(extra=("repeat",)).transform(frames[:, :16], times, duration_s=128.0, downbeats_s=downbeats)


def test_the_audio_in_model_refuses_the_repeat_group():
    from workbench.train.sections.features_torch import TorchWindowFeatures

    with pytest.raises(ParameterError, match="'repeat' feature group needs the track's downbeats"):
        TorchWindowFeatures(WindowFeatures(extra=("repeat",)), hop_s=0.5, offset_s=0.5, frame_dim=FEATURES_V1_DIM)
