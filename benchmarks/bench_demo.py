"""Benchmark of the demo synthesizer: seconds of compute per track and the realtime factor.

Run from the repository root: ``python benchmarks/bench_demo.py``. Prints one row per style for
the natural-length track and for a fixed 90 s track (median of ``REPEATS`` runs, after one
warm-up), the time to write each as FLAC, and a baseline: writing the same length of white
noise to FLAC PCM_16 with soundfile.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_CPU_NAME", "generic")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from workbench.demo import STYLES, synthesize_track  # noqa: E402
from workbench.demo.library import write_flac  # noqa: E402

REPEATS = 3
SR = 44100


def _median_time(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    synthesize_track("house", seed=0, duration_s=30)  # warm-up: imports, filter designs
    print(f"{'style':<12} {'length':>8} {'duration_s':>10} {'synth_s':>8} {'x realtime':>10} {'flac_s':>7}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for style in STYLES:
            for label, duration in (("natural", None), ("90 s", 90.0)):
                audio, truth = synthesize_track(style, seed=0, duration_s=duration)
                synth = _median_time(lambda s=style, d=duration: synthesize_track(s, seed=0, duration_s=d))
                path = Path(tmp) / f"{style}.flac"
                flac = _median_time(lambda a=audio, p=path: write_flac(p, a, SR, title="t", artist="a"))
                dur = truth["duration_s"]
                rows.append((dur, synth))
                print(f"{style:<12} {label:>8} {dur:>10.1f} {synth:>8.3f} {dur / synth:>10.0f} {flac:>7.3f}")
        noise = (0.25 * np.random.default_rng(0).standard_normal((int(90 * SR), 2))).astype(np.float32)
        path = Path(tmp) / "noise.flac"
        base = _median_time(lambda: sf.write(str(path), noise, SR, subtype="PCM_16", format="FLAC"))
    print(f"{'baseline':<12} {'noise':>8} {90.0:>10.1f} {'':>8} {'':>10} {base:>7.3f}"
          "   (white noise written to FLAC PCM_16)")
    worst = max(s / d * 90.0 for d, s in rows)
    print(f"worst case: {worst:.3f} s of synthesis per 90 s of audio")


if __name__ == "__main__":
    main()
