"""Scan and rescan speed of the track library on a folder of 1,000 small files.

Run: ``.venv/bin/python benchmarks/bench_scan.py [--files 1000]``

Baseline, in the same run: decoding every file once (what a rescan must not do).
Target: a rescan of an unchanged folder costs a small fraction of that (it reads only sizes
and modification times).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from workbench import audio
from workbench.library import Library


def make_folder(folder: Path, n_files: int, *, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n_files):
        sub = folder / f"artist{i % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"track{i:04d}.flac"
        sf.write(path, (0.1 * rng.standard_normal(22050 * 2)).astype(np.float32), 22050)  # 2 s each
        paths.append(path)
    return paths


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "music"
        paths = make_folder(folder, args.files)
        t_decode, _ = timed(lambda: [audio.load(p) for p in paths])
        with Library(Path(tmp) / "w.db") as lib:
            t_first, s1 = timed(lambda: lib.scan(folder, progress=False))
            t_rescan, s2 = timed(lambda: lib.scan(folder, progress=False))
            for p in paths[:10]:
                st = p.stat()
                os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            t_touched, s3 = timed(lambda: lib.scan(folder, progress=False))
    rows = [
        ("baseline: decode every file", t_decode, "-"),
        ("first scan (hash + header)", t_first, f"{s1.counts()['added']} added"),
        ("rescan, unchanged", t_rescan, f"{s2.counts()['unchanged']} unchanged"),
        ("rescan, 10 touched", t_touched, f"{s3.counts()['unchanged']} unchanged"),
    ]
    print(f"library scan, {args.files} FLAC files of 2 s")
    print(f"{'what':32} {'seconds':>8} {'vs decode':>10}  outcome")
    for name, t, outcome in rows:
        print(f"{name:32} {t:8.3f} {t / t_decode:10.3f}  {outcome}")
    print("target: rescan of an unchanged folder < 0.1 x decoding every file")


if __name__ == "__main__":
    main()
