"""Key estimation alone on the development set: every profile, the previous method, CPU time.

Run: ``NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_key.py --devset data/devset
[--split dev] [--profiles shaath,edma]``

Per profile and split: MIREX weighted key score (``mir_eval.key.weighted_score``) by style and
overall, drum-only tracks read as ``has_key=False``, the tuning error on detuned tracks (cents),
and CPU seconds of :func:`~workbench.analysis.key.estimate_key` per minute of audio. Baseline in
the same run: the previous method (loudness-weighted ``chroma_cqt`` at 36 bins per octave with
librosa's own tuning estimate, Krumhansl profile). Pick profiles on ``dev``; ``held_out`` is
for reporting only.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np


def previous_method(y: np.ndarray, sr: int) -> str:
    """The key as the workbench read it before issue 16 (for the baseline row)."""
    import librosa

    from workbench.analysis.key import key_from_scores, key_scores

    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=4096, n_chroma=12, bins_per_octave=36)
    energy = chroma.sum(axis=0)
    mean = (chroma * energy).sum(axis=1) / max(float(energy.sum()), 1e-12)
    return key_from_scores(key_scores(mean, profile="krumhansl")).name


def main() -> None:
    from workbench import audio
    from workbench.analysis.core import ANALYSIS_SR
    from workbench.analysis.key import PROFILES, estimate_key
    from workbench.devset import load_devset
    from workbench.evaluate.analysis import key_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", required=True, help="a development set (python -m workbench.devset)")
    parser.add_argument("--split", default=None, choices=("dev", "held_out"), help="default: both")
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--out", default=None, help="write the summary as JSON here")
    args = parser.parse_args()
    systems = [p for p in args.profiles.split(",") if p] + ["previous"]

    rows: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for t in load_devset(args.devset):
        if args.split and t["split"] != args.split:
            continue
        y, sr = audio.load(t["audio_path"])
        y = audio.resample(y, orig_sr=sr, target_sr=ANALYSIS_SR)
        minutes = len(y) / ANALYSIS_SR / 60.0
        cell = rows[t["split"]]
        for system in systems:
            t0 = time.process_time()
            if system == "previous":
                name, has_key, cents = previous_method(y, ANALYSIS_SR), True, None
            else:
                k = estimate_key(y, sr=ANALYSIS_SR, profile=system)
                name, has_key, cents = k.name, k.has_key, k.tuning_cents
            cell[system]["cpu_s_per_min"].append((time.process_time() - t0) / minutes)
            if t["key"] is None:
                cell[system]["drums_no_key"].append(float(not has_key))
                continue
            score = key_score(t["key"], name)
            cell[system]["all"].append(score)
            cell[system][t["style"]].append(score)
            if t["condition"] == "detuned" and cents is not None:
                cell[system]["tuning_err_cents"].append(abs(cents - 1200 * np.log2(t["tuning_hz"] / 440.0)))

    summary = {split: {s: {g: float(np.mean(v)) for g, v in groups.items()} for s, groups in per.items()}
               for split, per in rows.items()}
    for split, per in summary.items():
        groups = sorted({g for s in per.values() for g in s} - {"all", "drums_no_key", "tuning_err_cents",
                                                                  "cpu_s_per_min"})
        cols = [*groups, "all", "drums_no_key", "tuning_err_cents", "cpu_s_per_min"]
        print(f"\n## split {split}: key MIREX by style; drum-only tracks without a key; "
              "|tuning error| on detuned tracks (cents); CPU s per minute\n")
        print("| system | " + " | ".join(cols) + " |")
        print("|---" * (len(cols) + 1) + "|")
        for s in systems:
            print(f"| {s} | " + " | ".join(f"{per[s][c]:.2f}" if c in per[s] else "-" for c in cols) + " |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(summary, fh, indent=1)


if __name__ == "__main__":
    main()
