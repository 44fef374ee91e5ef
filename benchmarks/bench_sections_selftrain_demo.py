"""Self-training and ``make demo``'s cross-generator line: the demo's section model with a pool of unlabelled tracks.

``make demo`` trains its section model on the demo synthesizer's tracks and scores it on 8 tracks of the second,
independent generator (``<demo>/.cross-generator``: one per style, seed 0, numpy renderer; the summary's
cross-generator line). This retrains that model exactly as the demo does (``train_sections_job`` on the demo's
library, ``workbench.demo.readiness.SECTIONS_CONFIG`` plus ``--config``) and scores it on the same 8 tracks, with
self-training on one of three pools (their sections never read):

- ``--pool library``: what the job itself pools, the demo library's unlabelled tracks (the demo's own generator);
- ``--pool other``: tracks of the second generator that are **not** the 8 scored ones (a set rendered with
  ``python -m workbench.devset DIR --per-style 3 --seed 0 --sections --renderer numpy --styles hiphop,dubstep,
  ukgarage,trap,breakbeat,hardstyle,jungle,psytrance``, read as a library in ``--other``; its ``_00`` tracks are the
  demo's 8 byte for byte and are left out of the pool by content hash, so 16 other tracks of the same 8 styles
  remain). The user's unlabelled music made the way the scored music is made, never the scored tracks;
- ``--pool both``: the two together (a library holding unlabelled tracks of both generators).

    NUMBA_CPU_NAME=generic OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_sections_selftrain_demo.py \\
        --home COPY_OF_DEMO_HOME --other COPY_OF_SET --pool other \\
        --config '{"self_training_rounds": 3, "self_training_threshold": 0.9, "self_training_cap": 2.0}' --json OUT

The home and the set are written to (caches, the job's runs beside ``--json``): pass copies.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

#: Added to the pool's track ids so they never equal a labelled track's id (the pool is another library).
POOL_ID_OFFSET = 1_000_000


def other_pool(folder: Path, scored_hashes: set[str]) -> list:
    """The set's tracks that are not scored, truth removed, ids moved out of the demo library's range."""
    from workbench.train.sections.external import folder_section_data

    data, _ = folder_section_data(folder / "audio", library_dir=folder, progress=False)
    return [replace(t, sections=[], rejected=[], track_id=t.track_id + POOL_ID_OFFSET)
            for t in data.tracks if t.content_hash not in scored_hashes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a copy of make demo's home (data/, experiments/)")
    parser.add_argument("--other", type=Path, default=None, help="a copy of the second generator's 3-per-style set")
    parser.add_argument("--pool", choices=("library", "other", "both"), default="library")
    parser.add_argument("--config", type=json.loads, default={}, help="section config overrides, JSON")
    parser.add_argument("--json", type=Path, required=True, help="write the figures here (runs in JSON.runs)")
    args = parser.parse_args()

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_sections_table import row, table

    torch.set_num_threads(1)
    from workbench.demo.readiness import SECTIONS_CONFIG
    from workbench.library import Library
    from workbench.pipeline_summary import _external_headlines
    from workbench.runs import load_run
    from workbench.train.sections import self_training
    from workbench.train.sections.external import folder_section_data
    from workbench.train.sections.job import train_sections_job

    t0 = time.perf_counter()
    cross = args.home / "data/demo/.cross-generator"
    scored, _ = folder_section_data(cross / "audio", library_dir=cross, progress=False)
    pool_info: dict = {"pool": args.pool}
    if args.pool != "library":
        if args.other is None:
            parser.error(f"--pool {args.pool} needs --other")
        extra = other_pool(args.other, {t.content_hash for t in scored.tracks})
        pool_info.update(tracks=len(extra), names=sorted(t.name for t in extra))
        own = self_training.unlabelled_pool

        def _pool(*a, **k):  # the job asks for the library's unlabelled tracks: the other set instead, or as well
            mine, info = own(*a, **k) if args.pool == "both" else ([], {"candidates": 0, "used": 0, "failed": []})
            return mine + extra, {**info, "candidates": info["candidates"] + len(extra),
                                  "used": info["used"] + len(extra)}

        self_training.unlabelled_pool = _pool
    print(f"read the sets in {time.perf_counter() - t0:.0f} s; pool {pool_info}", flush=True)
    t1 = time.perf_counter()
    with Library(args.home / "data/workbench.db") as lib:
        _, path = train_sections_job(lib, config={**SECTIONS_CONFIG, **args.config}, progress=False,
                                     experiments_root=Path(str(args.json) + ".runs"), external={"devset8": scored})
    train_s = time.perf_counter() - t1
    m = load_run(path).metrics
    for line in _external_headlines(m):
        print("  ", line)
    st = m.get("self_training") or {}
    cols = {}
    for name, part in (("demo in-domain", lambda: {**m, "tracks": len(m.get("test_tracks", []))}),
                       ("demo LOSO", lambda: m["transfer"]["leave_one_group_out"]),
                       ("demo -> 8 cross-generator tracks", lambda: m["transfer"]["external"]["devset8"])):
        try:
            cols[name] = row(part())
        except KeyError as exc:  # a figure the run did not record: say so, keep the others (the run is in path)
            print(f"{name}: no {exc} in {path}/metrics.json")
    table(cols)
    res = {"config": args.config, "run": str(path), **pool_info, "train_s": train_s, "columns": cols,
           "self_training": {k: st.get(k) for k in ("pool_tracks", "pseudo_windows", "pseudo_tracks", "stopped")}
           | {"per_round": [r["windows"] for r in st.get("rounds", [])],
              "per_label": (st.get("rounds") or [{}])[-1].get("per_label", {})}}
    print(json.dumps(res["self_training"], default=float))
    print(f"sections job {train_s:.0f} s")
    args.json.write_text(json.dumps(res, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
