"""Benchmark: the library search's window-set index, exact brute force vs pruned exact vs FAISS window candidates.

``LibrarySearch`` holds each track as a set of up to 24 unit window vectors
(:mod:`workbench.similarity.sets`); a query is scored against every window of every track. This
script builds a synthetic library of such sets with BPM / key / energy and times, per id query (the
same queries for every method, after two warm-ups; the methods interleaved):

* ``exact``: ``TrackSetIndex.similar(method="exact")``: every window scored (numpy). **The baseline.**
* ``pruned``: ``method="pruned"`` (:mod:`workbench.similarity.sets_search`: cone bounds per track,
  then exact rescoring of the tracks they cannot rule out). Compared with ``exact`` on every query
  (same ids, order, scores: ``identical``).
* ``faiss-flat``: the peer's way: FAISS ``IndexFlatIP`` over all windows, the ``--per-window`` nearest
  windows of each query window, their tracks rescored exactly (same set score). Approximate (a track
  can score well without owning one of those windows, and metadata is not looked at); recall@k
  against ``exact`` printed.
* ``faiss-hnsw``: the same with ``IndexHNSWFlat`` (M=32, efSearch=128).

Data: ``--groups`` centres; a track = its group's centre + track noise; its windows = the track's
vector + window noise (``clustered``: cosine window-to-track ~0.89, track-to-centre ~0.7;
``tight``: ~0.96 and ~0.86), or ``uniform`` (every window random). Window counts 8..24 per track (the index keeps at most 24).
Latency is the CPU time of the process per query (median; OpenBLAS and FAISS on one thread), which
is steadier than wall time on a shared machine.

Usage::

    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_search_sets.py --tracks 20000 --dim 128
    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_search_sets.py --tracks 10000 --dim 512 --cones 1,2
    # the issue's scale: 3.3 GB of windows (+1.6 GB in bf16), peak ~7 GiB; libraries kept in --cache
    NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_search_sets.py --tracks 100000 --dim 512 \
        --kinds clustered,uniform,tight --cones 1 --queries 20 --no-faiss --cache /tmp/es_cache
    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_search_sets.py --kernels --dim 512  # first-pass products

Targets (issue 17): exact top-k at least 10x faster than brute force on clustered data and at least
2x on unclustered data, identical to brute force.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # torch's bf16 pass (sets_lowp) on one thread too

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_library(kind: str, *, tracks: int, dim: int, groups: int, seed: int, cache: str | None = None,
                 block: int = 4096):
    """A synthetic window-set index (see the module docstring), generated a block of tracks at a time
    (100,000 tracks x 512-d: 3.3 GB of float32 windows, never a float64 copy of them); with ``cache``, saved
    there and loaded from there the next time (same arguments). ``block``: tracks generated at a time (the
    random stream, so the library, does not depend on it)."""
    from workbench.similarity.sets import TrackSetIndex
    from workbench.similarity.sets_store import index_from_arrays

    folder = Path(cache) / f"{kind}-{tracks}-{dim}-{groups}-{seed}" if cache else None
    if folder is not None and (folder / "track-sets.json").exists():
        return TrackSetIndex.load(folder)
    rng = np.random.default_rng(seed)
    counts = rng.integers(8, 25, size=tracks)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    group = rng.integers(0, groups, size=tracks)
    windows = np.empty((int(offsets[-1]), dim), np.float32)
    if kind in ("clustered", "tight"):
        spread = 1.0 if kind == "clustered" else 0.6
        centres = rng.normal(size=(groups, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        track_vec = centres[group] + rng.normal(scale=spread / np.sqrt(dim), size=(tracks, dim)).astype(np.float32)
        track_vec /= np.linalg.norm(track_vec, axis=1, keepdims=True)
        for a in range(0, tracks, block):
            b = min(tracks, a + block)
            s, e = offsets[a], offsets[b]
            windows[s:e] = np.repeat(track_vec[a:b], counts[a:b], axis=0)
            windows[s:e] += rng.normal(scale=0.5 * spread / np.sqrt(dim), size=(e - s, dim)).astype(np.float32)
        bpm = 100.0 + 4.0 * (group % 12) + rng.normal(scale=2.0, size=tracks)
        energy = 1 + (group % 10)
    elif kind == "uniform":
        for a in range(0, windows.shape[0], block * 16):
            b = min(windows.shape[0], a + block * 16)
            windows[a:b] = rng.normal(size=(b - a, dim))
        bpm = rng.uniform(80, 170, size=tracks)
        energy = rng.integers(1, 11, size=tracks)
    else:
        raise SystemExit(f"kind must be clustered, tight or uniform; got {kind!r}")
    key = rng.integers(0, 24, size=tracks)
    bpm[rng.random(tracks) < 0.05] = np.nan  # a few tracks with no beat
    index = index_from_arrays(TrackSetIndex, np.arange(1, tracks + 1), windows, offsets, bpm=bpm, key=key,
                              energy=energy)
    del windows
    index.calibrate(max_queries=100, seed=seed)
    if folder is not None:
        index.save(folder)
    return index


def faiss_candidates(index, faiss_index, track_of: np.ndarray, query: int, *, k: int, per_window: int, weights):
    """Top-k from FAISS window neighbours, rescored exactly (the peer's approach)."""
    r = index._resolve(query)
    _, labels = faiss_index.search(np.ascontiguousarray(r.q, dtype=np.float32), per_window)
    rows = np.unique(track_of[labels[labels >= 0]])
    rows = rows[rows != r.self_row]
    from workbench.similarity.scores import Weights
    from workbench.similarity.scoring import top_k_order

    w = Weights() if weights is None else Weights.coerce(weights)
    score = index._terms(r, w, rows, index._calibrated(index._raw(r.q, r.qw, symmetric=r.symmetric, rows=rows)))["score"]
    order = top_k_order(score, index._ids[rows], k)
    return [int(i) for i in index._ids[rows][order]]


def cone_share(index, bounds, query: int, weights, kth: float) -> float:
    """Share of the tracks whose cone bound (combined score) reaches the exact k-th best score: what the
    cones alone cannot rule out."""
    from workbench.similarity.scores import Weights

    r = index._resolve(query)
    w = Weights() if weights is None else Weights.coerce(weights)
    rows = np.arange(len(index))
    upper = index._terms(r, w, rows, index._calibrated(bounds.vibe_upper(r.q, r.qw, symmetric=r.symmetric)))["score"]
    upper[r.self_row] = -np.inf
    return float(np.mean(upper >= kth))


def kernel_floor(*, dim: int, windows: int = 192_000, m: int = 16, seed: int = 0) -> list[dict]:
    """CPU ms of the products a first pass could use, one thread: ``m`` query windows by ``windows``
    library windows in float32 (numpy: the scan's), bfloat16 and int8 (torch), and gathering half the
    windows (what a pass over only the tracks the cones leave would copy first)."""
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(windows, dim)).astype(np.float32)
    q = rng.normal(size=(m, dim)).astype(np.float32)
    xb, qb = torch.from_numpy(x).bfloat16(), torch.from_numpy(q).bfloat16()
    xi = torch.randint(-127, 128, (dim, windows), dtype=torch.int8)
    qi = torch.randint(-127, 128, (m, dim), dtype=torch.int8)
    half = torch.from_numpy(np.sort(rng.choice(windows, windows // 2, replace=False)))
    cases = {"float32 product (numpy)": lambda: q @ x.T, "bfloat16 product (torch)": lambda: qb @ xb.T,
             "int8 product (torch._int_mm)": lambda: torch._int_mm(qi, xi),
             "gather half the bf16 windows": lambda: xb.index_select(0, half)}
    out = []
    for name, fn in cases.items():
        fn()
        ts = []
        for _ in range(5):
            _, t = cpu_time(fn)
            ts.append(t)
        out.append({"kernel": name, "ms": 1000 * statistics.median(ts), "windows": windows, "dim": dim, "m": m})
    return out


def cpu_time(fn):
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def run_case(kind: str, args, cones_list: list[int]) -> list[dict]:
    index = make_library(kind, tracks=args.tracks, dim=args.dim, groups=args.groups, seed=args.seed,
                         cache=args.cache)
    n_windows = int(index._windows.shape[0])
    track_of = np.repeat(np.arange(len(index)), np.diff(index._offsets))
    peers = {}
    if not args.no_faiss:
        import faiss

        faiss.omp_set_num_threads(1)
        t0 = time.process_time()
        flat = faiss.IndexFlatIP(args.dim)
        flat.add(index._windows)
        peers["faiss-flat"] = (flat, time.process_time() - t0)
    if not args.no_hnsw and not args.no_faiss:
        import faiss

        t0 = time.process_time()
        hnsw = faiss.IndexHNSWFlat(args.dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = 128
        hnsw.add(index._windows)
        peers["faiss-hnsw"] = (hnsw, time.process_time() - t0)
    bounds = {}
    for c in cones_list:
        t0 = time.process_time()
        index._bounds = None
        bounds[c] = index.bounds(cones=c)
        bounds[c] = (bounds[c], time.process_time() - t0)
    rows = []
    sets = {"default": None, "vibe": {"vibe": 1, "tempo": 0, "key": 0, "energy": 0}}
    for weights_name in args.weights.split(","):
        weights = sets[weights_name]
        rows += time_queries(index, args, kind, weights_name, weights, bounds, peers, track_of, n_windows)
    return rows


def time_queries(index, args, kind: str, weights_name: str, weights, bounds: dict, peers: dict,
                 track_of: np.ndarray, n_windows: int) -> list[dict]:
    cones_list = list(bounds)
    rng = np.random.default_rng(args.seed + 1)
    queries = [int(q) for q in rng.choice(index._ids, size=args.queries + 2, replace=False)]
    times: dict[str, list[float]] = {"exact": [], **{f"pruned c={c}": [] for c in cones_list}, **{p: [] for p in peers}}
    identical = {c: 0 for c in cones_list}
    scored = {c: [] for c in cones_list}
    cone_left = {c: [] for c in cones_list}
    recall = {p: [] for p in peers}
    for i, q in enumerate(queries):
        truth, t = cpu_time(lambda q=q: index.similar(q, k=args.k, weights=weights, method="exact"))
        warm = i >= 2
        if warm:
            times["exact"].append(t)
        for c in cones_list:
            index.use_bounds(bounds[c][0])
            got, t = cpu_time(lambda q=q: index.similar(q, k=args.k, weights=weights, method="pruned"))
            if warm:
                times[f"pruned c={c}"].append(t)
                identical[c] += [(m.id, m.score) for m in got] == [(m.id, m.score) for m in truth]
                scored[c].append(index.last_search.scored)
                if truth and len(truth) == args.k:
                    cone_left[c].append(cone_share(index, bounds[c][0], q, weights, truth[-1].score))
        want = {m.id for m in truth}
        for p, (fi, _) in peers.items():
            got, t = cpu_time(lambda fi=fi, q=q: faiss_candidates(index, fi, track_of, q, k=args.k, per_window=args.per_window,
                                                       weights=weights))
            if warm:
                times[p].append(t)
                recall[p].append(len(want & set(got)) / max(1, len(want)))
    base = statistics.median(times["exact"])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        row = {"kind": kind, "weights": weights_name, "tracks": args.tracks, "windows": n_windows, "dim": args.dim,
               "method": name, "ms_per_query": 1000 * med, "speedup": base / med}
        if name.startswith("pruned"):
            c = int(name.split("=")[1])
            row |= {"identical": f"{identical[c]}/{len(ts)}", "tracks_scored": statistics.median(scored[c]),
                    "build_s": bounds[c][1],
                    "cone_share": statistics.median(cone_left[c]) if cone_left[c] else float("nan")}
        elif name in peers:
            row |= {"recall_at_k": statistics.mean(recall[name]), "build_s": peers[name][1]}
        rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--kinds", default="clustered,tight,uniform")
    ap.add_argument("--cones", default="1,2")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--per-window", type=int, default=64, help="FAISS neighbours per query window (peers)")
    ap.add_argument("--no-hnsw", action="store_true")
    ap.add_argument("--no-faiss", action="store_true", help="no FAISS peers (the flat one copies every window)")
    ap.add_argument("--weights", default="default,vibe", help="weight sets timed: default, vibe")
    ap.add_argument("--kernels", action="store_true", help="only time the first-pass products (kernel_floor)")
    ap.add_argument("--cache", default=None, help="folder to keep generated libraries in (reused on the next run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    cones = [int(c) for c in args.cones.split(",")]
    if args.kernels:
        for r in kernel_floor(dim=args.dim):
            print(f"{r['kernel']:<40}{r['ms']:>8.1f} ms  ({r['m']} x {r['dim']} by {r['windows']} windows)", flush=True)
        print(f"load {os.getloadavg()[0]:.1f}")
        return 0
    all_rows = []
    for kind in args.kinds.split(","):
        rows = run_case(kind, args, cones)
        all_rows += rows
        for r in rows:
            extra = (f"identical {r['identical']}, tracks scored {r['tracks_scored']:.0f}, cones leave "
                     f"{r['cone_share']:.2f}, build {r['build_s']:.1f} s"
                     if "identical" in r else
                     f"recall@{args.k} {r['recall_at_k']:.3f}, build {r['build_s']:.1f} s" if "recall_at_k" in r
                     else "baseline")
            print(f"{kind:<10}{r['weights']:<8}{r['tracks']:>7} tracks {r['windows']:>8} windows d={r['dim']:<4} "
                  f"{r['method']:<12}{r['ms_per_query']:>9.2f} ms {r['speedup']:>6.1f}x  {extra}", flush=True)
    import resource

    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(all_rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
