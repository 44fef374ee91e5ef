"""Similar-track search with the backbone vs the trained head: precision@3 by folder/crate and excerpt -> own track.

On a library organised in folders or crates (the demo library: one crate per style; real music:
album folders), every query goes through :class:`workbench.search.LibrarySearch` as ``workbench
similar`` does (default weights, and vibe alone), the query's own track never counted. Beside
each precision: chance (share of the other tracks in the query's group) and the best possible
(``min(3, group size - 1) / 3``). The ``pooled`` rows are the search as it was before window sets
(one pooled backbone vector per track; no-beat tracks and excerpts cannot be searched). Excerpts: ``L`` seconds cut at a seeded offset from every query
track at least ``L + 5`` s long, written to a file and given as a FILE query; the rate at which its
own track comes first (out of the whole library).

    python benchmarks/bench_search_model.py --db /path/to/demo/data/workbench.db \\
        [--real ../shared/data/real-audio] [--excerpts 30,60] [--out result.json]

The head is the registry's active ``head`` of ``--db`` (held-out tracks of its run are the
queries of the demo rows, for precision and excerpts alike). On the real-music library, which has no head of its own, the same
demo-trained head is applied (it was trained on the demo's styles, not on these folders).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class PooledSearch:
    """The search before window sets: one pooled (mean + std, z-scored) backbone vector per track in a
    :class:`~workbench.similarity.SimilarityIndex`; tracks and excerpts with no beat cannot be searched."""

    model_said = "pooled backbone vector (previous search)"

    def __init__(self, library, backbone) -> None:
        from workbench.analysis import track_analysis
        from workbench.embed.batch import track_vectors
        from workbench.embed.features import standardize
        from workbench.similarity import SimilarityIndex

        self.library, self.backbone = library, backbone
        tracks, vectors = track_vectors(library, backbone=backbone)
        keep, meta = [], []
        for i, t in enumerate(tracks):
            a = track_analysis(library, t, compute=False)
            if a is not None and a.bpm is not None:
                keep.append(i)
                meta.append((a.bpm, a.camelot, a.energy))
        z, self.mean, self.std = standardize(vectors[keep])
        self.index = SimilarityIndex([tracks[i].id for i in keep], z, [m[0] for m in meta], [m[1] for m in meta],
                                     [m[2] for m in meta], kind="flat")

    def update(self):
        return self

    def similar(self, track, *, k: int, weights=None) -> list:
        from types import SimpleNamespace

        if track.id not in self.index:  # no beat: the previous search could not ask (precision 0)
            return []
        return [SimpleNamespace(track=self.library.track(m.id), match=m)
                for m in self.index.similar(track.id, k=k, weights=weights)]

    def query(self, emb: np.ndarray, a) -> object:
        from workbench.embed.features import pool
        from workbench.similarity import Query

        if a.bpm is None:
            return None
        return Query((pool(emb, with_std=True) - self.mean) / self.std, a.bpm, a.camelot, a.energy)


def excerpt_rate(searches: dict, tracks: list, *, length_s: float, seed: int, tmp: Path) -> dict[str, dict]:
    """Share of excerpts whose own track ranks first, per model (one analysis and embedding per excerpt)."""
    import soundfile as sf

    from workbench import audio
    from workbench.analysis import analyze, effective_settings
    from workbench.similarity.sets import SetQuery

    rng = np.random.default_rng(seed)
    any_search = next(iter(searches.values()))
    hits = {name: {"default": 0, "vibe": 0} for name in searches}
    n = 0
    for t in tracks:
        info = audio.info(t.path)
        if info.duration_s < length_s + 5:
            continue
        y, sr = audio.load(t.path, mono=False)
        start = int(rng.uniform(0, info.duration_s - length_s) * sr)
        clip = y[..., start:start + int(length_s * sr)]
        path = tmp / f"excerpt_{t.id}_{int(length_s)}.wav"
        sf.write(path, clip.T if clip.ndim == 2 else clip, sr)
        y2, sr2 = audio.load(path, mono=False)
        a = analyze(y2, sr=sr2, **effective_settings(any_search.library, path).kwargs())
        emb, ts = any_search.backbone.embed(y2, sr=sr2)
        n += 1
        for name, s in searches.items():
            if isinstance(s, PooledSearch):
                q = s.query(np.asarray(emb), a)
            else:
                q = SetQuery(s._standardize(s.model.windows(np.asarray(emb), np.asarray(ts))), a.bpm, a.camelot,
                             a.energy)
                s.update()
            for wname, w in (("default", None), ("vibe", {"vibe": 1, "tempo": 0, "key": 0, "energy": 0})):
                best = s.index.similar(q, k=1, weights=w) if q is not None else []
                hits[name][wname] += bool(best) and best[0].id == t.id
    return {name: {w: (v / n if n else float("nan")) for w, v in h.items()} | {"n": n} for name, h in hits.items()}


def p_at_3(searches: dict, queries: list, groups: dict) -> dict[str, dict]:
    from workbench.similarity.compare import precision_at_k

    out = {}
    for name, s in searches.items():
        d = precision_at_k(s, queries, groups, k=3)
        v = precision_at_k(s, queries, groups, k=3, weights={"vibe": 1, "tempo": 0, "key": 0, "energy": 0})
        out[name] = {"default": d["precision_at_k"], "vibe": v["precision_at_k"], "chance": d["chance"],
                     "best": d["best_possible"], "n": d["n_queries"], "model": d["model"]}
    return out


def library_rows(label: str, lib, head_model, *, held: set[str] | None, excerpts: list[float], seed: int) -> dict:
    from workbench.search import LibrarySearch
    from workbench.similarity.compare import track_groups

    searches = {"backbone": LibrarySearch(lib, backbone=head_model.backbone, model="backbone", progress=False),
                "head": LibrarySearch(lib, model=head_model, progress=False)}
    for s in searches.values():
        s.update()
    searches = {"pooled": PooledSearch(lib, head_model.backbone), **searches}
    groups, by = track_groups(lib)
    tracks = lib.tracks()
    queries = [t for t in tracks if not held or t.content_hash in held]
    row = {"library": label, "groups_by": by, "queries": "held-out" if held else "all", "tracks": len(tracks),
           "p_at_3": p_at_3(searches, queries, groups), "excerpts": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for length in excerpts:
            row["excerpts"][f"{length:g}s"] = excerpt_rate(searches, queries, length_s=length, seed=seed, tmp=Path(tmp))
    return row


def print_table(rows: list[dict]) -> None:
    print(f"{'library':<22}{'model':<10}{'P@3 default':>12}{'P@3 vibe':>10}{'chance':>8}{'best':>7}{'n':>5}  "
          + "  ".join(f"excerpt {k} first (default/vibe, n)" for k in rows[0]["excerpts"]))
    for r in rows:
        for name in r["p_at_3"]:
            p = r["p_at_3"][name]
            ex = "  ".join(f"{e[name]['default']:.2f}/{e[name]['vibe']:.2f} (n={e[name]['n']})"
                           for e in r["excerpts"].values())
            print(f"{r['library'] + ' (' + r['groups_by'] + ')':<22}{name:<10}{p['default']:>12.3f}{p['vibe']:>10.3f}"
                  f"{p['chance']:>8.3f}{p['best']:>7.3f}{p['n']:>5}  {ex}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="a library with an active head (the demo's workbench.db)")
    ap.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real-audio"),
                    help="a folder of real music in sub-folders ('' to skip)")
    ap.add_argument("--excerpts", default="30,60", help="excerpt lengths in seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", default="demo", help="how the table names the --db library")
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    args = ap.parse_args()

    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.similarity.model import resolve_model

    excerpts = [float(x) for x in args.excerpts.split(",") if x]
    rows = []
    with Library(args.db) as lib:
        head = resolve_model(lib, "head")
        run = load_run(str(head.run_id), root=lib.workspace.experiments)
        held = set((run.metrics.get("held_out") or {}).get("track_hashes") or [])
        print(f"head: {head.said} (run {run.run_id}, {len(held)} held-out tracks)", flush=True)
        rows.append(library_rows(args.label, lib, head, held=held, excerpts=excerpts, seed=args.seed))
    real = Path(args.real) if args.real else None
    if real is not None and real.is_dir():
        with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "real.db") as rlib:
            rlib.scan(real, progress=False)
            rows.append(library_rows("real music", rlib, head, held=None, excerpts=excerpts, seed=args.seed))
    elif real is not None:
        print(f"(real music skipped: {real} is absent)")
    print_table(rows)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
