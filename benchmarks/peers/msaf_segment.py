"""MSAF's section boundaries for audio files: runs INSIDE its own venv, never the project's.

MSAF (Nieto & Bello 2016, https://github.com/urinieto/msaf, MIT) is a benchmark peer only, never a
dependency of the workbench: its last PyPI release (0.1.80) needs the numpy/scipy/librosa of 2019
(``benchmarks/peers/msaf_requirements.txt``, Python 3.8). This script imports only MSAF, numpy
and the standard library, and prints one JSON object per file (one a line)::

    {"path", "duration_s", "feature", "beats", "decode_seconds", "feature_seconds",
     "boundaries": {algorithm: [seconds, ...]}, "seconds": {algorithm: s}, "errors": {algorithm: message}}

or ``{"path", "error"}``. Features are MSAF's own (``--feature``, default ``pcp``), synchronised to
MSAF's own beat tracker (librosa's, ``annot_beats=False, framesync=False``), computed once per
file and shared by the algorithms; every algorithm runs with its MSAF defaults (flat, no labels
algorithm). ``boundaries`` include 0 and the end as MSAF returns them.

MSAF writes its features and estimations next to the audio's folder (``../features``,
``../estimations``); here each file is first decoded to a mono WAV at MSAF's rate (22,050 Hz) in
``--work`` (what MSAF's ``librosa.load`` would read, resampled once with scipy's polyphase filter
instead of twice with resampy's slowest), so nothing is written anywhere else (the real music
stays read-only) and the estimations are never saved.

Run: ``/work/venvs/msaf/bin/python benchmarks/peers/msaf_segment.py --work DIR [--algorithms foote,sf] FILE...``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

ALGORITHMS = ("foote", "sf", "scluster", "olda", "cnmf")


def mono_at_msaf_rate(path: str, wav: str, *, sr: int) -> None:
    """The file as MSAF's ``librosa.load(path, sr=sr)`` reads it (mono mix at ``sr`` Hz), written to ``wav``.

    MSAF loads each file twice (``scluster`` also reads MFCCs, recomputed from the audio), each time
    through resampy's slowest filter; a polyphase resampler once beforehand gives it the same
    signal at its own rate.
    """
    from math import gcd

    import numpy as np
    import soundfile as sf
    from scipy.signal import resample_poly

    y, sr_in = sf.read(path, dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if sr_in != sr:
        g = gcd(int(sr), int(sr_in))
        y = resample_poly(y, sr // g, sr_in // g).astype(np.float32)
    sf.write(wav, y, sr, subtype="FLOAT")


def segment(path: str, *, work: str, feature: str, algorithms: list[str]) -> dict:
    """MSAF's boundaries of one file with each algorithm (seconds, 0 and the end included)."""
    import random

    import msaf
    import numpy as np
    from msaf import io
    from msaf.base import Features
    from msaf.run import run_algorithms

    audio_dir = os.path.join(work, "audio")
    os.makedirs(audio_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    # MSAF derives ../features/NAME.json from the file and reuses it when NAME matches: one name per path
    wav = os.path.join(audio_dir, f"{hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]}_{stem}.wav")
    t0 = time.perf_counter()
    mono_at_msaf_rate(path, wav, sr=msaf.config.sample_rate)
    decode_seconds = time.perf_counter() - t0
    file_struct = msaf.io.FileStruct(wav)
    os.makedirs(os.path.dirname(file_struct.features_file), exist_ok=True)
    t0 = time.perf_counter()
    features = Features.select_features(feature, file_struct, False, False)
    n_beats = features.features.shape[0]  # computes (and caches in WORK/features) MSAF's beat-synchronous features
    out = {"path": path, "duration_s": float(features.dur), "feature": feature, "beats": n_beats,
           "decode_seconds": decode_seconds, "feature_seconds": time.perf_counter() - t0, "boundaries": {}, "seconds": {}, "errors": {}}
    for algorithm in algorithms:
        config = io.get_configuration(feature, False, False, algorithm, None)
        config["hier"] = False
        config["features"] = features
        # seeded before EACH algorithm, numpy as msaf.process does and the standard library's random, which MSAF
        # never seeds and cnmf draws from (pymf's Kmeans: random.sample): so each answer is the same every run
        # and does not hang on which algorithms ran before it in this process
        np.random.seed(123)
        random.seed(123)
        t0 = time.perf_counter()
        try:
            times, _ = run_algorithms(file_struct, algorithm, None, config)
            out["boundaries"][algorithm] = [round(float(t), 4) for t in times]
        except Exception as exc:  # one algorithm failing on one file never stops the run
            out["errors"][algorithm] = f"{type(exc).__name__}: {exc}"
        out["seconds"][algorithm] = time.perf_counter() - t0
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--work", required=True, help="scratch folder for MSAF's links, features and caches")
    parser.add_argument("--feature", default="pcp", help="MSAF feature: pcp, mfcc, cqt, tonnetz, tempogram")
    parser.add_argument("--algorithms", default="foote,sf,scluster,olda,cnmf",
                        help=f"comma-separated, of {', '.join(ALGORITHMS)}")
    args = parser.parse_args()
    algorithms = [a for a in args.algorithms.split(",") if a]
    bad = [a for a in algorithms if a not in ALGORITHMS]
    if bad:
        parser.error(f"--algorithms: {bad} not allowed; allowed: {', '.join(ALGORITHMS)}")
    import logging

    import numpy as np

    logging.disable(logging.WARNING)
    np.seterr(all="ignore")
    from json_lines import print_answers  # benchmarks/peers/, beside this script

    def answer(path: str) -> dict:
        return segment(path, work=args.work, feature=args.feature, algorithms=algorithms)

    return print_answers(args.files, answer)


if __name__ == "__main__":
    sys.exit(main())
