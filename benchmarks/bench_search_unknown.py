"""What a track's unknown tempo or key counts as in search: precision@3 by folder, ``unknown="drop"`` vs ``"expected"``.

Session 22 (issue 17): a track with no beat or no key (drums only) had the unknown term left out of its weighted mean
and the other weights renormalised, so one with neither competed on vibe and energy alone and could rank first;
``unknown="expected"`` counts the term as the query's average agreement with the library's tracks where it is known
(:data:`workbench.similarity.sets_terms.UNKNOWN_TERMS`). This ranks the same queries both ways through
:class:`workbench.search.LibrarySearch` (default weights, as ``workbench similar``), in kept workspaces that already
hold trained runs (``bench_search_real.py --home``, ``make demo``'s home): for every run found (or ``--runs``), the
backbone and that run's head on the run's held-out tracks; with ``--all-queries`` also the backbone with every track
as a query (the backbone never trained on any). Beside each figure: how many queries have a track with an unknown
tempo or key among their top 3 either way, and how many rankings changed. The workspace is written to (the search
index beside its database): give copies.

    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_search_unknown.py --home COPY1 [--home COPY2 ...]
        [--runs RUN_ID,...] [--all-queries] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOWS = ("drop", "expected")


def rank_both(lib, model, queries, groups) -> dict:
    """Precision@3 by group of ``queries`` with each rule, and how the rankings differ."""
    from workbench.search import LibrarySearch
    from workbench.similarity.compare import precision_at_k

    out, tops = {}, {}
    unknown = {t.id for t in lib.tracks() if not _known(lib, t)}
    for how in HOWS:
        search = LibrarySearch(lib, model=model, progress=False, unknown=how).update()
        out[how] = precision_at_k(search, queries, groups, k=3)
        tops[how] = {q.id: [r.track.id for r in search.similar(q, k=3)] for q in queries}
    changed = sum(tops["drop"][q] != tops["expected"][q] for q in tops["drop"])
    touched = sum(any(i in unknown for i in tops["drop"][q] + tops["expected"][q]) for q in tops["drop"])
    return {"p_at_3": {h: out[h]["precision_at_k"] for h in HOWS}, "n_queries": out["drop"]["n_queries"],
            "per_query": {h: out[h]["per_query"] for h in HOWS}, "changed": changed, "unknown_in_top3": touched,
            "unknown_tracks": len(unknown), "model": out["expected"]["model"]}


def _known(lib, track) -> bool:
    """Whether the track's tempo and key are both known (its stored analysis)."""
    from workbench.analysis import track_analysis

    a = track_analysis(lib, track, compute=False)
    return a is not None and a.bpm is not None and bool(a.has_key)


def one_home(home: Path, *, runs: list[str] | None, all_queries: bool) -> list[dict]:
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.similarity.compare import track_groups
    from workbench.similarity.model import model_from_run

    rows = []
    with Library(home / "data" / "workbench.db") as lib:
        groups, by = track_groups(lib)
        if all_queries:
            r = rank_both(lib, "backbone", lib.tracks(), groups)
            rows.append({"home": str(home), "run": None, "queries": "all", "which": "backbone", **r})
        for run_dir in sorted((home / "experiments").iterdir()):
            if "embeddings" not in run_dir.name or (runs and run_dir.name not in runs):
                continue
            run = load_run(run_dir)
            held = set((run.metrics.get("held_out") or {}).get("track_hashes") or [])
            if not held:
                continue
            queries = [t for t in lib.tracks() if t.content_hash in held]
            said = {k: run.config.get(k) for k in ("pretrain_epochs", "loss") if k in (run.config or {})}
            for which, model in (("backbone", "backbone"), ("head", model_from_run(run))):
                r = rank_both(lib, model, queries, groups)
                rows.append({"home": str(home), "run": run_dir.name, "config": said, "queries": "held-out",
                             "which": which, **r})
                print(f"{home.name} {run_dir.name} {said} {which:8s} held-out {r['n_queries']:2d}: P@3 drop "
                      f"{r['p_at_3']['drop']:.4f} expected {r['p_at_3']['expected']:.4f}  (changed {r['changed']}, "
                      f"unknown in top 3 {r['unknown_in_top3']}, unknown tracks {r['unknown_tracks']})", flush=True)
        for row in rows[:1] if all_queries else []:
            print(f"{home.name} backbone all {row['n_queries']:2d}: P@3 drop {row['p_at_3']['drop']:.4f} expected "
                  f"{row['p_at_3']['expected']:.4f}  (changed {row['changed']}, unknown in top 3 "
                  f"{row['unknown_in_top3']}, unknown tracks {row['unknown_tracks']})", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", action="append", required=True, help="a kept workspace with trained runs (a copy)")
    ap.add_argument("--runs", default=None, help="only these run ids (comma-separated)")
    ap.add_argument("--all-queries", action="store_true", help="also the backbone with every track as a query")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    runs = [r.strip() for r in args.runs.split(",")] if args.runs else None
    rows = []
    for home in args.home:
        rows += one_home(Path(home), runs=runs, all_queries=args.all_queries)
    for which in ("backbone", "head"):
        sel = [r for r in rows if r["which"] == which and r["queries"] == "held-out"]
        if sel:
            means = {h: sum(r["p_at_3"][h] for r in sel) / len(sel) for h in HOWS}
            print(f"mean {which} held-out over {len(sel)} runs: drop {means['drop']:.4f} expected "
                  f"{means['expected']:.4f}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
