"""Responsiveness of the labeling widget on a 6-minute demo track.

Run: ``NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_labeler.py [--repeats 20] [--db PATH]``

Measured in-process (no browser, no kernel):

- add round trip with 50 labels on the track: ``Labeler.add()`` = validate, write (one SQLite
  transaction), re-read the track's labels, rebuild the table, redraw the overlay and encode the
  PNG. Target: under 100 ms (median).
- delete and undo round trips, same measure.
- track view of a 6-minute track: decode at 22.05 kHz + waveform + mel spectrogram + beat grid
  + bar numbers + overlay, PNG. Target: under 1 s. Shown with and without the decode, and the
  whole ``Labeler.show_track`` (what moving to a new track costs).

Baseline, in the same run: the 50-label redraw drawn from scratch (no cached background), which
is what the overlay cache saves on every add.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_CPU_NAME", "generic")

ADD_TARGET_S = 0.100
VIEW_TARGET_S = 1.0


def build(folder: Path) -> Path:
    from workbench.analysis import analyze_library
    from workbench.demo import synthesize_library
    from workbench.library import Library

    synthesize_library(folder / "audio", n_tracks=1, duration_s=360.0, styles=["trance"], progress=False)
    lib = Library(folder / "workbench.db")
    lib.scan(folder / "audio", progress=False)
    analyze_library(lib, progress=False)
    lib.store.close()
    return folder / "workbench.db"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--db", type=Path, default=None, help="an analysed library whose first track is used")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or build(Path(tmp))
        run(db, args.repeats)


def run(db: Path, repeats: int) -> None:
    from workbench.labels import Labels
    from workbench.library import Library
    from workbench.widgets import Labeler, TrackView
    from workbench.widgets.trackaudio import load_display_audio

    lib = Library(db)
    track = lib.tracks()[0]
    labels = Labels(lib)
    grid = labels.grid(track)
    n = grid.n_beats
    # 50 labels of 8 beats, leaving beats at the end for the one that is added and removed
    span = 8
    if n < 51 * span + 16:
        raise SystemExit(f"the track has only {n} beats; need {51 * span + 16}")
    for existing in labels.for_track(track):
        labels.delete(existing.id)
    for i in range(50):
        labels.add(track, ("intro", "build", "drop", "break", "outro")[i % 5], start_beat=i * span,
                   end_beat=(i + 1) * span)

    # -- track view (cold: a new TrackView each time) -----------------------------------
    view_total, view_render, decode = [], [], []
    for _ in range(max(3, repeats // 4)):
        t_load, (y, sr) = timed(lambda: load_display_audio(track.path))
        view = TrackView(y, sr=sr, beats_s=grid.beats_s, downbeats_s=grid.downbeats_s, duration_s=grid.duration_s)
        rows = labels.for_track(track)
        t_render, _ = timed(lambda view=view, rows=rows: view.render(sections=rows))
        view_total.append(t_load + t_render)
        decode.append(t_load)
        view_render.append(t_render)
    lab = Labeler(lib, labels=labels, autoplay=False)
    show = []
    for _ in range(max(3, repeats // 4)):
        lab._views.clear()
        t, _ = timed(lambda: lab.show_track(track))
        show.append(t)

    # -- add / delete / undo round trips with 50 labels ----------------------------------
    add, delete, undo, redraw_full = [], [], [], []
    for _ in range(repeats):
        lab.choose("chorus")
        lab.set_range(51 * span, 51 * span + 16)
        t, made = timed(lab.add)
        assert made is not None, lab.error
        add.append(t)
        t, _ = timed(lambda made=made: lab.delete(made.id))
        delete.append(t)
        t, _ = timed(lab.undo)  # brings it back
        undo.append(t)
        labels.delete(made.id)  # clean up outside the widget (not timed)
        lab.refresh()
    for _ in range(max(3, repeats // 4)):
        y, sr = lab._views[track.id][1], lab._views[track.id][2]
        fresh = TrackView(y, sr=sr, beats_s=grid.beats_s, downbeats_s=grid.downbeats_s, duration_s=grid.duration_s)
        t, _ = timed(lambda fresh=fresh: fresh.render(sections=labels.for_track(track)))
        redraw_full.append(t)
    n_labels = len(labels.for_track(track))

    def ms(xs):
        return f"{1000 * statistics.median(xs):8.1f}", f"{1000 * max(xs):8.1f}"

    print(f"track: {track.name}, {grid.duration_s:.0f} s, {n} beats, {n_labels} labels; repeats {repeats}")
    print(f"{'measure':58s} {'median ms':>9s} {'max ms':>8s}  target")
    table = [
        ("add round trip (validate, write, redraw), 50 labels", add, ADD_TARGET_S),
        ("delete round trip, 51 labels", delete, ADD_TARGET_S),
        ("undo round trip, 50 labels", undo, ADD_TARGET_S),
        ("baseline: same redraw with no cached background", redraw_full, None),
        ("track view, 6 min: decode + render", view_total, VIEW_TARGET_S),
        ("track view, 6 min: render only (decoded audio)", view_render, VIEW_TARGET_S),
        ("  of which decode (FLAC 44.1 kHz stereo -> 22.05 kHz mono)", decode, None),
        ("Labeler.show_track, 6 min (grid, decode, render, table)", show, VIEW_TARGET_S),
    ]
    for name, xs, target in table:
        med, mx = ms(xs)
        verdict = "-" if target is None else (
            f"< {1000 * target:.0f} ms {'OK' if statistics.median(xs) < target else 'MISSED'}")
        print(f"{name:58s} {med:>9s} {mx:>8s}  {verdict}")
    lib.store.close()


if __name__ == "__main__":
    main()
