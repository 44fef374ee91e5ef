"""Unsupervised re-ranking over the library's own tracks: alpha-query expansion, database-side augmentation and
k-reciprocal re-ranking of search's scores, P@3 by folder (issue 17, session 19).

Every rule works in *score space*, on the square matrix ``M`` of combined scores between the query (node 0) and the
tracks of its shortlist (nodes 1..m-1), ``M[i, j]`` the score ``workbench similar`` gives track ``j`` for query ``i``
(vibe, tempo, key and energy; the diagonal 1). With vectors and inner products these are the published rules
(tested against them in ``tests/test_bench_search_rerank.py``):

- ``qe``, alpha-query expansion (Radenovic, Tolias & Chum 2018): the query averaged with its ``k`` best neighbours,
  neighbour ``j`` weighted ``M[0, j] ** alpha`` (the query weight 1);
- ``dba``, database-side augmentation: every node, the query too, averaged so with its ``k`` best neighbours
  (``A M A^T``, cosine-normalised by its diagonal as unit vectors would be);
- ``kreciprocal`` (Zhong et al. 2017): Jaccard distance of the nodes' k-reciprocal neighbour sets (expanded by
  half-size sets, soft-weighted ``exp(-distance)``, averaged over ``k2`` neighbours), mixed with ``1 - M`` at ``lam``.

The shortlist is the exact top :data:`SHORTLIST` of the base score (what an exact or pruned search returns), so a
re-ranked answer is a reordering of the base score's best; nothing reads a label.

It reads the runs that :mod:`bench_search_real` trained and kept (``--from`` its ``--out`` JSON, ``--home`` its
``--home``: the real files' workspace, or the root of its ``--dev-libraries`` workspaces), so nothing is trained
here. For each run, model (the bare backbone, and the run's head for held-out queries) and term weights (default,
vibe alone) it scores every library track against every other exactly as ``workbench similar`` does
(:meth:`~workbench.similarity.sets.TrackSetIndex.similar`), then re-ranks each query's shortlist by each rule
(``none``: the base ranking; it reproduces ``bench_search_real``'s figures). ``--queries``:

- ``training``: the run's training tracks ranked among the training tracks (its held-out tracks removed from the
  library, as neighbours too): the selection score on the real files, the backbone only (the head trained there);
- ``held``: the run's held-out tracks over the whole library: the selection score on dev libraries, and, once, for
  the chosen setting, the real files' figure;
- ``excerpts``: a 30-s and a 60-s excerpt of every track long enough (seeded offset), analysed and embedded as
  ``workbench similar FILE`` does; the share whose own track ranks first, per rule.

    nice -n 10 python benchmarks/bench_search_rerank.py --from RUNS.json --home H --queries training|held|excerpts
        [--variant triplet] [--seeds 0] [--rules none,qe:k=2:alpha=3,...] [--out result.json]

Measured in session 19 (docs/experiments/search.md, "Session 19"): chosen on the real files' training tracks and on
dev libraries, ``dba:k=3:alpha=3``, read once on the 16 real files' held-out tracks (seeds 0-8): backbone 0.549 ->
0.549, head 0.586 -> 0.580 (vibe alone 0.654 -> 0.667, 0.623 -> 0.642); on the 90-track devset (seed 0) the head
0.967 -> 0.950. Nothing was added to search.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

#: The rules :func:`rerank_scores` knows (``"none"``: the base score unchanged).
RERANKS: tuple[str, ...] = ("none", "qe", "dba", "kreciprocal")


def neighbour_average(M: np.ndarray, k: int, alpha: float) -> np.ndarray:
    """Row-stochastic weights of each node's average with its ``k`` best other nodes (weights ``score ** alpha``).

    Parameters
    ----------
    M : np.ndarray [shape=(m, m)]
        Scores in [0, 1], best high.
    k : int >= 0
        Neighbours averaged in (capped at ``m - 1``).
    alpha : float >= 0
        Exponent of a neighbour's score in its weight (0: plain mean).

    Returns
    -------
    np.ndarray [shape=(m, m), dtype=float64]
        ``A[i, i]`` and ``A[i, j]`` for ``j`` among ``i``'s neighbours, each row summing to 1.
    """
    m = M.shape[0]
    A = np.eye(m)
    k = min(int(k), m - 1)
    if k > 0:
        other = np.where(np.eye(m, dtype=bool), -np.inf, M)
        nn = np.argsort(-other, axis=1, kind="stable")[:, :k]
        rows = np.repeat(np.arange(m), k)
        A[rows, nn.ravel()] = np.clip(M[rows, nn.ravel()], 0.0, None) ** alpha
    return A / A.sum(axis=1, keepdims=True)


def k_reciprocal(M: np.ndarray, k1: int, k2: int, lam: float) -> np.ndarray:
    """Scores ``1 - d*`` after k-reciprocal re-ranking (Zhong et al. 2017) of every node against every node.

    Parameters
    ----------
    M : np.ndarray [shape=(m, m)]
        Scores in [0, 1] (distance ``1 - M``), diagonal 1.
    k1 : int >= 1
        Size of the k-reciprocal neighbourhoods (a node counts itself, as in the paper).
    k2 : int >= 1
        Neighbours the soft neighbourhood vectors are averaged over (1: none).
    lam : float in [0, 1]
        Share of the original distance in the final one.

    Returns
    -------
    np.ndarray [shape=(m, m), dtype=float64]
        ``1 - ((1 - lam) * jaccard + lam * (1 - M))``.
    """
    m = M.shape[0]
    d = np.clip(1.0 - M, 0.0, None)
    np.fill_diagonal(d, 0.0)
    rank = np.argsort(d, axis=1, kind="stable")

    def reciprocal(i: int, k: int) -> np.ndarray:
        forward = rank[i, :k + 1]
        back = rank[forward, :k + 1]
        return forward[(back == i).any(axis=1)]

    V = np.zeros((m, m))
    for i in range(m):
        R = reciprocal(i, k1)
        expanded = set(R.tolist())
        for c in R:
            Rc = reciprocal(int(c), int(round(k1 / 2)))
            if len(np.intersect1d(Rc, R)) > 2 / 3 * len(Rc):
                expanded.update(Rc.tolist())
        idx = np.fromiter(expanded, dtype=np.int64)
        w = np.exp(-d[i, idx])
        V[i, idx] = w / w.sum()
    if k2 > 1:
        V = V[rank[:, :min(k2, m)]].mean(axis=1)
    jaccard = np.empty((m, m))
    for i in range(m):
        jaccard[i] = 1.0 - np.minimum(V[i], V).sum(axis=1) / np.maximum(np.maximum(V[i], V).sum(axis=1), 1e-12)
    return 1.0 - ((1.0 - lam) * jaccard + lam * d)


def rerank_scores(M: np.ndarray, rule: str, **params: float) -> np.ndarray:
    """The query's (node 0's) re-ranked score of every node of ``M`` by one rule.

    Parameters
    ----------
    M : np.ndarray [shape=(m, m)]
        Node 0 the query, the rest its shortlist; scores in [0, 1] (the diagonal is set to 1 here).
    rule : {"none", "qe", "dba", "kreciprocal"}
        :data:`RERANKS` (module docstring).
    **params : float
        ``k`` and ``alpha`` for ``"qe"`` and ``"dba"``; ``k1``, ``k2`` and ``lam`` for ``"kreciprocal"``.

    Returns
    -------
    np.ndarray [shape=(m,), dtype=float64]
        Higher is better; entry 0 is the query's own.

    Raises
    ------
    ValueError
        An unknown rule, or ``M`` not square.
    """
    M = np.array(M, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] < 1:
        raise ValueError(f"M must be a square score matrix; got shape {M.shape}")
    np.fill_diagonal(M, 1.0)
    if rule == "none":
        return M[0]
    if rule == "qe":
        return neighbour_average(M, int(params["k"]), float(params["alpha"]))[0] @ M
    if rule == "dba":
        A = neighbour_average(M, int(params["k"]), float(params["alpha"]))
        G = A @ M @ A.T
        norm = np.sqrt(np.clip(np.diag(G), 1e-12, None))
        return G[0] / (norm[0] * norm)
    if rule == "kreciprocal":
        return k_reciprocal(M, int(params["k1"]), int(params["k2"]), float(params["lam"]))[0]
    raise ValueError(f"rule must be one of {RERANKS}; got {rule!r}")


#: Shortlist re-ranked per query (the exact top of the base score); a smaller library is re-ranked whole.
SHORTLIST = 50


def default_rules() -> list[str]:
    """Every rule and setting measured: ``name:param=value:...`` strings."""
    rules = ["none"]
    rules += [f"qe:k={k}:alpha={a}" for k in (1, 2, 3, 5) for a in (0, 1, 3)]
    rules += [f"dba:k={k}:alpha={a}" for k in (1, 2, 3) for a in (1, 3)]
    rules += [f"kreciprocal:k1={k1}:k2={k2}:lam={lam}" for k1 in (2, 3, 5) for k2 in (1, 2) for lam in (0.3, 0.6)]
    return rules


def parse_rule(text: str) -> tuple[str, dict[str, float]]:
    """``"qe:k=2:alpha=3"`` -> ``("qe", {"k": 2.0, "alpha": 3.0})``."""
    name, *kvs = text.split(":")
    return name, {kv.split("=")[0]: float(kv.split("=")[1]) for kv in kvs}


def ranked(S: np.ndarray, q: int, pool: list[int], rule: str, params: dict[str, float]) -> list[int]:
    """Candidate rows best first after re-ranking query row ``q``'s shortlist among ``pool`` (rows of ``S``).

    Parameters
    ----------
    S : np.ndarray [shape=(n, n)]
        Search's combined scores, row the query, column the candidate.
    q : int
        The query's row.
    pool : list of int
        Candidate rows (``q`` left out here).
    rule, params
        :func:`workbench.similarity.rerank.rerank_scores`'s.
    """
    cands = np.asarray([p for p in pool if p != q], dtype=np.int64)
    base = S[q, cands]
    order = np.argsort(-base, kind="stable")[:SHORTLIST]
    short = cands[order]
    nodes = np.concatenate([[q], short])
    new = rerank_scores(S[np.ix_(nodes, nodes)], rule, **params)[1:]
    return [int(short[i]) for i in np.argsort(-new, kind="stable")]


def hits_at_3(S: np.ndarray, groups: list[str], queries: list[int], pool: list[int], rule: str,
              params: dict[str, float]) -> list[int]:
    """Same-folder matches among the top 3 of each query (a query with no other track of its folder skipped)."""
    out = []
    for q in queries:
        if sum(groups[p] == groups[q] for p in pool if p != q) < 1:
            continue
        out.append(sum(groups[t] == groups[q] for t in ranked(S, q, pool, rule, params)[:3]))
    return out


def score_matrix(index: object, ids: list[int], weights: object) -> np.ndarray:
    """Every indexed track's combined score for every track as query (rows queries), in ``ids`` order."""
    pos = {t: i for i, t in enumerate(ids)}
    S = np.zeros((len(ids), len(ids)))
    for i, t in enumerate(ids):
        for m in index.similar(t, k=len(ids), weights=weights, exclude_self=False):  # type: ignore[attr-defined]
            S[i, pos[m.id]] = m.score
    return S


