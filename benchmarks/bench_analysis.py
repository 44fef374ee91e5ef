"""Analysis accuracy on the synthesized demo library, scored with mir_eval.

Run: ``.venv/bin/python benchmarks/bench_analysis.py [--tracks 24] [--seed 0] [--prior trance]``

Targets (issue 3): BPM within 2 % (no octave errors) on >= 95 % of tracks; key exactly right
on >= 85 % and right-or-relative/fifth on >= 95 %; mean beat F-measure >= 0.9. Baseline in
the same run: librosa's stock ``beat_track`` tempo with its default settings.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench import audio
from workbench.analysis import analyze, parse_prior
from workbench.camelot import from_camelot
from workbench.demo import synthesize_library


def key_relation(truth: str, est: str) -> str:
    """mir_eval's key categories, by Camelot: same, relative, fifth, or other."""
    if truth == est:
        return "correct"
    if truth[:-1] == est[:-1]:
        return "relative"
    tp, tm = from_camelot(truth)
    ep, em = from_camelot(est)
    if tm == em and (ep - tp) % 12 in (5, 7):
        return "fifth"
    if tm != em and tp == ep:
        return "parallel"
    return "other"


def main() -> None:
    import librosa
    from scipy.stats import spearmanr

    from workbench.evaluate.analysis import beat_f

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prior", default=None)
    parser.add_argument("--folder", default=None, help="an existing demo library (default: synthesize to a temp dir)")
    args = parser.parse_args()
    prior = parse_prior(args.prior)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp)
        if not args.folder:
            synthesize_library(folder, n_tracks=args.tracks, seed=args.seed, progress=False)
        rows = []
        for truth_path in sorted(folder.glob("*.json"))[: args.tracks]:
            if truth_path.name == "MANIFEST.json":
                continue
            truth = json.loads(truth_path.read_text())
            y, sr = audio.load(truth_path.with_suffix(".flac"), mono=False)
            t0 = time.perf_counter()
            a = analyze(y, sr=sr, bpm_prior=prior)
            seconds = time.perf_counter() - t0
            ref_beats = np.asarray(truth["beats"])
            est_beats = np.asarray(a.beats)
            f = beat_f(ref_beats, est_beats)
            f_down = beat_f(truth["downbeats"], a.downbeats)
            est_sec = [a.section_energy(x["start_s"], x["end_s"]) for x in truth["sections"]]
            rho = spearmanr(est_sec, truth["section_energy"]).statistic if len(set(est_sec)) > 1 else 0.0
            y_mono = audio.resample(audio.to_mono(y), orig_sr=sr, target_sr=22050)
            base_bpm = float(np.atleast_1d(librosa.beat.beat_track(y=y_mono, sr=22050)[0])[0])
            rows.append({
                "name": truth_path.stem, "style": truth["style"], "bpm_true": truth["bpm"], "bpm": a.bpm or 0.0,
                "bpm_ok": a.bpm is not None and abs(a.bpm - truth["bpm"]) <= 0.02 * truth["bpm"],
                "base_ok": abs(base_bpm - truth["bpm"]) <= 0.02 * truth["bpm"], "base_bpm": base_bpm,
                "key_true": truth["camelot"], "key": a.camelot, "key_rel": key_relation(truth["camelot"], a.camelot),
                "beat_f": f, "down_f": f_down, "seconds": seconds, "energy_rho": float(rho), "energy": a.energy,
            })
    print(f"{'track':22} {'style':11} {'bpm true':>8} {'bpm':>7} {'base':>7} {'key true':>8} {'key':>4} "
          f"{'relation':>9} {'beat F':>6} {'down F':>6} {'nrg':>3} {'sec rho':>7} {'s':>5}")
    for r in rows:
        print(f"{r['name']:22} {r['style']:11} {r['bpm_true']:8.1f} {r['bpm']:7.1f} {r['base_bpm']:7.1f} "
              f"{r['key_true']:>8} {r['key']:>4} {r['key_rel']:>9} {r['beat_f']:6.3f} {r['down_f']:6.3f} "
              f"{r['energy']:>3} {r['energy_rho']:7.2f} {r['seconds']:5.2f}")
    n = len(rows)
    bpm_acc = sum(r["bpm_ok"] for r in rows) / n
    base_acc = sum(r["base_ok"] for r in rows) / n
    key_exact = sum(r["key_rel"] == "correct" for r in rows) / n
    key_close = sum(r["key_rel"] in ("correct", "relative", "fifth") for r in rows) / n
    mean_beat_f = float(np.mean([r["beat_f"] for r in rows]))
    down_f = float(np.mean([r["down_f"] for r in rows]))
    print()
    print(f"{'metric':34} {'measured':>9} {'target':>8} {'baseline':>9}")
    print(f"{'BPM within 2 %':34} {bpm_acc:9.1%} {'>= 95%':>8} {base_acc:9.1%}  (librosa beat_track defaults)")
    print(f"{'key exact':34} {key_exact:9.1%} {'>= 85%':>8}")
    print(f"{'key exact, relative or fifth':34} {key_close:9.1%} {'>= 95%':>8}")
    print(f"{'beat F-measure (mir_eval, mean)':34} {mean_beat_f:9.3f} {'>= 0.9':>8}")
    print(f"{'downbeat F-measure (mean)':34} {down_f:9.3f} {'-':>8}")
    print(f"{'section energy Spearman vs truth':34} {np.mean([r['energy_rho'] for r in rows]):9.2f} {'-':>8}")
    print(f"{'seconds per track (mean)':34} {np.mean([r['seconds'] for r in rows]):9.2f}")
    print(f"{n} tracks, seed {args.seed}, prior {args.prior or 'default 70-185'}")


if __name__ == "__main__":
    main()
