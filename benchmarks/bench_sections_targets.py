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

``--scored COLUMN ...`` names the columns scored against the targets (``--info COLUMN ...`` the ones printed beside):
on a set no choice was made on (session 21's ``sections-s21``) every leave-one-style-out column counts, e.g.
``--scored "devset LOSO, dev" "devset LOSO, held-out" "demo LOSO"``, or ``bench_sections_fresh.py``'s ``"fresh LOSO,
all"``.

A run's seed is read from its JSON (``seed``) or else taken from ``--seeds`` in the order given.

Session 14 (2026-12-06, 21:22-22:00 UTC; six bench runs at once, 350 s each at load 3-10, again 595-607 s at load
10-15; figures seeded and identical in both). Is the window group ``"lead"`` the default by issue 18's own targets?
``run.sh NAME S [--extra dj,novelty,ends,lead]`` = ``bench_sections_devset.py --devset /work/wt/devdata/sections-s18
--library-dir /tmp/h14-sec/lib_NAME --demo-dir /tmp/h14-sec/demo_NAME --seed S --json /tmp/h14-sec/bench_NAME.json``
(copies of session 13's ``/tmp/h13-sections/lib{S}``, ``demo{S}``), then this script. Dev cells, seeds 0/1/2::

                                   demo LOSO default / lead        devset LOSO dev default / lead
    frame accuracy (>= .85)        .871/.880/.886  .862/.871/.869  .861/.841-/.862 .851/.864/.861
    majority class                 .315            .315            .260            .260
    F @3 s (novelty .833 / .746)   .972/.968/.975  .972/.972/.968  .904/.907/.906  .910/.904/.904
    F @0.5 s (novelty .666 / .628) .915/.915/.920  .915/.915/.912  .843/.846/.844  .848/.843/.843
    intro -> outro, outro -> intro 0 everywhere (share of the intro, of the outro windows)
    ECE per window (temperature)   .039/.038/.046  .037/.040/.042  .019/.017/.016  .017/.011/.015
    ECE per suggestion, served     .050/.056-/.043 .082-/.055-/.057- .041/.044/.051- .049/.052-/.058-
      calibrated, 95th percentile  .071/.067/.063  .075/.071/.072  .064/.059/.065  .064/.070/.065
      suggestions scored           165-167         166-167         168-170         167-170

(demo -> devset dev, information: accuracy .778/.755/.766 default, .775/.746/.764 lead; F @3 s .795-.799 both.)
"lead" meets the one cell the default misses (devset LOSO dev at seed 1, .841 -> .864) and every window-ECE cell,
but misses three per-suggestion ECE cells the default meets (demo LOSO seeds 0 and 2, devset LOSO seed 1): it is
not the default by the issue's targets either (no flip). Two of the three are within what a calibrated confidence
shows at that count; the demo's seed 0 (.082, interval .066-.122) is beyond its 95th percentile (.075): a real loss
of calibration on the demo. Why no setting can meet "per-suggestion ECE < 0.05" in every cell here (recorded
suggestions, ``/tmp/h14-sec/ece_chance.py``, 4,000 calibrated draws of the served confidences): at 165-170
suggestions a perfectly calibrated confidence shows an ECE under 0.05 with chance 0.60/0.69/0.77 (demo) and
0.61/0.72/0.66 (devset) with the default's confidences, 0.57/0.66/0.59 and 0.54/0.43/0.54 with lead's: all six
cells at once 0.09 and 0.03. Per suggestion the test that can fail is "under the calibrated 95th percentile"
(``floor_95``, marked in the table): the default is under it in all six cells, "lead" in five.

The hip-hop fold (.359/.362) is lost in the smoothing at every seed. Seed 1, default, scores of the decoded path
(EDM form) minus the labelled one, on bars (``/tmp/h14-sec/why.py``): the three tracks +50.1, +31.0, +18.9; evidence
from the raw probabilities favours the labelled form on two of them (by 9.1 and 7.2), the chorus/drop tie turns one
(+4.2 for the EDM form) and the position factor the other (+1.7); the order prior (+0.2 to +8.8) and the duration
prior (+3.4 to +19.6: more, shorter sections) add to it. Decoding the recorded folds again (models unchanged;
``redecode.py``; devset LOSO dev / demo LOSO / demo -> devset dev, default seeds 0/1/2; .861/.841/.862,
.871/.880/.886, .778/.755/.766): the position factor kept for intro and outro only .881/.881/.878 (hip-hop +.10 to
+.14, trap +.22 at seed 1), .865/.872/.872, .685/.685/.680; the other labels' factor at half .861/.861/.862,
.879/.871/.885, .749/.748/.742; each label's factor shrunk by n/(n + 3), n its training tracks, .848/.841/.854,
.880/.874/.885, .765/-/.768. The position factor of the middle labels, learned from the demo's forms, carries the
cross-generator column (-0.09 without it): none kept.

The one of these that keeps every LOSO accuracy cell is the build's position factor left out (decoding, 21:50 UTC:
.861/.860/.864, .885/.884/.900, .775/.750/.766). New option, off: ``config={"position_free": ["build"]}``
(:func:`~workbench.train.sections.grammar.learn_grammar`; label families keep it). Full bench, ``run.sh pS S
--config '{"position_free": ["build"]}'`` (copies ``lib_p{S}``, ``demo_p{S}``, 373-375 s, three at once at load
10-12), dev cells against the defaults above::

                                   demo LOSO                       devset LOSO dev
    frame accuracy                 .885/.884/.900                  .861/.860/.864
    F @3 s / F @0.5 s              .981/.978/.982, .928/.911/.930  .904/.904/.906, .843/.843/.844
    ECE per window                 .039/.038/.046                  .019/.017/.016
    ECE per suggestion, served     .057-/.056-/.056- (95th pct .065/.064/.060)  .044/.041/.059- (.062/.057/.065)
    demo -> devset dev             .775/.750/.766 (F @3 s .805/.808/.797)
    devset -> demo                 .795/.801/.790 (defaults .808/.818/.821); in-domain unchanged

It meets every accuracy, boundary, intro/outro and window-ECE cell, and every per-suggestion cell is under its
calibrated 95th percentile, but "ECE per suggestion < 0.05" fails on the demo at seeds 0 and 2 where the default
passes (.050 -> .057, .043 -> .056), and devset -> demo falls .013-.031 and demo -> devset dev .003/.005: not the
default, by the targets read per suggestion or by the rule (no dev column lower). Held-out columns not read.
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
         ("  sugg. ECE, window-weighted", "sug_ece_after", None)]


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
                v = float("nan") if r is None or r.get(key) is None else r[key]  # null: not measured
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
    parser.add_argument("--scored", nargs="+", default=list(SCORED), metavar="COLUMN",
                        help="the columns scored against the targets (default: the two dev LOSO columns; on a fresh "
                             "set every LOSO column, e.g. 'devset LOSO, held-out', bench_sections_fresh.py's "
                             "'fresh LOSO, all')")
    parser.add_argument("--info", nargs="*", default=list(INFO), metavar="COLUMN", help="columns printed, not scored")
    args = parser.parse_args()
    runs = load(args.setting, [int(s) for s in args.seeds.split(",") if s])
    scored, info = tuple(args.scored), tuple(args.info)
    known = sorted({c for seeds in runs.values() for cols in seeds.values() for c in cols})
    unknown = [c for c in scored if c not in known]  # a misspelt column scored nothing and printed nan, no verdict
    if unknown:
        raise SystemExit(f"--scored {unknown}: in none of the runs; their columns: {known}")
    print(f"issue 18's targets, leave-one-style-out: {'; '.join(scored)}")
    cells = target_table(runs, scored, scored=True)
    print()
    if info:
        target_table(runs, info, scored=False)
        print()
    out = {"runs": {s: {str(k): {c: v for c, v in cols.items() if c in scored + info + (HELD_OUT if args.held_out
                                                                                          else ())}
                            for k, cols in seeds.items()} for s, seeds in runs.items()},
           "cells": cells, "missed": verdict(cells)}
    held = tuple(c for c in HELD_OUT if c not in scored + info)  # a fresh set's held-out LOSO may be scored above
    if args.held_out and held:
        print("\nheld-out columns (never tuned on; not scored here)")
        target_table(runs, held, scored=False)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