VIBE = {"vibe": 1, "tempo": 0, "key": 0, "energy": 0}


def one_run(home: Path, run_id: str, *, queries_kind: str, rules: list[str]) -> dict:
    """P@3 by folder of one kept run's queries under every rule, per model and term weights (module docstring)."""
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.search import LibrarySearch
    from workbench.similarity.compare import track_groups
    from workbench.similarity.model import model_from_run

    run = load_run(home / "experiments" / run_id)
    held = set((run.metrics.get("held_out") or {}).get("track_hashes") or [])
    out: dict = {"run": run_id, "rows": {}}
    with Library(home / "data" / "workbench.db") as lib:
        model = model_from_run(run)
        models = {"backbone": "backbone"} if queries_kind == "training" else {"backbone": "backbone", "head": model}
        for mname, m in models.items():
            search = LibrarySearch(lib, backbone=model.backbone, model=m, progress=False).update()
            ids = [int(i) for i in search.index.ids]
            tracks = {t.id: t for t in lib.tracks()}
            groups_by_id, _ = track_groups(lib)
            groups = [groups_by_id.get(t) or f"(none {t})" for t in ids]
            is_held = [tracks[t].content_hash in held for t in ids]
            if queries_kind == "held":
                queries, pool = [i for i, h in enumerate(is_held) if h], list(range(len(ids)))
            else:
                queries = pool = [i for i, h in enumerate(is_held) if not h]
            for wname, w in (("default", None), ("vibe", VIBE)):
                S = score_matrix(search.index, ids, w)
                for rule in rules:
                    name, params = parse_rule(rule)
                    h = hits_at_3(S, groups, queries, pool, name, params)
                    out["rows"][f"{mname}|{wname}|{rule}"] = {"p_at_3": float(np.mean(h)) / 3 if h else float("nan"),
                                                             "hits": h}
    return out


