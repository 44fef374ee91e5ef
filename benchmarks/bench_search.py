"""Benchmark: exact top-k similarity search with pruning vs brute force, FAISS flat and HNSW.

For each case (library size, data kind, weights) it builds one library of synthetic
L2-normalised float32 embeddings with BPM / key / energy and times, per query (id queries, the
same ones for every method, ``--queries`` of them after two warm-up queries):

* ``brute``: :meth:`SimilarityIndex.brute_force`, numpy: the exact combined score of every
  track (einsum + tempo/key/energy) and the top k (score, then id). **The baseline.**
* ``matmul``: ``emb @ q`` plus ``argpartition``: the floor of any numpy brute force (vibe only,
  no metadata, no tie order).
* ``faiss-flat``: FAISS ``IndexFlatIP.search(q, k)`` alone (vibe only): the peer's exact scan.
* ``flat-scan``: ``SimilarityIndex(kind="flat").similar`` without the partition: the exact path
  before pruning (one FAISS flat scan, then the bound and metadata rescoring).
* ``pruned``: ``similar`` with the partition (:mod:`workbench.similarity.pruned`): clusters
  visited by their bound on the combined score, else a float16 pass with a bounded error.
  Its results are compared with ``brute`` on every query (same ids, same scores, same order).
* ``hnsw``: ``SimilarityIndex(kind="hnsw")`` (approximate), with its recall@k against brute.

Data kinds:

* ``clustered``: the generator of ``bench_similarity.py``: 200 centres + isotropic noise of
  norm ~0.9 (cosine to the own centre ~0.74, to another track of the cluster ~0.55); tempo and
  energy tied to the cluster;
* ``tight``: the same with noise of norm ~0.34 (cosine to the own centre ~0.95);
* ``uniform``: isotropic random unit vectors (every cosine ~0 +- 0.04), random metadata.

Queries run single-threaded (OpenBLAS on one thread, so ``matmul`` too; FAISS on
``--faiss-threads`` while querying, default 1; builds use FAISS's default threads). Latency is the **CPU time** of the process per
query (median), which on a loaded shared machine is far steadier than wall time; the methods are
interleaved (every method answers query i before any answers query i+1), and the wall-clock
ratio brute/pruned is printed too. Memory is
what the partition adds to the index (float32 copy in cluster order, metadata, and the
float16 copy once the compressed pass has been used).

Usage::

    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_search.py            # 100k, all kinds
    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_search.py --sizes 20k --queries 50

Targets: at 100k, pruned >= 10x faster than brute on clustered data and >= 2x on uniform data,
identical to brute force on every query.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # single-threaded numpy matmul (before numpy loads)

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.similarity import (  # noqa: E402
    CAMELOT_CODES,
    SimilarityIndex,
    search_exact,  # noqa: E402
)

_GENRE_TEMPI = np.array([90.0, 120.0, 122.0, 124.0, 126.0, 128.0, 130.0, 140.0, 150.0, 174.0])
_SPREAD = {"clustered": 0.04, "tight": 0.015}
_WEIGHTS = {"combined": None, "vibe": {"vibe": 1.0, "tempo": 0.0, "key": 0.0, "energy": 0.0}}


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def synthetic_library(n: int, dim: int, data: str, seed: int) -> dict:
    """ids, embeddings (n, dim) float32, bpm, camelot, energy; seeded (as in bench_similarity.py)."""
    rng = np.random.default_rng(seed)
    emb = np.empty((n, dim), dtype=np.float32)
    labels = None
    if data in _SPREAD:
        n_clusters = 200
        centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        labels = rng.integers(0, n_clusters, n)
        sigma = np.float32(_SPREAD[data] * np.sqrt(512 / dim))
        base_bpm = rng.choice(_GENRE_TEMPI, n_clusters)
        base_energy = rng.integers(2, 10, n_clusters)
        bpm = base_bpm[labels] + rng.normal(0.0, 2.0, n)
        energy = np.clip(base_energy[labels] + rng.integers(-2, 3, n), 1, 10)
    else:
        bpm = rng.uniform(70.0, 180.0, n)
        energy = rng.integers(1, 11, n)
    for start in range(0, n, 65536):
        stop = min(n, start + 65536)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        emb[start:stop] = noise if labels is None else centres[labels[start:stop]] + sigma * noise
    keys = rng.integers(0, 24, n)
    return {"ids": np.arange(n, dtype=np.int64) + 1_000_000, "embeddings": emb, "bpm": np.round(bpm, 2),
            "camelot": [CAMELOT_CODES[i] for i in keys], "energy": energy.astype(np.int64)}


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def cpu_timed(fn, *args):
    """(result, CPU seconds of this process, wall seconds): CPU time is what a query costs on an
    idle core; wall time also counts the time other processes held the core."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.process_time() - c0, time.perf_counter() - w0


