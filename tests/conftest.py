"""Shared fixtures: seeded synthetic audio written by the tests, and the real-audio folder."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

# librosa's numba JIT segfaults on this CPU unless it targets a generic one; set before any import.
os.environ.setdefault("NUMBA_CPU_NAME", "generic")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REAL_AUDIO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-audio"


def tone(duration_s: float = 1.0, *, sr: int = 22050, freq_hz: float = 440.0, channels: int = 1,
         amplitude: float = 0.5, seed: int = 0) -> np.ndarray:
    """A sine plus a little seeded noise, shape (n, channels) as soundfile writes it."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * sr))) / sr
    y = amplitude * np.sin(2 * np.pi * freq_hz * t) + 0.01 * rng.standard_normal(t.size)
    return np.repeat(y[:, None], channels, axis=1).astype(np.float32)


def harmonic_clip(path: Path, *, freq_hz: float, seed: int, duration_s: float = 9.0, sr: int = 22050) -> None:
    """Write a seeded three-harmonic tone at ``freq_hz`` with a slow level wobble and a little noise (mono WAV)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sr)) / sr
    y = sum(0.3 / k * np.sin(2 * np.pi * k * freq_hz * t + rng.uniform(0, 6)) for k in (1, 2, 3))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t)) + 0.02 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y.astype(np.float32), sr)


def three_folder_music(root: Path) -> Path:
    """``root/music`` with three folders (low, mid, high) of six 9-s :func:`harmonic_clip` s each; returns it."""
    seed = 0
    for folder, base in (("low", 110.0), ("mid", 440.0), ("high", 1500.0)):
        for i in range(6):
            harmonic_clip(root / "music" / folder / f"t{i}.wav", freq_hz=base * (1 + 0.07 * i), seed=seed)
            seed += 1
    return root / "music"


#: Tone frequencies (Hz) of the two folders of :func:`low_high_library`: classes a model can learn.
LOW_HIGH_FREQS = {"low": [110.0, 120.0, 130.0, 140.0], "high": [1500.0, 1650.0, 1800.0, 1950.0]}


def low_high_library(root: Path, write: Any) -> Any:
    """A scanned library of eight clips in two folders, ``low`` and ``high`` (:data:`LOW_HIGH_FREQS`).

    ``write(path, freq_hz=, seed=)`` writes one clip (each test file has its own signal); seeds
    run 0..7. The caller closes the library.
    """
    from workbench.library import Library

    seed = 0
    for folder, freqs in LOW_HIGH_FREQS.items():
        for i, f in enumerate(freqs):
            write(root / "music" / folder / f"t{i}.wav", freq_hz=f, seed=seed)
            seed += 1
    lib = Library(root / "lib.db")
    lib.scan(root / "music", progress=False)
    return lib


@pytest.fixture
def write_audio(tmp_path):
    """Write seeded audio: ``write_audio("a.wav", duration_s=1.0, seed=3)`` -> the path."""
    import soundfile as sf

    def _write(name: str, *, duration_s: float = 1.0, sr: int = 22050, channels: int = 1,
               seed: int = 0, subtype: str | None = None, freq_hz: float = 440.0,
               folder: Path | None = None) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = {".opus": "OGG", ".mp3": "MP3"}.get(path.suffix.lower())
        sf.write(str(path), tone(duration_s, sr=sr, channels=channels, seed=seed, freq_hz=freq_hz), sr,
                 subtype=subtype, format=fmt)
        return path

    return _write


@pytest.fixture(scope="session")
def real_audio_dir() -> Path:
    if not (REAL_AUDIO / "manifest.csv").is_file():
        pytest.skip(f"real audio not present at {REAL_AUDIO} (shared test data, absent on a user's machine)")
    return REAL_AUDIO


def bench_module(name: str) -> Any:
    """The ``benchmarks/<name>.py`` script imported as a module (its folder on ``sys.path`` for its own imports)."""
    import importlib
    import sys

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(name)


@contextmanager
def workbench_home(home: Path):
    """Point the workbench (and kernels started meanwhile) at ``home``; restore the environment after."""
    old = {k: os.environ.get(k) for k in ("WORKBENCH_HOME", "WORKBENCH_DB")}
    os.environ["WORKBENCH_HOME"] = str(home)
    os.environ.pop("WORKBENCH_DB", None)
    try:
        yield home
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: Small settings for the main job in the tests: 12 one-minute tracks give too few sections for
#: the default readiness rule (10 per class), so it is lowered here; 3 devset tracks make the cross-generator set.
DEMO_SMALL: dict[str, object] = {"n_tracks": 12, "seed": 5, "duration_s": 60,
                                 "embeddings_config": {"epochs": 8, "n_views": 1},
                                 "sections_config": {"min_per_class": 3, "n_splits": 3},
                                 "cross_generator_tracks": 3}


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """A workbench home where the main job has run on a small demo library: (home, DemoResult)."""
    from workbench.pipeline import run_demo

    home = tmp_path_factory.mktemp("demohome")
    for sub in ("data", "experiments", "models"):
        (home / sub).mkdir()
    with workbench_home(home):
        result = run_demo(progress=False, **DEMO_SMALL)
    return home, result
