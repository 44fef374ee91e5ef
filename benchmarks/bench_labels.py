"""Label edit round trips on a track that already has 50 labels (the labeling widget's data side).

Run: ``.venv/bin/python benchmarks/bench_labels.py [--repeats 200] [--labels 50]``

Each round trip is what one click in the labeler costs below the widget: validate, write in a
``BEGIN IMMEDIATE`` transaction with the overlap check inside it, and read the track's labels
back. Target: 100 ms per edit including the widget redraw (measured by the widget's own
benchmark); this part should be a small fraction of it. The grid comes from a stored analysis
(a 120 BPM grid with room for every label), so no audio analysis is timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from workbench.analysis import Analysis
from workbench.analysis.batch import KIND, _settings_hash
from workbench.analysis.core import settings_key
from workbench.analysis.energy import DEFAULT_HOP_S
from workbench.analysis.key import DEFAULT_PROFILE
from workbench.labels import LABELS, Labels, LabelWarning
from workbench.library import Library
from workbench.store import utc_now

TARGET_MS = 100.0


def make_library(folder: Path, n_beats: int) -> tuple[Library, int]:
    """A one-track library with a stored 120 BPM analysis of ``n_beats`` beats."""
    audio = folder / "audio"
    audio.mkdir()
    duration_s = n_beats * 0.5 + 1.0
    sr = 4000
    sf.write(audio / "t.wav", (0.1 * np.random.default_rng(0).standard_normal(int(duration_s * sr))), sr)
    lib = Library(folder / "w.db")
    lib.scan(audio, progress=False)
    t = lib.tracks()[0]
    beats = tuple(round(0.25 + 0.5 * i, 4) for i in range(n_beats))
    a = Analysis(duration_s=t.duration_s, bpm=120.0, beats=beats, downbeats=beats[::4], tempo_stability=1.0,
                 key="A minor", camelot="8A", key_confidence=0.5, energy=5, energy_curve=(0.5,),
                 energy_hop_s=DEFAULT_HOP_S, loudness_lufs=-12.0)
    h = _settings_hash(settings_key(bpm_prior=None, key_profile=DEFAULT_PROFILE, energy_hop_s=DEFAULT_HOP_S))
    with lib.store.transaction() as conn:
        conn.execute("INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, created_at) "
                     "VALUES (?,?,?,?,?,?)", (t.id, KIND, h, t.content_hash, a.to_json(), utc_now()))
    return lib, t.id


def ms(samples: list[float]) -> tuple[float, float, float]:
    a = np.asarray(samples) * 1000
    return float(np.median(a)), float(np.percentile(a, 95)), float(a.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--labels", type=int, default=50, help="labels already on the track")
    args = parser.parse_args()
    warnings.simplefilter("ignore", LabelWarning)
    with tempfile.TemporaryDirectory() as tmp:
        lib, tid = make_library(Path(tmp), 24 * args.labels + 32)
        labels = Labels(lib)
        labels.grid(tid)  # cached per instance, as in the widget
        for i in range(args.labels):  # 16-beat labels with 8-beat gaps
            labels.add(tid, LABELS[i % 7], start_beat=24 * i, end_beat=24 * i + 16)
        free = 24 * args.labels
        t_add, t_update, t_split, t_undo, t_delete = [], [], [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            new = labels.add(tid, "drop", start_beat=free, end_beat=free + 16)
            rows = labels.for_track(tid)
            t_add.append(time.perf_counter() - t0)
            assert len(rows) == args.labels + 1

            t0 = time.perf_counter()
            labels.update(new.id, label="build")
            labels.for_track(tid)
            t_update.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            labels.add(tid, "break", start_beat=4, end_beat=12, overlap="split")
            labels.for_track(tid)
            t_split.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            labels.undo()
            labels.for_track(tid)
            t_undo.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            labels.delete(new.id)
            labels.for_track(tid)
            t_delete.append(time.perf_counter() - t0)
        assert len(labels.for_track(tid)) == args.labels
        t0 = time.perf_counter()
        stats = labels.stats()
        t_stats = time.perf_counter() - t0
    rows = [("add + read back", t_add), ("update label + read back", t_update),
            ("add with split + read back", t_split), ("undo (split) + read back", t_undo),
            ("delete + read back", t_delete), ("stats()", [t_stats])]
    print(f"label edits on a track with {args.labels} labels ({args.repeats} repeats; {stats.total} labels at the end)")
    print(f"{'operation':<28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'target ms':>10}  ok")
    for name, samples in rows:
        med, p95, mx = ms(samples)
        print(f"{name:<28} {med:>10.2f} {p95:>8.2f} {mx:>8.2f} {TARGET_MS:>10.0f}  {'yes' if p95 < TARGET_MS else 'NO'}")


if __name__ == "__main__":
    main()