def run_case(data: str, n: int, args: argparse.Namespace) -> list[dict]:
    import faiss

    lib = synthetic_library(n, args.dim, data, args.seed)
    saved_min = search_exact.PRUNE_MIN_ROWS
    scan_index, t_flat = timed(SimilarityIndex, **lib, kind="flat")
    pruned_index = SimilarityIndex(**lib, kind="flat")
    c0 = time.process_time()
    _, t_part = timed(pruned_index.build_partition, seed=args.seed)
    cpu_part = time.process_time() - c0
    hnsw = None
    t_hnsw = float("nan")
    if not args.no_hnsw:
        hnsw, t_hnsw = timed(SimilarityIndex, **lib, kind="hnsw", hnsw_m=args.hnsw_m,
                             ef_construction=args.ef_construction, ef_search=args.ef_search)
    emb = pruned_index._vectors()
    raw = faiss.IndexFlatIP(args.dim)
    raw.add(emb)
    rng = np.random.default_rng(args.seed + 1)
    queries = rng.choice(lib["ids"], size=min(n, args.queries + 2), replace=False).tolist()
    rows = [int(q) - 1_000_000 for q in queries]
    del lib
    gc.collect()
    build_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(args.faiss_threads)
    out = []
    try:
        for wname in args.weights.split(","):
            weights = _WEIGHTS[wname]
            paths: dict[str, int] = {}

            def run_scan(q, weights=weights):
                search_exact.PRUNE_MIN_ROWS = 1 << 62  # the previous exact path: never partition
                try:
                    return scan_index.similar(q, k=args.k, weights=weights)
                finally:
                    search_exact.PRUNE_MIN_ROWS = saved_min

            def run_pruned(q, weights=weights):
                search_exact.PRUNE_MIN_ROWS = 0  # the partition is built: use it at every size
                try:
                    res = pruned_index.similar(q, k=args.k, weights=weights)
                finally:
                    search_exact.PRUNE_MIN_ROWS = saved_min
                stats = pruned_index.last_search
                return res, stats.path, stats.candidates + stats.rescored

            methods = {
                "brute": lambda q, r, weights=weights: scan_index.brute_force(q, k=args.k, weights=weights),
                "flat": lambda q, r: run_scan(q),
                "pruned": lambda q, r: run_pruned(q),
                "matmul": lambda q, r: np.argpartition(-(emb @ emb[r]), args.k)[:args.k],
                "faiss": lambda q, r: raw.search(emb[r][None, :], args.k),
            }
            if hnsw is not None:
                methods["hnsw"] = lambda q, r, weights=weights: hnsw.similar(q, k=args.k, weights=weights)
            lat: dict[str, list[float]] = {name: [] for name in methods}
            wall: dict[str, list[float]] = {name: [] for name in methods}
            res: dict[str, list] = {name: [] for name in methods}
            # Interleaved: every method answers query i before any answers query i+1, so load
            # that comes and goes on a shared machine hits all of them alike.
            for i, (q, r) in enumerate(zip(queries, rows, strict=True)):
                for name, fn in methods.items():
                    got, cpu, dt = cpu_timed(fn, q, r)
                    if i >= 2:  # two warm-up queries
                        lat[name].append(cpu)
                        wall[name].append(dt)
                        res[name].append(got)
            want = res["brute"]
            scored = []
            for _, path, count in res["pruned"]:
                paths[path] = paths.get(path, 0) + 1
                scored.append(count)
            exact = sum([(m.id, m.score) for m in a[0]] == [(m.id, m.score) for m in b]
                        for a, b in zip(res["pruned"], want, strict=True))
            recall = float("nan")
            if hnsw is not None:
                recall = float(np.mean([len({m.id for m in a} & {m.id for m in b}) / max(1, len(b))
                                        for a, b in zip(res["hnsw"], want, strict=True)]))
            med = {name: statistics.median(v) * 1e3 for name, v in lat.items()}
            out.append({
                "data": data, "n": n, "dim": args.dim, "weights": wname, "queries": len(want),
                "brute_ms": med["brute"], "matmul_ms": med["matmul"], "faiss_flat_ms": med["faiss"],
                "flat_scan_ms": med["flat"], "pruned_ms": med["pruned"],
                "pruned_p95_ms": float(np.percentile(lat["pruned"], 95)) * 1e3,
                "brute_wall_ms": statistics.median(wall["brute"]) * 1e3,
                "pruned_wall_ms": statistics.median(wall["pruned"]) * 1e3,
                "hnsw_ms": med.get("hnsw", float("nan")), "hnsw_recall": recall,
                "exact": exact, "paths": paths, "scored_median": int(np.median(scored)),
                "flat_build_s": t_flat, "partition_build_s": t_part, "partition_build_cpu_s": cpu_part, "hnsw_build_s": t_hnsw,
                "partition_mb": pruned_index.partition.nbytes / 2**20, "vectors_mb": emb.nbytes / 2**20,
                "clusters": pruned_index.partition.n_clusters,
            })
    finally:
        search_exact.PRUNE_MIN_ROWS = saved_min
        faiss.omp_set_num_threads(build_threads)
    return out


