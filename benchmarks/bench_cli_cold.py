"""Wall-clock seconds of one CLI call in a fresh process (what a user waits for), this tree against another.

Run: ``NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_cli_cold.py --home WS --base DIR
[--repeats 3] -- profile compare kart 17``

``WS`` is a workspace that already holds what the command needs (a library, an analysis, a
profile); ``DIR`` is another checkout of the project, the baseline, e.g. the commit before a
change: ``git archive 68438d7 | tar -x -C /tmp/base``. Each call runs
``python -m workbench --home WS --quiet COMMAND...`` in a new process, the two trees alternating
so that a change in the machine's load falls on both; the table prints the median and the range
of the wall-clock seconds, and the seconds the command itself reports where it prints ``(N s)``.
No outside peer answers these commands; the peer of a cold start is ``python -c "import
workbench"`` in the same interpreter, printed as the floor no command can go under.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_call(tree: Path, argv: list[str]) -> tuple[float, float | None]:
    """Seconds of one call of ``argv`` from ``tree`` in a new process, and the ``(N s)`` it printed, if any."""
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CPU_NAME": "generic", "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    said = re.search(r"\((\d+(?:\.\d+)?) s\)", proc.stdout)
    return wall, float(said.group(1)) if said else None


def main() -> None:
    """Time the command on both trees and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="the workspace the command runs on")
    ap.add_argument("--base", required=True, help="the baseline checkout (another tree of the project)")
    ap.add_argument("--repeats", type=int, default=3, help="calls per tree (default 3)")
    ap.add_argument("command", nargs="+", help="the workbench command and its arguments (after --)")
    args = ap.parse_args()
    if args.repeats < 1:
        raise SystemExit(f"--repeats must be >= 1; got {args.repeats}")
    cli = ["-m", "workbench", "--home", args.home, "--quiet", *args.command]
    trees = {"base": Path(args.base).resolve(), "this tree": ROOT}
    walls: dict[str, list[float]] = {k: [] for k in [*trees, "import workbench"]}
    said: dict[str, list[float]] = {k: [] for k in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():
            wall, own = one_call(tree, cli)
            walls[name].append(wall)
            if own is not None:
                said[name].append(own)
        walls["import workbench"].append(one_call(ROOT, ["-c", "import workbench"])[0])
    load = os.getloadavg()[0]
    print(f"`workbench {' '.join(args.command)}`, {args.repeats} fresh processes per row, load {load:.1f}")
    print(f"{'tree':18} {'wall s median':>14} {'wall s range':>16} {'(N s) median':>13}")
    for name, w in walls.items():
        own = f"{statistics.median(said[name]):.2f}" if said.get(name) else "-"
        print(f"{name:18} {statistics.median(w):14.2f} {f'{min(w):.2f}-{max(w):.2f}':>16} {own:>13}")


if __name__ == "__main__":
    main()