def excerpt_run(home: Path, run_id: str, *, rules: list[str], lengths: tuple[float, ...] = (30.0, 60.0),
                seed: int = 0) -> dict:
    """Share of excerpts whose own track ranks first after each rule, backbone and the run's head, default weights."""
    import soundfile as sf

    from workbench import audio
    from workbench.analysis import analyze, effective_settings
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.search import LibrarySearch
    from workbench.similarity.model import model_from_run
    from workbench.similarity.sets import SetQuery

    run = load_run(home / "experiments" / run_id)
    model = model_from_run(run)
    rng = np.random.default_rng(seed)
    out: dict = {"run": run_id, "rows": {}}
    with Library(home / "data" / "workbench.db") as lib, tempfile.TemporaryDirectory() as tmp:
        searches = {n: LibrarySearch(lib, backbone=model.backbone, model=m, progress=False).update()
                    for n, m in (("backbone", "backbone"), ("head", model))}
        ids = [int(i) for i in searches["backbone"].index.ids]
        mats = {n: score_matrix(s.index, ids, None) for n, s in searches.items()}
        for t in [x for x in lib.tracks() if x.id in ids]:
            dur = audio.info(t.path).duration_s
            for length in lengths:
                if dur < length + 5:
                    continue
                y, sr = audio.load(t.path, mono=False)
                start = int(rng.uniform(0, dur - length) * sr)
                clip = y[..., start:start + int(length * sr)]
                path = Path(tmp) / f"excerpt_{t.id}_{int(length)}.wav"
                sf.write(path, clip.T if clip.ndim == 2 else clip, sr)
                y2, sr2 = audio.load(path, mono=False)
                a = analyze(y2, sr=sr2, **effective_settings(lib, path).kwargs())
                emb, ts = searches["backbone"].backbone.embed(y2, sr=sr2)
                for n, s in searches.items():
                    q = SetQuery(s._standardize(s.model.windows(np.asarray(emb), np.asarray(ts))), a.bpm,
                                 a.camelot if a.has_key else None, a.energy, tempo_rough=a.tempo_rough)
                    pos = {tid: i for i, tid in enumerate(ids)}
                    row = np.zeros(len(ids))
                    for m in s.index.similar(q, k=len(ids)):
                        row[pos[m.id]] = m.score
                    S = np.zeros((len(ids) + 1, len(ids) + 1))  # node 0 the excerpt, its column its row
                    S[1:, 1:], S[0, 1:], S[1:, 0], S[0, 0] = mats[n], row, row, 1.0
                    for rule in rules:
                        name, params = parse_rule(rule)
                        first = ranked(S, 0, list(range(len(ids) + 1)), name, params)[0]
                        key = f"{n}|{int(length)}s|{rule}"
                        out["rows"].setdefault(key, []).append(int(ids[first - 1] == t.id))
    return out


