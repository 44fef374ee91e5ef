"""Section boundaries beside an outside peer, MSAF: the same tracks, the same mir_eval scoring, one table.

Systems, each scored with :meth:`TrackFrames.segment_eval` (mir_eval's boundary detection, F @0.5 s and
F @3 s, the track's first and last boundaries trimmed) against the section truth:

- **workbench suggestions**: the section model's smoothed suggestions, leave-one-style-out (each
  track scored by a model trained without its style; ``bench_sections_devset.py``'s ``loso``, the
  cells of its "devset LOSO" and "demo LOSO" columns);
- **workbench novelty**: the unsupervised baseline (Foote novelty on bar-synchronous embeddings over
  our beat grid, :mod:`workbench.train.sections.novelty`), the same folds' tracks;
- **MSAF** 0.1.80 (Nieto & Bello 2016; MIT; a peer only, in its own venv, run as a subprocess:
  ``benchmarks/peers/msaf_segment.py``): ``foote``, ``sf`` (structural features), ``scluster``
  (Laplacian segmentation, McFee & Ellis 2014), ``olda``, ``cnmf``, each with MSAF's defaults on
  MSAF's own features (``--feature``, default ``pcp``) synchronised to MSAF's own beat tracker
  (librosa's), not our grid. MSAF always returns 0, its first and last beat and the end as
  boundaries; boundaries within ``--edge-s`` (1 s) of the track's end or before our first beat +
  ``--edge-s`` are dropped, the rule :func:`~workbench.evaluate.segmentation.segment_eval` applies
  to every section's start and end (``--keep-edges``: scored as returned).

Tracks: the devset's dev split (``/work/wt/devdata/sections-s19``, seed 18, leave-one-style-out) and the demo
library's section tracks (``--demo-dir``); the devset's held-out split only with ``--held-out``, in its
own table (read it once). MSAF does not train, so only our side's numbers depend on the seed.

    NUMBA_CPU_NAME=generic OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_sections_peers.py \\
        --devset DEVSET --library-dir LIB --demo-dir DEMO [--msaf-python /work/venvs/msaf/bin/python] \\
        [--msaf-cache msaf.jsonl] [--held-out] [--json OUT]

``--msaf-cache`` keeps MSAF's answers (JSON lines, per file and feature) and reuses them: MSAF's
answer does not change while ours is tuned. Without MSAF's venv its rows show ``-``
(benchmarks/README.md, "Section boundaries against MSAF", says how to make it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MSAF = os.environ.get("MSAF_PYTHON", "/work/venvs/msaf/bin/python")
ALGORITHMS = ("foote", "sf", "scluster", "olda", "cnmf")
OURS = ("workbench suggestions", "workbench novelty")


def boundary_sections(times_s: Sequence[float], *, duration_s: float, first_beat_s: float | None = None,
                      edge_s: float = 1.0) -> list[dict[str, Any]]:
    """Sections between a segmenter's boundaries (label ``"segment"``: boundaries are what is scored).

    Parameters
    ----------
    times_s : sequence of float
        Boundary times in seconds, in any order (0 and the end may be among them).
    duration_s : float
        Track length in seconds.
    first_beat_s : float or None
        The track's first beat (our grid): boundaries up to it plus ``edge_s`` start the track.
    edge_s : float
        Seconds; boundaries within this of the end end the track. ``< 0`` keeps every boundary
        inside ``(0, duration_s)`` (scored as returned).

    Returns
    -------
    list of dict
        ``{"start_s", "end_s", "label"}`` tiling ``[0, duration_s]``.
    """
    t = np.unique(np.asarray(times_s, dtype=np.float64))
    lo = 0.0 if edge_s < 0 else max(0.0, float(first_beat_s or 0.0)) + edge_s
    hi = float(duration_s) - max(edge_s, 0.0)
    inner = t[(t > lo) & (t < hi)] if edge_s >= 0 else t[(t > 0) & (t < duration_s)]
    edges = [0.0, *inner.tolist(), float(duration_s)]
    return [{"start_s": a, "end_s": b, "label": "segment"} for a, b in zip(edges[:-1], edges[1:], strict=True)]


def hit_offsets(estimated: Sequence[Mapping[str, Any]], truth: Sequence[Mapping[str, Any]], *, duration_s: float,
                window_s: float = 3.0, edge_s: float = 1.0) -> list[float]:
    """Signed offsets (s, estimated minus truth) of the inner boundaries within ``window_s`` of a truth boundary.

    A diagnostic beside the F-measures: a segmenter whose hits sit a beat late scores at 3 s and not at 0.5 s.
    Boundaries within ``edge_s`` of either end of the track are left out, as mir_eval's trim does.
    """
    def inner(secs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        t = np.array(sorted(float(x["start_s"]) for x in secs))
        return t[(t > edge_s) & (t < duration_s - edge_s)]

    est, ref = inner(estimated), inner(truth)
    if not len(ref):
        return []
    d = [float(x - ref[np.argmin(np.abs(ref - x))]) for x in est]
    return [v for v in d if abs(v) <= window_s]


def score_tracks(tracks: Sequence[Any], systems: Mapping[str, Mapping[int, Sequence[Mapping[str, Any]] | None]]
                 ) -> dict[str, dict[str, Any]]:
    """Mean boundary F @3 s and @0.5 s of each system over the same tracks.

    Parameters
    ----------
    tracks : sequence of TrackFrames
        The scored tracks (truth ``sections``, ``duration_s``, ``beats``).
    systems : mapping
        ``{system: {track id: sections or None}}``; None (the system failed on the track) is
        scored as one section, no inner boundary (F 0 where the truth has one).

    Returns
    -------
    dict
        ``{system: {"tracks", "failed", "f3", "f05", "p3", "r3", "boundaries_per_track", "per_track"}}``.
    """
    out = {}
    for name, by_track in systems.items():
        per, failed, offsets = {}, 0, []
        for tr in tracks:
            secs = by_track.get(tr.track_id)
            if secs is None:
                failed += 1
                secs = [{"start_s": 0.0, "end_s": tr.duration_s, "label": "segment"}]
            s = tr.segment_eval(secs)
            offsets += hit_offsets(secs, tr.sections, duration_s=tr.duration_s)
            per[tr.track_id] = {"f3": s["boundary_f_3s"], "f05": s["boundary_f_0.5s"],
                                "p3": s["boundary_precision_3s"], "r3": s["boundary_recall_3s"],
                                "boundaries": max(0, len(secs) - 1)}
        mean = {k: float(np.mean([p[k] for p in per.values()])) if per else float("nan")
                for k in ("f3", "f05", "p3", "r3")}
        out[name] = {"tracks": len(per), "failed": failed, **mean,
                     "median_offset_s": float(np.median(offsets)) if offsets else float("nan"),
                     "boundaries_per_track": float(np.mean([p["boundaries"] for p in per.values()])) if per else
                     float("nan"), "per_track": per}
    truth = [max(0, len(tr.sections) - 1) for tr in tracks]
    out["truth"] = {"tracks": len(tracks), "boundaries_per_track": float(np.mean(truth)) if truth else float("nan")}
    return out


def markdown_table(columns: Mapping[str, Mapping[str, Mapping[str, Any]]], systems: Sequence[str]) -> str:
    """One row per system, F @3 s, F @0.5 s and inner boundaries per track for each column (``-``: not run).

    Parameters
    ----------
    columns : mapping
        ``{column title: score_tracks(...) output}``.
    systems : sequence of str
        Row order.
    """
    def cell(r: Mapping[str, Any] | None, key: str, fmt: str) -> str:
        return "-" if r is None or r.get(key) is None or r[key] != r[key] else format(r[key], fmt)

    head = "| system | " + " | ".join(f"{c} ({next(iter(v.values()))['tracks']}): F @3 s | F @0.5 s | bounds"
                                      for c, v in columns.items()) + " |"
    lines = [head, "|---|" + "---|---|---|" * len(columns)]
    for s in (*systems, "truth"):
        cells = []
        for v in columns.values():
            r = v.get(s)
            fail = f" ({r['failed']} failed)" if r and r.get("failed") else ""
            cells += [cell(r, "f3", ".3f") + fail, cell(r, "f05", ".3f"), cell(r, "boundaries_per_track", ".1f")]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def read_cache(path: Path | None) -> dict[tuple[str, str], dict[str, Any]]:
    """MSAF's earlier answers, ``{(file path, feature): answer}``, from a JSON-lines file (absent: none)."""
    if path is None or not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            if "error" not in r:
                out[(r["path"], r["feature"])] = r
    return out


