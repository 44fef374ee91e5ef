"""Section suggestions on a fresh development set, every track of it held out: the figures the split benches lack.

``bench_sections_devset.py`` reads a development set by its generator's split (dev tracks looked at while tuning,
held-out tracks read once). A set rendered after every choice was made (session 21: ``sections-s21``, seed 21) is
held out whole, so this bench scores all of its tracks, and, with ``--devset``, the model of the old development set
on it (trained on the old set's dev tracks, as ``bench_sections_devset.py``'s devset model is). Columns:

- ``fresh LOSO, all``: the fresh set's tracks as one labelled library (every track), each style held out in turn
  (``fresh in-domain, all``: the same model's grouped quarter);
- ``demo -> fresh, all|dev|held-out``: the model ``make demo`` trains (the demo library) on the fresh tracks;
- ``devset dev -> fresh, all|dev|held-out``: the old devset's dev-track model on the fresh tracks (same generator,
  another seed: does what was tuned on the old set hold on new renders?);

each next to its baselines (majority class, logistic regression, the unsupervised novelty boundaries), the window ECE
after temperature and the per-suggestion ECE as served with its bootstrap interval and calibrated floor
(:mod:`workbench.evaluate.span_calibration`). ``--pool`` self-trains the demo and devset models on the fresh tracks
with their truth removed (transductive: the pool itself is scored; only with ``self_training_rounds`` > 0 in
``--config``). Nothing here is tuned: run it with the settings already chosen.

    PYTHONPATH=$PWD NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_sections_fresh.py \\
        --fresh COPY/sections-s21 --fresh-library-dir COPY/lib21 --demo-dir COPY/demo \\
        [--devset /work/wt/devdata/sections-s19 --library-dir COPY/lib19] --seed 0 [--config JSON] [--pool] \\
        [--json OUT]

(``--fresh-library-dir``, ``--library-dir`` and ``--demo-dir`` are written to (scan, embeddings): copies.) Issue 18's
targets over the ``--json`` files: ``bench_sections_targets.py`` reads this bench's columns too. Session 21's figures:
``docs/experiments/sections.md`` ("Session 21: a fresh set") and ``bench_sections_devset_history.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sections import demo_data  # noqa: E402
from bench_sections_devset import devset_data  # noqa: E402
from bench_sections_selftrain import finish, pseudo_summary, run_arguments, unlabelled  # noqa: E402
from bench_sections_table import _inside, row, table  # noqa: E402

#: Added to the fresh set's track ids (beyond :data:`bench_sections_devset.DEVSET_ID_OFFSET`'s) so they never clash
#: with the old devset's or the demo's when both are in one run.
FRESH_ID_OFFSET = 100_000


def fresh_data(folder: Path, *, library_dir: Path):
    """The fresh set's section data (ids offset apart from the old devset's) and ``{split: [track id]}``, "all" too."""
    data, split = devset_data(folder, library_dir=library_dir)
    data = type(data)([replace(t, track_id=t.track_id + FRESH_ID_OFFSET) for t in data.tracks], data.features,
                      data.backbone)
    ids = {"all": [t + FRESH_ID_OFFSET for t in split]}
    for name, key in (("dev", "dev"), ("held-out", "held_out")):
        ids[name] = [t + FRESH_ID_OFFSET for t, s in split.items() if s == key]
    return data, ids


def scored_on_fresh(data, fresh, ids: dict, *, cfg: dict, pool: bool, name: str, cols: dict, out: dict) -> dict:
    """Train on ``data`` (its LOSO kept out of the table), score every split of ``fresh``; return the metrics."""
    from workbench.train.sections import train_sections

    t1 = time.perf_counter()
    res = train_sections(data, config=cfg, progress=False, unlabelled=unlabelled(fresh) if pool else None,
                         external={s: fresh.subset(v) for s, v in ids.items() if v})
    m = res.metrics
    for s in ids:
        if ids[s]:
            cols[f"{name} -> fresh, {s}{' (T)' if pool else ''}"] = row(m["transfer"]["external"][s])
    out["pseudo"][name] = pseudo_summary(m)
    print(f"{name} model trained and scored in {time.perf_counter() - t1:.0f} s")
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", type=Path, required=True, help="the fresh devset (rendered with --sections)")
    parser.add_argument("--fresh-library-dir", type=Path, required=True, help="library of the fresh set (written to)")
    parser.add_argument("--demo-dir", type=Path, required=True, help="keep (and reuse) the demo library here")
    parser.add_argument("--devset", type=Path, default=None, help="the old devset: its dev-track model -> fresh")
    parser.add_argument("--library-dir", type=Path, default=None, help="with --devset: its library (written to)")
    run_arguments(parser)
    parser.add_argument("--pool", action="store_true", help="self-train the demo and devset models on the fresh tracks")
    args = parser.parse_args()
    if args.devset is not None and args.library_dir is None:
        parser.error("--devset needs --library-dir (a copy of its library: it is written to)")

    from workbench.train.sections import train_sections

    t0 = time.perf_counter()
    fresh, ids = fresh_data(args.fresh, library_dir=args.fresh_library_dir)
    demo = demo_data(args.n_tracks, seed=args.seed, folder=args.demo_dir)
    print(f"fresh set {args.fresh}: {len(ids['all'])} tracks ({len(ids['dev'])} dev + {len(ids['held-out'])} "
          f"held-out by its split, all of them fresh), {len({t.group for t in fresh.tracks})} styles; demo "
          f"{len(demo.tracks)} tracks ({time.perf_counter() - t0:.0f} s to load); config {args.config}")
    cfg = {**args.config, "seed": args.seed}
    cols: dict[str, dict] = {}
    out: dict = {"fresh": str(args.fresh), "devset": str(args.devset) if args.devset else None, "seed": args.seed,
                 "config": args.config, "pool": args.pool, "pseudo": {}}
    t1 = time.perf_counter()
    res = train_sections(fresh, config=cfg, progress=False)
    cols["fresh in-domain, all"] = row(_inside(res))
    cols["fresh LOSO, all"] = row({**res.metrics["transfer"]["leave_one_group_out"],
                                   "wall_s": time.perf_counter() - t1})
    print(f"fresh model trained in {time.perf_counter() - t1:.0f} s")
    m = scored_on_fresh(demo, fresh, ids, cfg=cfg, pool=args.pool, name="demo", cols=cols, out=out)
    cols["demo LOSO"] = row(m["transfer"]["leave_one_group_out"])
    if args.devset is not None:
        old, split = devset_data(args.devset, library_dir=args.library_dir)
        m = scored_on_fresh(old.subset([t for t, s in split.items() if s == "dev"]), fresh, ids, cfg=cfg,
                            pool=args.pool, name="devset dev", cols=cols, out=out)
        cols["devset LOSO, dev"] = row(m["transfer"]["leave_one_group_out"])
    print()
    table(cols)
    finish(out, cols, t0=t0, json_path=args.json)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
