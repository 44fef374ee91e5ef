"""Where a workspace's section suggestions fall on the beat grid (issue 18: sections on bar lines).

For every track with a beat grid, the suggestions ``workbench suggest`` serves (the same run:
the active ``dj_section`` model's, else the newest ``sections`` run, or ``--run``): how many of
the boundaries between suggestions fall on one of the grid's downbeats, how many sections last
whole bars and whole 4-bar phrases counted from the first downbeat (a pickup before it and the
track's end excepted), and the intro of each track whose grid has a pickup. Tracks without a beat grid get no suggestion
(the suggester says so) and are counted apart. No truth is needed: it runs on real music.

    cd WORKSPACE && NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_sections_bars.py [--json OUT]

Session 12 (2026-12-06, load 4-7), a copy of the QA workspace of the 19 files of
``/work/shared/data/real-audio`` (run ``20261206-161105-sections-434a15``, no truth): boundaries on a downbeat
51 / 51 (49 / 49 before the pickup fix: the decoder works on bars, boundaries were on bar lines
already); sections of whole bars 51 / 51 (49 / 49); of whole 4-bar phrases 31 / 51 (28 / 49: the
phrase prior is soft). The two tracks whose pickup's bar would start before 0 s: intro 14 -> 18
beats (Let's Go Fishin', 2-beat pickup + 4 bars), 15 -> 19 beats (Hungarian Dance No. 5, 3 + 16).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def grid_report(library, suggest) -> dict:
    """Per track: boundaries on downbeats, whole-bar sections, pickup and intro length in beats."""
    from workbench.analysis import track_analysis
    from workbench.train.smoothing import bar_starts

    rows, no_grid = [], []
    for t in library.tracks():
        a = track_analysis(library, t)
        beats, downbeats = np.asarray(a.beats, dtype=float), np.asarray(a.downbeats, dtype=float)
        if beats.size == 0 or downbeats.size == 0:
            no_grid.append(t.name)
            continue
        on_downbeat = {int(np.argmin(np.abs(beats - d))) for d in downbeats}
        pickup = min(on_downbeat)
        segs = suggest(t)
        inner = [s.start_beat for s in segs[1:]]
        beats_in = [s.end_beat - max(s.start_beat, pickup) for s in segs if s.end_beat < len(beats)]
        rows.append({"track": t.name, "pickup_beats": pickup, "pickup_is_bar": bool(pickup in bar_starts(beats, downbeats)),
                     "boundaries": len(inner), "on_downbeat": sum(b in on_downbeat for b in inner),
                     "sections": len(beats_in), "whole_bars": sum(n % 4 == 0 for n in beats_in),
                     "whole_phrases": sum(n % 16 == 0 for n in beats_in),
                     "first_section": segs[0].label if segs else "", "first_beats": segs[0].end_beat if segs else 0})
    return {"tracks": rows, "no_grid": no_grid,
            "boundaries": sum(r["boundaries"] for r in rows), "on_downbeat": sum(r["on_downbeat"] for r in rows),
            "sections": sum(r["sections"] for r in rows), "whole_bars": sum(r["whole_bars"] for r in rows),
            "whole_phrases": sum(r["whole_phrases"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="the workspace (default: found from the current folder)")
    parser.add_argument("--run", default=None, help="a sections run id or folder (default: as `workbench suggest`)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from workbench.commands import open_library
    from workbench.commands.suggest import section_run
    from workbench.train.sections.suggestions import suggester

    ns = argparse.Namespace(home=args.home, db=None, run=args.run)
    with open_library(ns) as library:
        run, why = section_run(ns, library)
        report = {"run": run.run_id, "why": why, **grid_report(library, suggester(library, run))}
    print(f"run {run.run_id} ({why})")
    print(f"{'track':28s} {'pickup':>6s} {'own bar':>7s} {'on downbeat':>11s} {'whole bars':>10s} {'phrases':>9s}  first section")
    for r in report["tracks"]:
        print(f"{r['track'][:28]:28s} {r['pickup_beats']:6d} {str(r['pickup_is_bar']):>7s} "
              f"{r['on_downbeat']:>5d} / {r['boundaries']:<3d} {r['whole_bars']:>4d} / {r['sections']:<3d} {r['whole_phrases']:>3d} / {r['sections']:<3d}  "
              f"{r['first_section']} {r['first_beats']} beats")
    print(f"boundaries on a downbeat {report['on_downbeat']} / {report['boundaries']}; sections of whole bars "
          f"(the last excepted) {report['whole_bars']} / {report['sections']}, of whole 4-bar phrases "
          f"{report['whole_phrases']} / {report['sections']}; no beat grid (no suggestion): "
          f"{len(report['no_grid'])}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    sys.exit(main())