def msaf_side(paths: Sequence[str], *, python: str, work: Path, feature: str, algorithms: Sequence[str],
              cache: Path | None = None) -> dict[str, dict[str, Any]]:
    """MSAF's answer for each path (``{path: answer}``), from the cache where it has every algorithm, else run."""
    known = read_cache(cache)
    out = {p: known[(p, feature)] for p in paths
           if (p, feature) in known and all(a in known[(p, feature)]["boundaries"] or a in known[(p, feature)]["errors"]
                                            for a in algorithms)}
    todo = [p for p in paths if p not in out]
    if todo:
        if not python or not Path(python).is_file():
            return out
        cmd = [python, str(ROOT / "benchmarks" / "peers" / "msaf_segment.py"), "--work", str(work),
               "--feature", feature, "--algorithms", ",".join(algorithms), *todo]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        print(f"MSAF ran on {len(todo)} files in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        if proc.returncode:
            print(f"MSAF exited {proc.returncode}: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        for line in proc.stdout.splitlines():
            r = json.loads(line)
            if "error" in r:
                print(f"MSAF failed on {r['path']}: {r['error']}", file=sys.stderr)
                continue
            out[r["path"]] = r
            if cache is not None:
                with cache.open("a") as f:
                    f.write(line + "\n")
    return out


def peer_sections(tracks: Sequence[Any], path_of: Mapping[int, str], answers: Mapping[str, Mapping[str, Any]], *,
                  algorithms: Sequence[str], edge_s: float) -> dict[str, dict[int, list[dict[str, Any]] | None]]:
    """``{"MSAF ALGORITHM": {track id: sections or None}}`` from MSAF's answers (None: no answer for the track)."""
    out: dict[str, dict[int, list[dict[str, Any]] | None]] = {f"MSAF {a}": {} for a in algorithms}
    for tr in tracks:
        ans = answers.get(path_of.get(tr.track_id, ""))
        for a in algorithms:
            times = None if ans is None else ans["boundaries"].get(a)
            first = float(tr.beats[0]) if len(tr.beats) else None
            out[f"MSAF {a}"][tr.track_id] = None if times is None else boundary_sections(
                times, duration_s=tr.duration_s, first_beat_s=first, edge_s=edge_s)
    return out


def column(data, sections: Mapping[int, Mapping[str, Any]], path_of: Mapping[int, str],
           answers: Mapping[str, Mapping[str, Any]], *, algorithms: Sequence[str], edge_s: float) -> dict[str, Any]:
    """Scores of every system on the same tracks: those our leave-one-style-out run scored (``sections``' keys)
    and, when MSAF answered any, that MSAF answered (``"not_run"``: how many it has not answered yet; an
    algorithm's error on a track it ran counts as a failure, F 0)."""
    tracks = [t for t in data.tracks if t.track_id in sections]
    answered = [t for t in tracks if path_of.get(t.track_id) in answers] if answers else tracks
    systems = {"workbench suggestions": {t: s["smoothed"] for t, s in sections.items()},
               "workbench novelty": {t: s["novelty"] for t, s in sections.items()}}
    if answers:
        systems.update(peer_sections(answered, path_of, answers, algorithms=algorithms, edge_s=edge_s))
    out = score_tracks(answered, systems)
    out["truth"]["not_run"] = len(tracks) - len(answered)
    return out


def library_paths(db: Path, *, offset: int = 0) -> dict[int, str]:
    """``{track id + offset: absolute audio path}`` of a library (relative paths are under the db's folder)."""
    from workbench.library import Library

    with Library(db) as lib:
        return {t.id + offset: str(p if (p := Path(t.path)).is_absolute() else (db.parent / p).resolve())
                for t in lib.tracks()}


def agreement(reference: Sequence[Mapping[str, Any]], other: Sequence[Mapping[str, Any]], *,
              duration_s: float) -> float:
    """Boundary F @3 s of ``other`` against ``reference`` (symmetric: swapping them swaps P and R, F stays).

    Parameters
    ----------
    reference, other : sequences of {start_s, end_s, label}
        Two segmentations of one track (no truth: this is agreement, not accuracy).
    duration_s : float
        Track length in seconds.
    """
    from workbench.evaluate.segmentation import segment_scores

    return segment_scores(reference, other, duration_s=duration_s, windows_s=(3.0,))["boundary_f_3s"]


def real_side(folder: Path, *, library_dir: Path, train, seed: int, min_s: float) -> dict[str, dict[str, Any]]:
    """Our suggestions and novelty sections for each file of ``folder`` at least ``min_s`` long.

    The model is trained on ``train`` (every track; no held-out part is needed here) with
    :func:`~workbench.train.sections.train_sections` and serves the labeler's suggestions
    (:func:`~workbench.train.sections.suggestions.suggest_sections`). ``library_dir`` is written to
    (scan, analysis, embeddings); ``folder`` is only read.

    Returns
    -------
    dict
        ``{absolute path: {"duration_s", "first_beat_s", "smoothed", "novelty"}}``; a file that fails
        gets ``{"error"}`` and the run goes on.
    """
    from workbench.library import Library
    from workbench.train.sections import train_sections
    from workbench.train.sections.library_data import track_frames
    from workbench.train.sections.novelty import novelty_sections
    from workbench.train.sections.suggestions import suggest_sections

    res = train_sections(train, config={"seed": seed, "transfer": False}, progress=False)
    out: dict[str, dict[str, Any]] = {}
    library_dir.mkdir(parents=True, exist_ok=True)
    with Library(library_dir / "workbench.db") as lib:
        lib.scan(folder, progress=False)
        for t in lib.tracks():
            path = str(p if (p := Path(t.path)).is_absolute() else (library_dir / p).resolve())
            if not t.duration_s or t.duration_s < min_s:
                continue
            try:
                frames = track_frames(lib, t, features=train.features)
                smoothed = suggest_sections(lib, t, model=res.trainer, features=train.features,
                                            transitions=res.transitions)
                out[path] = {"duration_s": float(t.duration_s),
                             "first_beat_s": float(frames.beats[0]) if len(frames.beats) else None,
                             "smoothed": [{"start_s": s.start_s, "end_s": s.end_s, "label": s.label} for s in smoothed],
                             "novelty": novelty_sections(frames, backbone=train.backbone)}
            except Exception as exc:  # one bad file never stops the run
                out[path] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def real_agreement(ours: Mapping[str, Mapping[str, Any]], answers: Mapping[str, Mapping[str, Any]], *,
                   algorithms: Sequence[str], edge_s: float) -> dict[str, dict[str, Any]]:
    """Mean boundary F @3 s between each pair (ours, novelty, each MSAF algorithm) over the files both answered.

    Returns
    -------
    dict
        ``{"A vs B": {"tracks", "f3"}}`` and ``{"boundaries per track": {system: mean}}``.
    """
    pairs: dict[str, list[float]] = {}
    bounds: dict[str, list[int]] = {}
    for path, r in ours.items():
        if "error" in r:
            continue
        segs = {"workbench suggestions": r["smoothed"], "workbench novelty": r["novelty"]}
        ans = answers.get(path)
        for a in algorithms:
            if ans is not None and a in ans["boundaries"]:
                segs[f"MSAF {a}"] = boundary_sections(ans["boundaries"][a], duration_s=r["duration_s"],
                                                      first_beat_s=r["first_beat_s"], edge_s=edge_s)
        for name, v in segs.items():
            bounds.setdefault(name, []).append(len(v) - 1)
        for other in (n for n in segs if n != "workbench suggestions"):
            pairs.setdefault(f"workbench suggestions vs {other}", []).append(
                agreement(segs["workbench suggestions"], segs[other], duration_s=r["duration_s"]))
        for a in algorithms:
            if f"MSAF {a}" in segs:
                pairs.setdefault(f"workbench novelty vs MSAF {a}", []).append(
                    agreement(segs["workbench novelty"], segs[f"MSAF {a}"], duration_s=r["duration_s"]))
    out: dict[str, dict[str, Any]] = {k: {"tracks": len(v), "f3": float(np.mean(v))} for k, v in pairs.items()}
    out["boundaries per track"] = {k: float(np.mean(v)) for k, v in bounds.items()}
    return out


def main() -> None:
    from bench_sections_devset import DEVSET_ID_OFFSET, data_arguments, devset_data, loso

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--n-tracks", type=int, default=24, help="demo tracks")
    parser.add_argument("--seed", type=int, default=0, help="our model's seed (MSAF's answer does not depend on it)")
    parser.add_argument("--msaf-python", default=DEFAULT_MSAF, help="python of MSAF's venv (or MSAF_PYTHON)")
    parser.add_argument("--msaf-cache", type=Path, default=None, help="JSON lines of MSAF answers to reuse and extend")
    parser.add_argument("--ours-cache", type=Path, default=None,
                        help="JSON of our leave-one-style-out sections per set and seed, reused (same code, same seed)")
    parser.add_argument("--cache-only", action="store_true",
                        help="MSAF's answers from --msaf-cache only (never run it); every system is scored on the "
                             "tracks MSAF answered")
    parser.add_argument("--msaf-work", type=Path, default=None, help="MSAF's scratch folder (default: a temp folder)")
    parser.add_argument("--feature", default="pcp", help="MSAF's feature (pcp, mfcc, cqt, tonnetz, tempogram)")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS), help="MSAF boundary algorithms, comma-separated")
    parser.add_argument("--edge-s", type=float, default=1.0, help="MSAF boundaries this close to the ends are dropped")
    parser.add_argument("--keep-edges", action="store_true", help="score MSAF's boundaries as returned")
    parser.add_argument("--held-out", action="store_true", help="also the devset's held-out split (read it once)")
    parser.add_argument("--real", type=Path, default=None,
                        help="unlabelled music: agreement of our suggestions with MSAF (no truth: not accuracy)")
    parser.add_argument("--real-library-dir", type=Path, default=None, help="library of --real (written to)")
    parser.add_argument("--real-min-s", type=float, default=30.0, help="with --real: shorter files (loops) are skipped")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    if args.real is not None and args.real_library_dir is None:
        parser.error("--real needs --real-library-dir (a scratch folder: the scan and embeddings are written there)")
    algorithms = [a for a in args.algorithms.split(",") if a]
    if bad := [a for a in algorithms if a not in ALGORITHMS]:
        parser.error(f"--algorithms: {bad} not allowed; allowed: {', '.join(ALGORITHMS)}")
    edge_s = -1.0 if args.keep_edges else args.edge_s
    if not args.cache_only and not Path(args.msaf_python).exists():
        print(f"MSAF is absent ({args.msaf_python} not found): its rows show '-'. Make its venv as "
              "benchmarks/README.md says ('Section boundaries against MSAF') or pass --msaf-python.", file=sys.stderr)

    t0 = time.perf_counter()
    lib_dir = args.library_dir or args.devset.with_name(args.devset.name + "-lib")
    dev_data, split = devset_data(args.devset, library_dir=lib_dir)
    path_of = library_paths(Path(lib_dir) / "workbench.db", offset=DEVSET_ID_OFFSET)
    dev_ids = [t for t, s in split.items() if s == "dev"]
    held_ids = [t for t, s in split.items() if s == "held_out"]
    sets = {"devset LOSO, dev": (dev_data.subset(dev_ids), None)}
    if args.held_out:
        sets["devset LOSO, held-out"] = (dev_data, held_ids)
    if args.demo_dir is not None:
        from bench_sections import demo_data

        sets["demo LOSO"] = (demo_data(args.n_tracks, seed=args.seed, folder=args.demo_dir), None)
        path_of.update(library_paths(args.demo_dir / "workbench.db"))
    else:
        print("no --demo-dir: the demo library's tracks are left out", file=sys.stderr)
    kept = json.loads(args.ours_cache.read_text()) if args.ours_cache and args.ours_cache.exists() else {}
    ours = {}
    for name, (data, test) in sets.items():
        key = f"{name}, seed {args.seed}"
        if key in kept:
            ours[name] = {int(t): v for t, v in kept[key].items()}
            continue
        t1 = time.perf_counter()
        ours[name] = kept[key] = loso(data, seed=args.seed, test_tracks=test, sections=True)[1]
        print(f"{name}: our leave-one-style-out run, {len(ours[name])} tracks scored, "
              f"{time.perf_counter() - t1:.0f} s", file=sys.stderr)
    if args.ours_cache:
        args.ours_cache.write_text(json.dumps(kept, default=float) + "\n")
    paths = sorted({path_of[t] for secs in ours.values() for t in secs if t in path_of})
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        answers = msaf_side(paths, python="" if args.cache_only else args.msaf_python,
                            work=args.msaf_work or Path(tmp), feature=args.feature, algorithms=algorithms,
                            cache=args.msaf_cache)
    cols = {name: column(sets[name][0], ours[name], path_of, answers, algorithms=algorithms, edge_s=edge_s)
            for name in sets}
    systems = [*OURS, *(f"MSAF {a}" for a in algorithms)]
    scored = {k: v for k, v in cols.items() if k != "devset LOSO, held-out"}
    edges = "as returned" if args.keep_edges else f"boundaries within {args.edge_s:g} s of the ends dropped"
    print(f"\nSection boundaries, mean per track (mir_eval, first and last boundary trimmed); MSAF on its own "
          f"'{args.feature}' features and beats, defaults, {edges}; ours seed {args.seed}\n")
    print(markdown_table(scored, systems))
    print("\nmedian signed offset of the hits within 3 s (s, estimated minus truth): " + "; ".join(
        f"{c}: " + ", ".join(f"{s} {col[s]['median_offset_s']:+.2f}" for s in systems if s in col)
        for c, col in scored.items()))
    for name, col in cols.items():
        if col["truth"]["not_run"]:
            print(f"{name}: MSAF has not answered {col['truth']['not_run']} of the tracks; every row is scored on "
                  f"the {col['truth']['tracks']} it answered", file=sys.stderr)
    if args.held_out:
        print("\nheld-out split (never tuned on; our model trained on the other styles' dev tracks)\n")
        print(markdown_table({"devset LOSO, held-out": cols["devset LOSO, held-out"]}, systems))
    out: dict[str, Any] = {}
    if args.real is not None:
        out["real_agreement"] = run_real(args, sets, algorithms=algorithms, edge_s=edge_s)
    secs = [s for a in answers.values() for s in [a["feature_seconds"] + sum(a["seconds"].values())]]
    print(f"\n({time.perf_counter() - t0:.0f} s in all; MSAF {sum(secs):.0f} s over {len(secs)} files, features "
          "and every algorithm)")
    if args.json:
        out = {**out, "seed": args.seed, "feature": args.feature, "algorithms": algorithms, "edges": edges,
               "columns": {c: {s: {k: v for k, v in r.items() if k != "per_track"} for s, r in col.items()}
                           for c, col in cols.items()},
               "per_track": {c: {s: {str(t): v for t, v in r.get("per_track", {}).items()} for s, r in col.items()}
                             for c, col in cols.items()}}
        args.json.write_text(json.dumps(out, indent=1, default=float) + "\n")


