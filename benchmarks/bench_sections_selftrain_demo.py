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

Session 17 (2026-12-07, 07:31-08:05 UTC, load 5-12 on the shared 2 cores, 2-5 runs at once, 165-450 s a job;
figures seeded). Copies of ``/tmp/h17-sections/demohome`` (``make demo``'s home, 30 tracks: 27 labelled, 3 not)
and ``/tmp/h17-sections/cross24`` (the 24-track set above) in ``/tmp/h17-selftrain/home*``, ``cross24*``; config
``{}`` (defaults) or ``{"self_training_rounds": 3, "self_training_threshold": 0.9, "self_training_cap": 2.0}``
(session 11's setting, chosen on the demo -> devset dev tracks, not on these 8), ``"seed": S`` added for seeds 1-2.
Smoothed frame accuracy on the 8 tracks (arg-max, F @3 s, suggestion ECE as served / per suggestion; baselines
majority .239, logreg .452, novelty .575, novelty F @3 s .711; intro/outro confusion 0 in every cell)::

                          seed 0                          seed 1                          seed 2
    defaults              .790 (.520, .906, .073/.057)    .812 (.511, .870, .085/.094)    .812 (.508, .870, .137/.114)
    pool library (3)      .807 (.515, .906, .119/.109)    .825 (.518, .906, .104/.115)    .804 (.504, .885, .113/.091)
    pool other (16)       .844 (.701, .900, .060/.084)    .848 (.709, .925, .088/.089)    .830 (.695, .925, .109/.109)
    pool both (19)        .844 (.726, .900, .074/.068)    not run                         not run

Mean over seeds 0-2: defaults .805, pool other .841 (+.036; +.054 / +.036 / +.018), the window arg-max .513 ->
.702. The demo's own columns do not fall: in-domain .989 / 1.000 / 1.000 with and without (F @0.5 s .857 / 1 / 1),
leave one style out .892 / .885 / .893 -> .899 / .891 / .899 (pool other; library .878 / .882 / .895, both .894
at seed 0).
Pseudo-labels (pool other, last round): 1,584-1,722 windows on all 16 tracks, intro 475-501, outro 407-561, build
371-409, break 252, verse 25; never chorus or drop (the grammar's tie keeps their confidence under 0.9). The demo's
3 unlabelled tracks (pool library: what ``--set self_training_rounds=3`` pools in ``make demo`` itself) are the
training generator's: 379 windows, the same each round; .812 mean (+.007: +.017 / +.013 / -.008, the arg-max
unchanged at .51, the served ECE .104-.119), the spread of retraining, not a transfer. The calibration across
generators is not better: the served ECE is lower at seeds 0 and 2, the per-suggestion one higher at seed 0 and
within .005 at seeds 1-2.
Below 0.85 at every seed. Where the errors go (seed 0, windows of the 8 tracks, truth -> called): defaults build ->
chorus 82, chorus -> drop 75, verse -> drop 72, verse -> chorus 30; pool other chorus -> drop 72, verse -> break 52,
drop -> break 38, verse -> drop 20: the builds and most verse-as-drop are fixed, chorus -> drop (a name the labels
never pseudo-label) stays, and verses and drops are now called "break" on the scored tracks. Not from wrong break
pseudo-labels: the saved models' picks on the pool (threshold 0.9, no cap; ``/tmp/h17-selftrain/precision.py``,
the pool's truth read only here) are right .963 of 829 windows for the defaults model (intro .99, outro 1.00,
build .97, break .98) and .933 of 1,810 for the self-trained one (intro .94, outro .93, build .95, break .99);
the one wrong label is verse (25 windows, 0 right, both models).
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
