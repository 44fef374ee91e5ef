"""Benchmark: combined-score similarity search, FAISS flat / HNSW vs the numpy brute force.

For each library size (synthetic 512-d float32 embeddings with random BPM / key / energy) it
builds a flat (exact) and an HNSW index, runs the same id queries (k=10, default weights)
through ``SimilarityIndex.similar`` on both and through ``SimilarityIndex.brute_force`` (the
numpy baseline: full combined score for every track), and prints build time, median / p95
latency, speedup over brute force, whether the flat results equal brute force (they must), and
HNSW recall@10 against the exact answer. Each method answers all queries back to back after
two warm-up queries; ``hnsw-cold`` repeats the HNSW queries with the CPU caches flushed before
each one (the pessimistic case: a query arriving after unrelated work). ``scan`` is the floor
of any numpy brute force: one float32 pass ``einsum("ij,j->i", embeddings, q)`` over the
library and nothing else (no metadata, no top-k).

FAISS parallelises even a single query over its OpenMP threads; on a small VM that can make a
single-query flat search slower, not faster (idle OpenMP workers have to be woken for every
call). ``--faiss-threads 1`` measures the single-threaded search; the default leaves FAISS's
setting alone.

Two kinds of data:

* ``clustered`` (realistic): 200 "genre" centres + noise (cosine to the own centre ~0.5),
  tempo and energy loosely tied to the cluster; the best vibe candidates are meaningful: one
  FAISS fetch plus exact rescoring of the few hundred tracks whose metadata alone could still
  lift them into the top k settles the query.
* ``uniform`` (pathological): isotropic random vectors; every cosine is ~0 +- 0.04, vibe says
  nothing, the metadata decides, HNSW recall suffers.

Usage::

    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_similarity.py            # 1k,100k,1m
    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_similarity.py --sizes 1k,100k

Targets (stated in the output): at 100k a combined query >= 10x faster than brute force; at 1k
under 10 ms per query.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.similarity import CAMELOT_CODES, SimilarityIndex  # noqa: E402

_GENRE_TEMPI = np.array([90.0, 120.0, 122.0, 124.0, 126.0, 128.0, 130.0, 140.0, 150.0, 174.0])


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = 1
    if text.endswith("k"):
        mult, text = 1_000, text[:-1]
    elif text.endswith("m"):
        mult, text = 1_000_000, text[:-1]
    return int(float(text) * mult)


def synthetic_library(n: int, dim: int, data: str, seed: int) -> dict:
    """ids, embeddings (n, dim) float32, bpm, camelot, energy; seeded, generated in chunks."""
    rng = np.random.default_rng(seed)
    emb = np.empty((n, dim), dtype=np.float32)
    if data == "clustered":
        n_clusters = 200
        centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        labels = rng.integers(0, n_clusters, n)
        sigma = np.float32(0.04 * np.sqrt(512 / dim))  # noise norm ~0.9: cosine to own centre ~0.5-0.6
        base_bpm = rng.choice(_GENRE_TEMPI, n_clusters)
        base_energy = rng.integers(2, 10, n_clusters)
        bpm = base_bpm[labels] + rng.normal(0.0, 2.0, n)
        energy = np.clip(base_energy[labels] + rng.integers(-2, 3, n), 1, 10)
    else:
        labels = None
        bpm = rng.uniform(70.0, 180.0, n)
        energy = rng.integers(1, 11, n)
    for start in range(0, n, 65536):
        stop = min(n, start + 65536)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        emb[start:stop] = noise if labels is None else centres[labels[start:stop]] + sigma * noise
    keys = rng.integers(0, 24, n)
    return {
        "ids": np.arange(n, dtype=np.int64) + 1_000_000,
        "embeddings": emb,
        "bpm": np.round(bpm, 2),
        "camelot": [CAMELOT_CODES[i] for i in keys],
        "energy": energy.astype(np.int64),
    }


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_case(data: str, n: int, args: argparse.Namespace) -> list[dict]:
    lib = synthetic_library(n, args.dim, data, args.seed)
    flat, t_flat = timed(SimilarityIndex, **lib, kind="flat")
    hnsw, t_hnsw = timed(SimilarityIndex, **lib, kind="hnsw", hnsw_m=args.hnsw_m,
                         ef_construction=args.ef_construction, ef_search=args.ef_search)
    n_queries = args.queries if n < 1_000_000 else args.queries_large
    rng = np.random.default_rng(args.seed + 1)
    queries = rng.choice(lib["ids"], size=min(n, n_queries), replace=False).tolist()
    emb = lib["embeddings"]
    del lib
    gc.collect()

    import faiss

    build_threads = faiss.omp_get_max_threads()
    if args.faiss_threads is not None:
        faiss.omp_set_num_threads(args.faiss_threads)
    # Each method answers all queries back to back (as a service would), after two warm-up
    # queries. "hnsw-cold" repeats HNSW with the CPU caches flushed before every query.
    lat: dict[str, list[float]] = {"flat": [], "hnsw": [], "hnsw-cold": [], "brute": [], "scan": []}
    exact_ok, recall, flat_paths, hnsw_paths = 0, [], Counter(), Counter()
    rescored: dict[str, list[int]] = {"flat": [], "hnsw": []}
    want: dict[int, list] = {}
    for q in queries[:2]:
        flat.brute_force(q, k=args.k)
    for q in queries:
        want[q], dt = timed(flat.brute_force, q, k=args.k)
        lat["brute"].append(dt)
    for q in queries[:2]:
        flat.similar(q, k=args.k)
    for q in queries:
        got, dt = timed(flat.similar, q, k=args.k)
        lat["flat"].append(dt)
        flat_paths[flat.last_search.path] += 1
        rescored["flat"].append(flat.last_search.rescored)
        exact_ok += [(m.id, m.score) for m in got] == [(m.id, m.score) for m in want[q]]
    for q in queries[:2]:
        hnsw.similar(q, k=args.k)
    for q in queries:
        approx, dt = timed(hnsw.similar, q, k=args.k)
        lat["hnsw"].append(dt)
        hnsw_paths[hnsw.last_search.path] += 1
        rescored["hnsw"].append(hnsw.last_search.rescored)
        recall.append(len({m.id for m in approx} & {m.id for m in want[q]}) / max(1, len(want[q])))
    flush = np.ones(64_000_000, dtype=np.float32)  # 256 MB, larger than any CPU cache
    for q in queries:
        flush.sum()
        _, dt = timed(hnsw.similar, q, k=args.k)
        lat["hnsw-cold"].append(dt)
    del flush
    for q in queries:
        qvec = emb[q - 1_000_000]
        _, dt = timed(np.einsum, "ij,j->i", emb, qvec)
        lat["scan"].append(dt)
    faiss.omp_set_num_threads(build_threads)
    brute_ms = statistics.median(lat["brute"]) * 1e3
    rows = []
    for method, build_s in (("flat", t_flat), ("hnsw", t_hnsw), ("hnsw-cold", float("nan")),
                            ("brute", float("nan")), ("scan", float("nan"))):
        med = statistics.median(lat[method]) * 1e3
        note = ""
        if method == "flat":
            note = (f"exact {exact_ok}/{len(queries)}; paths {dict(flat_paths)}; "
                    f"median rescored {int(np.median(rescored['flat']))}")
        elif method == "hnsw":
            note = (f"recall@{args.k} {np.mean(recall):.3f} (min {min(recall):.1f}); paths {dict(hnsw_paths)}; "
                    f"median rescored {int(np.median(rescored['hnsw']))}")
        elif method == "hnsw-cold":
            note = "same HNSW queries, CPU caches flushed (256 MB streamed) before each"
        elif method == "scan":
            note = "floor: one float32 pass over the embeddings, nothing else"
        rows.append({"data": data, "n": n, "method": method, "build_s": build_s, "median_ms": med,
                     "p95_ms": pct(lat[method], 95) * 1e3, "speedup": brute_ms / med, "queries": len(queries),
                     "note": note})
    del flat, hnsw, emb
    gc.collect()
    return rows


def print_table(rows: list[dict]) -> None:
    header = f"{'data':<10}{'n':>9}  {'method':<10}{'build s':>9}{'median ms':>11}{'p95 ms':>9}{'x brute':>9}{'queries':>8}  note"
    print(header)
    print("-" * len(header))
    for r in rows:
        build = f"{r['build_s']:.2f}" if r["build_s"] == r["build_s"] else "-"
        print(f"{r['data']:<10}{r['n']:>9,}  {r['method']:<10}{build:>9}{r['median_ms']:>11.3f}{r['p95_ms']:>9.3f}"
              f"{r['speedup']:>8.1f}x{r['queries']:>8}  {r['note']}")


def print_targets(rows: list[dict]) -> None:
    def get(data: str, n: int, method: str) -> dict | None:
        return next((r for r in rows if r["data"] == data and r["n"] == n and r["method"] == method), None)

    print("\nTargets (clustered data):")
    r = get("clustered", 1_000, "flat")
    if r:
        print(f"  1k: combined query < 10 ms -> flat {r['median_ms']:.2f} ms "
              f"[{'PASS' if r['median_ms'] < 10 else 'FAIL'}]")
    for n in (100_000, 1_000_000):
        flat, hnsw, cold = (get("clustered", n, m) for m in ("flat", "hnsw", "hnsw-cold"))
        if flat and hnsw and cold:
            tag = f"{n // 1000}k" if n < 1_000_000 else "1M"
            print(f"  {tag}: combined query >= 10x faster than brute force -> kind='auto' (= hnsw) "
                  f"{hnsw['speedup']:.1f}x [{'PASS' if hnsw['speedup'] >= 10 else 'FAIL'}]; "
                  f"cold caches {cold['speedup']:.1f}x; "
                  f"exact flat {flat['speedup']:.1f}x [{'PASS' if flat['speedup'] >= 10 else 'not met'}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1k,100k,1m", help="comma-separated sizes, e.g. 1k,100k,1m")
    parser.add_argument("--data", default="clustered,uniform", help="clustered and/or uniform")
    parser.add_argument("--uniform-max", default="100k", help="largest size for the uniform case (it is slow to build)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--queries-large", type=int, default=10, help="queries at 1M and above")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=40)
    parser.add_argument("--ef-search", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faiss-threads", type=int, default=None,
                        help="faiss.omp_set_num_threads while querying (default: leave FAISS's setting)")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [d.strip() for d in args.data.split(",") if d.strip()]
    uniform_max = parse_size(args.uniform_max)
    import faiss

    threads = f"{faiss.omp_get_max_threads()} threads"
    if args.faiss_threads is not None:
        threads += f" to build, {args.faiss_threads} to query"
    print(f"faiss {faiss.__version__}, {threads}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, dim={args.dim}, k={args.k}, default weights, load average {_load()}")
    rows: list[dict] = []
    for data in kinds:
        for n in sizes:
            if data == "uniform" and n > uniform_max:
                continue
            t0 = time.perf_counter()
            case = run_case(data, n, args)
            rows.extend(case)
            print(f"  [{data} {n:,} done in {time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
    print()
    print_table(rows)
    print_targets(rows)
    print(f"\nload average at the end: {_load()} (other processes on the machine inflate every number)")
    return 0


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


if __name__ == "__main__":
    raise SystemExit(main())