def run_real(args: argparse.Namespace, sets: Mapping[str, Any], *, algorithms: Sequence[str], edge_s: float
             ) -> dict[str, dict[str, Any]]:
    """Train on the devset's dev split and the demo, suggest on ``args.real``, run MSAF there, print agreement."""
    from workbench.train.sections import SectionData

    train = [sets[k][0] for k in ("devset LOSO, dev", "demo LOSO") if k in sets]
    if len(train) == 2 and train[0].features == train[1].features and train[0].backbone == train[1].backbone:
        data = SectionData([*train[0].tracks, *train[1].tracks], train[0].features, train[0].backbone)
    else:
        data = train[0]
    t1 = time.perf_counter()
    ours = real_side(args.real, library_dir=args.real_library_dir, train=data, seed=args.seed, min_s=args.real_min_s)
    print(f"\n{args.real}: our model (trained on {len(data.tracks)} labelled tracks) on {len(ours)} files "
          f"of at least {args.real_min_s:g} s in {time.perf_counter() - t1:.0f} s", file=sys.stderr)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        answers = msaf_side(sorted(p for p, r in ours.items() if "error" not in r),
                            python="" if args.cache_only else args.msaf_python,
                            work=args.msaf_work or Path(tmp), feature=args.feature, algorithms=algorithms,
                            cache=args.msaf_cache)
    agree = real_agreement(ours, answers, algorithms=algorithms, edge_s=edge_s)
    print(f"\n{args.real}: AGREEMENT, not accuracy (no truth): boundary F @3 s of one system against the other, "
          f"mean over the files both answered; our model trained on {len(data.tracks)} labelled tracks "
          "(devset dev + demo)\n")
    print("| pair | files | F @3 s agreement |\n|---|---|---|")
    for k, v in agree.items():
        if k != "boundaries per track":
            print(f"| {k} | {v['tracks']} | {v['f3']:.3f} |")
    print("\ninner boundaries per track: " + ", ".join(f"{k} {v:.1f}" for k, v in agree["boundaries per track"].items()))
    failed = {p: r["error"] for p, r in ours.items() if "error" in r}
    if failed:
        print(f"our side failed on {len(failed)} file(s): {failed}", file=sys.stderr)
    return {**agree, "failed": failed}


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
