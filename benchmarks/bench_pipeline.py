"""Benchmark of the main job (``make demo``): seconds per stage, first run and re-run.

Run from the repository root: ``python benchmarks/bench_pipeline.py [--tracks 30] [--keep DIR]``.
Runs :func:`workbench.pipeline.run_demo` twice in a fresh workbench home (a temporary folder
unless ``--keep``), set-up excluded, and prints one row per stage with both runs' seconds,
the totals against the 10-minute target, and the headline metrics of the first run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_CPU_NAME", "generic")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

TARGET_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=30)
    parser.add_argument("--keep", default=None, help="use (and keep) this folder as the workbench home")
    args = parser.parse_args()
    home = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="wb-bench-demo-"))
    for sub in ("data", "experiments", "models"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    os.environ["WORKBENCH_HOME"] = str(home)
    os.environ.pop("WORKBENCH_DB", None)

    from workbench.pipeline import run_demo

    results, walls = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        results.append(run_demo(n_tracks=args.tracks, progress=False))
        walls.append(time.perf_counter() - t0)
    first, second = results
    print(f"main job on {args.tracks} demo tracks in {home} (load average {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} CPUs)")
    print(f"{'stage':<28}{'first run s':>12}{'re-run s':>10}")
    for stage, seconds in first.stage_seconds.items():
        print(f"{stage:<28}{seconds:>12.1f}{second.stage_seconds.get(stage, float('nan')):>10.1f}")
    print(f"{'total (wall)':<28}{walls[0]:>12.1f}{walls[1]:>10.1f}   target < {TARGET_S:.0f} s: "
          f"{'met' if walls[0] < TARGET_S else 'MISSED'}")
    print("headline metrics (first run):")
    for h in first.headlines:
        print(f"  {h}")


if __name__ == "__main__":
    main()