def main() -> int:
    from bench_search_track_stats import kept_runs, kept_runs_arguments

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    kept_runs_arguments(ap)
    ap.add_argument("--queries", choices=("training", "held", "excerpts"), default="training")
    ap.add_argument("--rules", default=None, help="comma-separated rules (default: every setting measured)")
    ap.add_argument("--seeds", default=None, help="only these seeds' runs (e.g. 0 for the excerpts)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    runs = [(r, home) for r, home in kept_runs(args) if not args.seeds or str(r["seed"]) in args.seeds.split(",")]
    rules = args.rules.split(",") if args.rules else default_rules()
    results = []
    for r, home in runs:
        if args.queries == "excerpts":
            res = excerpt_run(home, r["run"], rules=rules)
        else:
            res = one_run(home, r["run"], queries_kind=args.queries, rules=rules)
        res.update(seed=r["seed"], library=r.get("library") or "")
        results.append(res)
        print(f"{res['library'] or 'real'} seed {res['seed']} {res['run']} done", flush=True)
    print(f"mean over {len(results)} runs ({args.queries} queries):")
    for key in dict.fromkeys(k for x in results for k in x["rows"]):
        if args.queries == "excerpts":
            vals = [v for x in results for v in x["rows"].get(key, [])]
            print(f"  {key:<44} first {np.mean(vals):.3f} (n={len(vals)})")
            continue
        rows = [x["rows"][key] for x in results if key in x["rows"] and x["rows"][key]["p_at_3"] == x["rows"][key]["p_at_3"]]
        base = [x["rows"][key.rsplit("|", 1)[0] + "|none"] for x in results if key in x["rows"]
                and x["rows"][key]["p_at_3"] == x["rows"][key]["p_at_3"]]
        better = sum(a["p_at_3"] > b["p_at_3"] for a, b in zip(rows, base, strict=True))
        worse = sum(a["p_at_3"] < b["p_at_3"] for a, b in zip(rows, base, strict=True))
        print(f"  {key:<52} {statistics.mean(r['p_at_3'] for r in rows):.3f}  (runs better {better}, worse {worse}; "
              f"{len(rows)} runs, {sum(len(r['hits']) for r in rows)} queries)")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
