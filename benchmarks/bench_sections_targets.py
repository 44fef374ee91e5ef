"""Issue 18's targets, cell by cell: settings of the section suggester side by side, from bench_sections_devset.py runs.

Reads the ``--json`` files that ``bench_sections_devset.py`` writes (one per setting and seed; nothing is trained
here) and prints, for each setting and seed, the leave-one-style-out figures on the dev splits against issue 18's
targets: frame accuracy >= 0.85, boundary F @3 s >= 0.85 and F @0.5 s >= 0.6, intro called outro and outro called
intro each under 5 % (of the intro, of the outro windows), ECE under 0.05 (two readings: per window after
temperature scaling, and per suggestion as served, each suggestion once; the suggestion ECE counted per window, a
30-window suggestion 30 times, is printed unscored), and never below the majority-class
(accuracy) and the unsupervised novelty boundaries (F @3 s, F @0.5 s). The cross-generator column (demo ->
devset dev) is printed as information, not scored against the targets. Held-out columns only with
``--held-out`` (read them once, for the chosen setting)::

    benchmarks/bench_sections_devset.py --devset DIR --library-dir LIB --demo-dir DEMO --seed S --json RUN_S.json
    python benchmarks/bench_sections_targets.py --setting default D0.json D1.json D2.json \\
        --setting lead L0.json L1.json L2.json [--held-out] [--json OUT]

A run's seed is read from its JSON (``seed``) or else taken from ``--seeds`` in the order given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sections import ACC_TARGET, ECE_TARGET, HIT05_TARGET, HIT3_TARGET, IO_TARGET  # noqa: E402

#: The columns the targets are scored on (the dev splits, leave-one-style-out), then the information column.
SCORED = ("demo LOSO", "devset LOSO, dev")
INFO = ("demo -> devset, dev",)
HELD_OUT = ("devset LOSO, held-out", "devset dev -> held-out", "demo -> devset, held-out")

#: (printed name, row key, target: ">=" value, "<" value, ">=key" the row key of the baseline it must not fall below,
#: "<=key" a line marked but not counted: the per-suggestion ECE within what a calibrated confidence shows at
#: that count, :func:`~workbench.evaluate.span_calibration.ece_floor`'s 95th percentile).
LINES = [("frame accuracy, smoothed", "accuracy", (">=", ACC_TARGET)),
         ("  accuracy >= majority class", "accuracy", (">=key", "majority")),
         ("  majority class (baseline)", "majority", None),
         ("boundary F @3 s", "f3", (">=", HIT3_TARGET)),
         ("  F @3 s >= novelty", "f3", (">=key", "f3_novelty")),
         ("  novelty (unsupervised)", "f3_novelty", None),
         ("boundary F @0.5 s", "f05", (">=", HIT05_TARGET)),
         ("  F @0.5 s >= novelty", "f05", (">=key", "f05_novelty")),
         ("  novelty (unsupervised)", "f05_novelty", None),
         ("intro called outro", "intro_as_outro", ("<", IO_TARGET)),
         ("outro called intro", "outro_as_intro", ("<", IO_TARGET)),
         ("ECE per window (temperature)", "ece_after", ("<", ECE_TARGET)),
         ("ECE per suggestion, served", "span_ece_after", ("<", ECE_TARGET)),
         ("  95 % interval, low", "span_lo", None),
         ("  95 % interval, high", "span_hi", None),
         ("  if calibrated (count alone)", "span_floor", None),
         ("  calibrated, 95th percentile", "span_floor95", None),
         ("  <= calibrated 95th percentile", "span_ece_after", ("<=key", "span_floor95")),
         ("  suggestions scored", "span_n", None),
         ("suggestion ECE per window (unscored)", "sug_ece_after", None)]


def met(r: dict, key: str, target) -> bool | None:
    """Whether row ``r`` meets ``target`` on ``key`` (None: no target or no figure)."""
    v = r.get(key)
    if target is None or v is None or v != v:
        return None
    op, ref = target
    if op in (">=key", "<=key"):
        ref = r.get(ref)
        return None if ref is None or ref != ref else (v >= ref if op == ">=key" else v <= ref)
    return v >= ref if op == ">=" else v < ref


def load(settings: list[list[str]], seeds: list[int]) -> dict[str, dict[int, dict]]:
    """``{setting: {seed: {column: row}}}`` from ``--setting NAME FILE...`` groups."""
    out: dict[str, dict[int, dict]] = {}
    for name, *files in settings:
        if not files:
            raise SystemExit(f"--setting {name}: no JSON file given (allowed: NAME FILE [FILE ...])")
        for i, f in enumerate(files):
            run = json.loads(Path(f).read_text())
            seed = run.get("seed", seeds[i] if i < len(seeds) else i)
            if int(seed) in out.get(name, {}):
                raise SystemExit(f"--setting {name}: two runs of seed {seed} ({f}); give --seeds in file order")
            out.setdefault(name, {})[int(seed)] = run["columns"]
    return out


def target_table(runs: dict[str, dict[int, dict]], columns: tuple[str, ...], *, scored: bool) -> list[dict]:
    """Print one block per column, one line per figure, one cell per setting and seed; return the target cells."""
    heads = [(s, seed) for s in runs for seed in sorted(runs[s])]
    cells = []
    print(f"{'':<32}" + "".join(f"{f'{s} s{seed}':>13}" for s, seed in heads))
    for col in columns:
        print(f"{col}{'' if scored else ' (information: no target)'}")
        for label, key, target in LINES:
            line = f"  {label:<30}"
            for s, seed in heads:
                r = runs[s][seed].get(col)
                v = float("nan") if r is None else r.get(key, float("nan"))
                ok = None if r is None else met(r, key, target)
                mark = " " if ok is None else "+" if ok else "-"
                line += f"{v:>12.3f}{mark}" if key != "span_n" else f"{v:>12.0f} "
                if scored and ok is not None and target[0] != "<=key":  # "<=key": marked, not a target
                    cells.append({"setting": s, "seed": seed, "column": col, "figure": label.strip(), "key": key,
                                  "value": v, "met": ok})
            print(line)
    print("(+ target met, - missed: accuracy >= 0.85, F @3 s >= 0.85, F @0.5 s >= 0.6, each intro/outro confusion "
          "< 0.05, ECE < 0.05; never below the majority class and the novelty boundaries)")
    return cells


def verdict(cells: list[dict]) -> dict[str, list[str]]:
    """Print and return, per setting, the target cells it misses and the ones another setting meets there."""
    out: dict[str, list[str]] = {}
    for s in dict.fromkeys(c["setting"] for c in cells):
        mine = {(c["seed"], c["column"], c["figure"]): c for c in cells if c["setting"] == s}
        missed = [f"s{k[0]} {k[1]}: {k[2]} {c['value']:.3f}" for k, c in mine.items() if not c["met"]]
        out[s] = missed
        print(f"{s}: {len(mine) - len(missed)} of {len(mine)} target cells met" + (":" if missed else ""))
        for m in missed:
            print(f"    missed {m}")
        for o in dict.fromkeys(c["setting"] for c in cells if c["setting"] != s):
            fixed = [k for k, c in mine.items() if c["met"] and any(
                d["setting"] == o and not d["met"] and (d["seed"], d["column"], d["figure"]) == k for d in cells)]
            print(f"    meets {len(fixed)} cell(s) {o} misses" + "".join(f"\n      s{k[0]} {k[1]}: {k[2]}"
                                                                      for k in fixed))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", nargs="+", action="append", required=True, metavar="NAME FILE",
                        help="a setting's name, then its bench_sections_devset.py --json files (one per seed)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the files in order where a JSON lacks 'seed'")
    parser.add_argument("--held-out", action="store_true", help="also print the held-out columns (read once)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures and the target cells here")
    args = parser.parse_args()
    runs = load(args.setting, [int(s) for s in args.seeds.split(",") if s])
    print("issue 18's targets, leave-one-style-out on the dev splits")
    cells = target_table(runs, SCORED, scored=True)
    print()
    target_table(runs, INFO, scored=False)
    print()
    out = {"runs": {s: {str(k): {c: v for c, v in cols.items() if c in SCORED + INFO + (HELD_OUT if args.held_out
                                                                                          else ())}
                            for k, cols in seeds.items()} for s, seeds in runs.items()},
           "cells": cells, "missed": verdict(cells)}
    if args.held_out:
        print("\nheld-out columns (never tuned on; not scored here)")
        target_table(runs, HELD_OUT, scored=False)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