def print_table(rows: list[dict]) -> None:
    head = (f"{'data':<10}{'n':>8}{'dim':>5} {'weights':<9}{'brute':>8}{'matmul':>8}{'faiss':>8}{'flat':>8}"
            f"{'pruned':>8}{'x brute':>8}{'exact':>9}{'hnsw':>8}{'recall':>7}{'build s':>8}{'MB':>6}"
            f"{'wall x':>8}  paths (rows scored)")
    print("CPU ms/query (median)" + " " * 17 + "numpy   numpy  FAISS   scan")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['data']:<10}{r['n']:>8,}{r['dim']:>5} {r['weights']:<9}{r['brute_ms']:>8.2f}{r['matmul_ms']:>8.2f}"
              f"{r['faiss_flat_ms']:>8.2f}{r['flat_scan_ms']:>8.2f}{r['pruned_ms']:>8.2f}"
              f"{r['brute_ms'] / r['pruned_ms']:>7.1f}x{r['exact']:>5}/{r['queries']:<3}{r['hnsw_ms']:>8.2f}"
              f"{r['hnsw_recall']:>7.3f}{r['partition_build_s']:>8.2f}{r['partition_mb']:>6.0f}"
              f"{r['brute_wall_ms'] / r['pruned_wall_ms']:>7.1f}x  "
              f"{r['paths']} ({r['scored_median']})")
    for r in rows:
        if r["weights"] == rows[0]["weights"]:
            print(f"partition build {r['data']} {r['n']:,}: {r['clusters']} clusters, {r['partition_build_s']:.2f} s wall, "
                  f"{r['partition_build_cpu_s']:.2f} s CPU = {r['partition_build_cpu_s'] * 1e3 / r['brute_ms']:.0f} brute "
                  f"queries; vectors {r['vectors_mb']:.0f} MB, partition +{r['partition_mb']:.0f} MB")
    print("\nbrute: numpy combined score of every track + top k (the baseline); matmul: emb @ q + argpartition "
          "(vibe only); faiss: IndexFlatIP.search (vibe only); flat: the exact path without partition; "
          "pruned: with it (exact = same ids, scores and order as brute); hnsw: approximate, recall@k vs brute; "
          "build s / MB: the partition (k-means, copies) on top of the flat index (wall s; MB once the float16 "
          "lists exist); wall x: brute / pruned in wall-clock time (inflated by other processes alike).")


def print_targets(rows: list[dict]) -> None:
    print("\nTargets (100k, combined score):")
    for data, need in (("clustered", 10.0), ("tight", 10.0), ("uniform", 2.0)):
        for r in rows:
            if r["data"] == data and r["n"] == 100_000 and r["weights"] == "combined":
                speed = r["brute_ms"] / r["pruned_ms"]
                ok = speed >= need and r["exact"] == r["queries"]
                print(f"  {data:<10} pruned {speed:.1f}x brute (target >= {need:.0f}x), exact "
                      f"{r['exact']}/{r['queries']} [{'PASS' if ok else 'FAIL'}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100k", help="comma-separated sizes, e.g. 20k,100k")
    parser.add_argument("--data", default="clustered,tight,uniform")
    parser.add_argument("--weights", default="combined,vibe", help="combined (defaults) and/or vibe (vibe only)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--faiss-threads", type=int, default=1)
    parser.add_argument("--no-hnsw", action="store_true", help="skip the HNSW reference (slow to build)")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=40)
    parser.add_argument("--ef-search", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import faiss

    print(f"faiss {faiss.__version__} ({args.faiss_threads} thread(s) to query), numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, k={args.k}, {args.queries} queries, load average {_load()}")
    rows: list[dict] = []
    for n in (parse_size(s) for s in args.sizes.split(",") if s.strip()):
        for data in (d.strip() for d in args.data.split(",") if d.strip()):
            t0 = time.perf_counter()
            rows.extend(run_case(data, n, args))
            print(f"  [{data} {n:,} done in {time.perf_counter() - t0:.0f} s, load {_load()}]", file=sys.stderr, flush=True)
    print()
    print_table(rows)
    print_targets(rows)
    print(f"\nload average at the end: {_load()} (2 shared cores: other processes inflate every number)")
    return 0


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


if __name__ == "__main__":
    raise SystemExit(main())
