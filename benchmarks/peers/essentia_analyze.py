"""Essentia's tempo, beats and key for audio files: runs INSIDE its own venv, never the project's.

essentia is AGPL-3.0: a benchmark peer only, never a dependency of the workbench. This script
imports only essentia, numpy and soundfile, and prints one JSON object per file (one a line):
``{"path", "bpm", "beats", "key", "key_strength", "seconds", "duration_s"}`` or
``{"path", "error"}``. ``seconds`` times the analysis from decoded samples (mono mix, resampling
to 44.1 kHz, RhythmExtractor2013(method="multifeature"), KeyExtractor(profileType="edma")).

Run: ``/work/venvs/essentia/bin/python benchmarks/peers/essentia_analyze.py [--max-s 60] FILE...``
"""

from __future__ import annotations

import argparse
import sys
import time


def analyze(path: str, max_s: float | None) -> dict:
    import essentia.standard as es
    import numpy as np
    import soundfile as sf

    y, sr = sf.read(path, dtype="float32", always_2d=True)
    if max_s:
        y = y[: int(max_s * sr)]
    duration_s = y.shape[0] / sr
    t0 = time.perf_counter()
    mono = y.mean(axis=1).astype(np.float32)
    if sr != 44100:
        mono = es.Resample(inputSampleRate=float(sr), outputSampleRate=44100.0, quality=1)(mono)
    bpm, ticks, confidence, _, _ = es.RhythmExtractor2013(method="multifeature")(mono)
    key, scale, strength = es.KeyExtractor(profileType="edma")(mono)
    seconds = time.perf_counter() - t0
    return {"path": path, "bpm": float(bpm) if bpm > 0 else None, "beats": [round(float(t), 4) for t in ticks],
            "beat_confidence": float(confidence), "key": f"{key} {scale}", "key_strength": float(strength),
            "seconds": seconds, "duration_s": duration_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--max-s", type=float, default=None, help="analyse only the first seconds of each file")
    args = parser.parse_args()
    import essentia

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es
    import numpy as np

    warm = np.random.default_rng(0).normal(0, 0.1, 10 * 44100).astype(np.float32)
    es.RhythmExtractor2013(method="multifeature")(warm), es.KeyExtractor(profileType="edma")(warm)  # not timed
    from json_lines import print_answers  # benchmarks/peers/, beside this script

    return print_answers(args.files, lambda path: analyze(path, args.max_s))


if __name__ == "__main__":
    sys.exit(main())
