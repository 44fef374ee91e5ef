"""Self-training on unlabelled tracks: section figures with and without it, the pools kept apart from what is scored.

Same sets and code path as ``bench_sections_devset.py`` (the devset rendered with ``--sections``, the demo library),
with ``train_sections(..., unlabelled=POOL)`` (:mod:`workbench.train.sections.self_training`). Each pool is a
set of tracks with their truth removed (``sections=[]``: never read). Which column is honest:

- the devset model (trained on the devset's dev tracks) self-trains on the devset's **held-out** tracks: its
  in-domain (a grouped quarter of the dev tracks) and leave-one-style-out columns score tracks outside the pool
  (honest; the pool is the same library's other tracks); ``devset dev -> held-out`` scores the pool itself
  (**transductive**); ``devset -> demo`` is another generator, not in the pool;
- the demo model self-trains on the devset's **dev** tracks: ``demo -> devset, dev`` scores the pool itself
  (**transductive**: the user's unlabelled library, the music the suggestions must hold on); ``demo -> devset,
  held-out`` scores tracks never in the pool (**the honest cross-generator column**); the demo's in-domain and
  leave-one-style-out columns say whether a foreign pool costs the labelled music anything.

Pseudo-labels are never counted as truth: every figure scores labelled windows of tracks with their own truth.
``--config`` holds the section config (e.g. ``'{"self_training_rounds": 1}'``); ``{}`` gives the defaults (no
self-training; the figures equal ``bench_sections_devset.py``'s columns of the same names).

    NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_sections_selftrain.py \\
        --devset /work/wt/devdata/sections-s18 --library-dir COPY/lib --demo-dir COPY/demo --seed 0 \\
        --config '{"self_training_rounds": 2}' [--json OUT]

Session 10: see the paragraph below the table (filled in by the session's runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sections import demo_data  # noqa: E402
from bench_sections_devset import devset_data  # noqa: E402
from bench_sections_table import _inside, row, table  # noqa: E402


def unlabelled(data) -> list:
    """The tracks of ``data`` with their truth removed (a pool of unlabelled tracks)."""
    return [replace(t, sections=[], rejected=[]) for t in data.tracks]


def pseudo_summary(metrics: dict) -> dict:
    """How many pseudo-labelled windows and tracks the final model and the LOSO folds used."""
    st = metrics.get("self_training") or {}
    loso = (metrics.get("transfer") or {}).get("leave_one_group_out") or {}
    return {"pool_tracks": st.get("pool_tracks", 0), "pseudo_windows": st.get("pseudo_windows", 0),
            "pseudo_tracks": st.get("pseudo_tracks", 0), "per_round": [r["windows"] for r in st.get("rounds", [])],
            "per_label": (st.get("rounds") or [{}])[-1].get("per_label", {}),
            "loso_pseudo_windows": loso.get("self_training", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, required=True, help="a devset rendered with --sections")
    parser.add_argument("--library-dir", type=Path, required=True, help="library of the devset (written to)")
    parser.add_argument("--demo-dir", type=Path, required=True, help="keep (and reuse) the demo library here")
    parser.add_argument("--n-tracks", type=int, default=24, help="demo tracks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=json.loads, default={}, help="section config overrides, JSON")
    parser.add_argument("--no-devset-model", action="store_true", help="only the demo model's columns")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    from workbench.train.sections import train_sections

    t0 = time.perf_counter()
    dev_data, split = devset_data(args.devset, library_dir=args.library_dir)
    dev_ids = [t for t, s in split.items() if s == "dev"]
    held_ids = [t for t, s in split.items() if s == "held_out"]
    demo = demo_data(args.n_tracks, seed=args.seed, folder=args.demo_dir)
    print(f"devset: {len(dev_ids)} dev + {len(held_ids)} held-out tracks; demo {len(demo.tracks)} tracks "
          f"({time.perf_counter() - t0:.0f} s to load); config {args.config}")
    cfg = {**args.config, "seed": args.seed}
    cols: dict[str, dict] = {}
    out: dict = {"config": args.config, "seed": args.seed, "pseudo": {}}
    if not args.no_devset_model:
        t1 = time.perf_counter()
        res = train_sections(dev_data.subset(dev_ids), config=cfg, progress=False,
                             unlabelled=unlabelled(dev_data.subset(held_ids)),
                             external={"held": dev_data.subset(held_ids), "demo": demo})
        m = res.metrics
        cols["devset in-domain, dev"] = row(_inside(res))
        cols["devset LOSO, dev"] = row(m["transfer"]["leave_one_group_out"])
        cols["devset dev->held (transd.)"] = row(m["transfer"]["external"]["held"])
        cols["devset -> demo"] = row(m["transfer"]["external"]["demo"])
        out["pseudo"]["devset model (pool: devset held-out)"] = pseudo_summary(m)
        print(f"devset model: {time.perf_counter() - t1:.0f} s")
    t1 = time.perf_counter()
    res = train_sections(demo, config=cfg, progress=False, unlabelled=unlabelled(dev_data.subset(dev_ids)),
                         external={"dev": dev_data.subset(dev_ids), "held": dev_data.subset(held_ids)})
    m = res.metrics
    cols["demo in-domain"] = row(_inside(res))
    cols["demo LOSO"] = row(m["transfer"]["leave_one_group_out"])
    cols["demo->devset dev (transd.)"] = row(m["transfer"]["external"]["dev"])
    cols["demo -> devset, held-out"] = row(m["transfer"]["external"]["held"])
    out["pseudo"]["demo model (pool: devset dev)"] = pseudo_summary(m)
    print(f"demo model: {time.perf_counter() - t1:.0f} s\n")
    table(cols)
    for name, p in out["pseudo"].items():
        print(f"{name}: {p['pseudo_windows']} pseudo-labelled windows on {p['pseudo_tracks']} of {p['pool_tracks']} "
              f"tracks (rounds {p['per_round']}; {p['per_label']}); LOSO folds {p['loso_pseudo_windows']}")
    print(f"\n({time.perf_counter() - t0:.0f} s in all)")
    out["columns"] = cols
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
