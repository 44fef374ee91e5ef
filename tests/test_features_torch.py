"""The feature frontend as a torch module (models/features_torch.py) against the librosa path (embed/features.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.embed.features import FeatureFrontend
from workbench.errors import ParameterError
from workbench.models import features_torch as ft

SR = 22050
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-audio"
#: descriptor blocks of FeatureFrontend, in order
GROUPS = {"log-mel mean": (0, 64), "log-mel std": (64, 128), "mfcc mean": (128, 148), "mfcc std": (148, 168),
          "contrast": (168, 175), "sorted chroma": (175, 187), "onset": (187, 190), "tempo bands": (190, 202)}


def psnr(actual: np.ndarray, ref: np.ndarray) -> float:
    noise = float(np.mean((actual.astype(np.float64) - ref) ** 2))
    return np.inf if noise == 0 else 10 * np.log10(float(np.max(ref.astype(np.float64) ** 2)) / noise)


def synthetic(seconds: float, *, seed: int) -> np.ndarray:
    """A gated tone, a decaying kick every 0.5 s, and noise: every descriptor block moves."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0)
    kick = 0.6 * np.exp(-30 * (t % 0.5)) * np.sin(2 * np.pi * 60 * t)
    return (tone + kick + 0.02 * rng.normal(size=t.size)).astype(np.float32)


def check_parity(y: np.ndarray, *, min_db: float = 60.0) -> dict[str, float]:
    ref, ts = FeatureFrontend().embed(y, sr=SR)
    got, ts2 = ft.features_module().embed(y)
    assert got.shape == ref.shape == (ft.n_windows(y.size), ft.DIM)
    np.testing.assert_allclose(ts2, ts)
    scores = {name: psnr(got[:, a:b], ref[:, a:b]) for name, (a, b) in GROUPS.items()}
    for name, score in scores.items():
        assert score >= min_db, f"{name}: {score:.1f} dB"
    return scores


@pytest.mark.parametrize(("seconds", "seed"), [(12.3, 0), (3.0, 1)])
def test_synthetic_parity_with_librosa(seconds: float, seed: int) -> None:
    check_parity(synthetic(seconds, seed=seed))


def test_quiet_and_silent_tail_parity() -> None:
    y = synthetic(10.0, seed=2) * 1e-3
    y[SR * 6:] = 0.0  # digital silence: log floor, zero chroma, zero onsets, ramped tempogram
    check_parity(y)


def test_real_audio_parity() -> None:
    files = sorted((REAL / "loops").glob("*.flac"))[:2] + sorted((REAL / "librosa_data").glob("*.ogg"))[:1]
    if not files:
        pytest.skip(f"no real audio at {REAL}")
    from workbench.audio import load

    for f in files:
        y, _ = load(f, sr=SR, mono=True)
        check_parity(y[: SR * 30])


def test_window_times_and_counts() -> None:
    assert ft.n_windows(ft.MIN_SAMPLES) == 1
    n = SR * 10
    times = ft.window_times(n)
    assert times.size == ft.n_windows(n) == FeatureFrontend().embed(np.zeros(n, np.float32), sr=SR)[0].shape[0]
    assert times[1] == pytest.approx(22 * 512 / SR)


def test_bad_input() -> None:
    with pytest.raises(ParameterError, match="n_samples must be"):
        ft.n_windows(100)
    with pytest.raises(ParameterError, match=r"y must be mono samples"):
        ft.features_module().embed(np.zeros((2, SR * 2), np.float32))
