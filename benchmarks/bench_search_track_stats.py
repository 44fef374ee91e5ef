"""The album effect: track-level sound statistics, alone and as a term of search's combined score (issue 17).

Artist identification knows the "album effect" (Mandel & Ellis): production and mastering make the tracks of
one album alike. This bench measures whether whole-track statistics carry it on a library in folders:
per-track mean and standard deviation of 20 MFCCs (``mfcc``), those plus spectral contrast, spectral tilt
(dB per octave of the long-term average spectrum), flatness, centroid, roll-off, level, loudness range and
stereo width (``all``), or only the mastering cues without the MFCCs (``production``); every dimension
z-scored over the library's tracks (no label read), cosine between tracks.

It reads the runs that :mod:`bench_search_real` trained and kept (``--from`` its ``--out`` JSON, ``--home`` its
``--home``: the real files' workspace, or the root of its ``--dev-libraries`` workspaces), so nothing is trained
here. For each run and each term weight ``w`` (``--weights``) a query's candidates are ranked by
``(1 - w) * search score + w * (1 + cosine) / 2`` (the search score: ``workbench similar``'s combined score with
default weights, or the vibe alone; ``w = 1``: the statistics alone, the unsupervised baseline), for the bare
backbone and the run's head, P@3 by folder, the query's own track never counted. ``--queries``:

- ``training``: the run's training tracks ranked among the training tracks (its held-out tracks removed from the
  library; nothing held out is read): the selection score on the real files. Only the backbone and the statistics
  are scored there (the run's head has trained on those tracks).
- ``held``: the run's held-out tracks over the whole library: the selection score on dev libraries, and, once, for
  the chosen setting, the real files' figure.
- ``all``: every track a query over the whole library, also by folder (analysis after the reads: held-out labels
  are read; the backbone and the statistics only).

    nice -n 10 python benchmarks/bench_search_track_stats.py --from RUNS.json --home H --variant triplet
        --queries training|held|all [--stats mfcc,all,production] [--weights 0,0.1,0.2,0.3,0.5,1] [--out result.json]

``+lda`` sets project the statistics first with a shrinkage LDA fitted on the run's training tracks in folders (never
the query): what a head could learn from them. Measured in session 18 (docs/experiments/search.md, "The album effect"):
chosen on both selection measures, ``all+lda`` at ``w = 0.2`` read once on the 16 real files' held-out tracks (seeds
0-8): 0.537 against the head's 0.586 and the backbone's 0.549 (statistics alone 0.370, chance 0.241); ``mfcc`` at
``w = 0.3`` 0.586. Nothing was added to search.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Which statistics each set keeps (names of :func:`track_statistics`'s dimensions, by prefix).
STAT_SETS: dict[str, tuple[str, ...]] = {
    "mfcc": ("mfcc_mean", "mfcc_std"),
    "all": ("mfcc_mean", "mfcc_std", "contrast", "tilt", "flatness", "centroid", "rolloff", "level", "lra", "width"),
    "production": ("contrast", "tilt", "flatness", "centroid", "rolloff", "level", "lra", "width"),
}


def track_statistics(path: str, sr: int = 22050) -> dict[str, np.ndarray]:
    """Whole-track sound statistics of one audio file (librosa; 2048-sample frames, hop 512).

    Parameters
    ----------
    path : str
        The audio file.
    sr : int
        Sample rate it is decoded at, Hz.

    Returns
    -------
    dict of str to np.ndarray
        ``mfcc_mean``, ``mfcc_std`` [shape=(20,)], ``contrast`` [shape=(7,)] (spectral contrast, dB, frame mean),
        ``tilt`` (dB per octave of the mean log-mel spectrum), ``flatness``, ``centroid`` (Hz, mean and std),
        ``rolloff`` (Hz), ``level`` (median frame RMS, dBFS), ``lra`` (95th - 10th percentile of frame RMS over the
        frames within 60 dB of the loudest, dB) and ``width`` (side / mid energy, dB; -60 for mono).
    """
    import librosa

    y, sr = librosa.load(path, sr=sr, mono=False)
    if y.ndim == 2 and y.shape[0] == 2:
        mid, side = (y[0] + y[1]) / 2, (y[0] - y[1]) / 2
        width = 10 * np.log10((np.sum(side ** 2) + 1e-12) / (np.sum(mid ** 2) + 1e-12))
    else:
        mid, width = (y.mean(axis=0) if y.ndim == 2 else y), -60.0
    S = np.abs(librosa.stft(mid, n_fft=2048, hop_length=512))
    logmel = librosa.power_to_db(librosa.feature.melspectrogram(S=S ** 2, sr=sr, n_mels=40))
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=20)
    freqs = librosa.mel_frequencies(n_mels=40, fmax=sr / 2)
    ok = freqs > 0
    tilt = np.polyfit(np.log2(freqs[ok]), logmel.mean(axis=1)[ok], 1)[0]
    rms_db = 20 * np.log10(librosa.feature.rms(S=S)[0] + 1e-10)
    active = rms_db[rms_db > rms_db.max() - 60]
    centroid = librosa.feature.spectral_centroid(S=S, sr=sr)[0]
    return {"mfcc_mean": mfcc.mean(axis=1), "mfcc_std": mfcc.std(axis=1),
            "contrast": librosa.feature.spectral_contrast(S=S, sr=sr).mean(axis=1), "tilt": np.array([tilt]),
            "flatness": np.array([librosa.feature.spectral_flatness(S=S).mean()]),
            "centroid": np.array([centroid.mean(), centroid.std()]),
            "rolloff": np.array([librosa.feature.spectral_rolloff(S=S, sr=sr).mean()]),
            "level": np.array([np.median(rms_db)]),
            "lra": np.array([np.percentile(active, 95) - np.percentile(active, 10)]), "width": np.array([width])}


def stats_cosine(stats: list[dict[str, np.ndarray]], keep: tuple[str, ...], fit: list[int] | None = None,
                 labels: list[str] | None = None) -> np.ndarray:
    """Cosine between tracks of their statistics in ``keep``: z-scored, or projected by a discriminant fitted on folders.

    Unsupervised (``fit`` None): each dimension z-scored over every track given. Supervised: z-scored over the rows
    ``fit`` and projected by scikit-learn's shrinkage LDA fitted on them with their folders ``labels`` (at most one
    dimension fewer than the folders), then applied to every track: what a head could learn from the statistics.

    Parameters
    ----------
    stats : list of dict
        :func:`track_statistics` of each track.
    keep : tuple of str
        Statistics kept (:data:`STAT_SETS`).
    fit : list of int or None
        Rows the projection is fitted on (the query is never among them); None: no projection.
    labels : list of str or None
        Folder of each row of ``fit``.

    Returns
    -------
    np.ndarray [shape=(n, n)]
        Cosines in [-1, 1].
    """
    X = np.stack([np.concatenate([np.atleast_1d(s[k]) for k in keep]) for s in stats]).astype(np.float64)
    rows = list(range(len(X))) if fit is None else fit
    X = (X - X[rows].mean(axis=0)) / (X[rows].std(axis=0) + 1e-9)
    if fit is not None:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        X = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(X[fit], labels).transform(X)
        X -= X[fit].mean(axis=0)
    X /= np.linalg.norm(X, axis=1, keepdims=True) + 1e-12
    return X @ X.T


def p_at_3(scores: dict[int, dict[int, float]], groups: dict[int, str], queries: list[int], pool: set[int]) -> dict:
    """P@3 by folder of ``queries`` ranked by ``scores`` among ``pool`` (own track never counted).

    Parameters
    ----------
    scores : dict
        query id -> candidate id -> score.
    groups : dict
        Track id -> folder.
    queries : list of int
        Query track ids (a query whose folder has no other track in ``pool`` is skipped).
    pool : set of int
        Candidate track ids.
    """
    hits = []
    for q in queries:
        same = sum(groups[t] == groups[q] for t in pool if t != q)
        if same < 1:
            continue
        ranked = sorted((t for t in pool if t != q), key=lambda t: -scores[q][t])[:3]
        hits.append(sum(groups[t] == groups[q] for t in ranked))
    return {"p_at_3": float(np.mean(hits)) / 3 if hits else float("nan"), "n_queries": len(hits)}


def one_run(home: Path, run_id: str, *, queries_kind: str, stat_sets: list[str], weights: list[float],
            cache: dict[str, dict[str, np.ndarray]]) -> dict:
    """Every model x statistics set x term weight x search weights of one kept run: P@3 by folder.

    Parameters
    ----------
    home : Path
        The run's workspace.
    run_id : str
        Its run (``experiments/RUN``).
    queries_kind : {"training", "held"}
        Which of its tracks are queries (module docstring).
    stat_sets : list of str
        Keys of :data:`STAT_SETS`.
    weights : list of float
        Term weights ``w`` in [0, 1].
    cache : dict
        Track path -> statistics (filled here).
    """
    from workbench.library import Library
    from workbench.runs import load_run
    from workbench.search import LibrarySearch
    from workbench.similarity.compare import track_groups
    from workbench.similarity.model import model_from_run

    run = load_run(home / "experiments" / run_id)
    held = set((run.metrics.get("held_out") or {}).get("track_hashes") or [])
    out: dict = {"run": run_id, "rows": {}}
    with Library(home / "data" / "workbench.db") as lib:
        tracks = lib.tracks()
        groups, _ = track_groups(lib)
        for t in tracks:
            if t.path not in cache:
                cache[t.path] = track_statistics(t.path)
        held_ids = [t.id for t in tracks if t.content_hash in held]
        if queries_kind == "held":
            queries, pool = held_ids, {t.id for t in tracks}
        elif queries_kind == "all":  # analysis: every track a query over the whole library, held-out labels read
            queries, pool = [t.id for t in tracks], {t.id for t in tracks}
        else:
            queries = [t.id for t in tracks if t.content_hash not in held]
            pool = set(queries)
        index = {t.id: i for i, t in enumerate(tracks)}
        stats = [cache[t.path] for t in tracks]
        unsupervised = {name: stats_cosine(stats, STAT_SETS[name]) for name in stat_sets}
        cos = {name: {q: unsupervised[name][index[q]] for q in queries} for name in stat_sets}
        for name in stat_sets:  # supervised: the folders of the training tracks (never the query's own) fit a projection
            trained = [t.id for t in tracks if t.content_hash not in held
                       and sum(groups[u.id] == groups[t.id] for u in tracks if u.content_hash not in held) >= 2]
            cos[f"{name}+lda"] = {}
            for q in queries:
                fit = [index[t] for t in trained if t != q]
                cos[f"{name}+lda"][q] = stats_cosine(stats, STAT_SETS[name], fit, [groups[tracks[i].id] for i in fit])[index[q]]
        model = model_from_run(run)
        models = {"backbone": "backbone"} if queries_kind != "held" else {"backbone": "backbone", "head": model}
        for mname, m in models.items():
            search = LibrarySearch(lib, backbone=model.backbone, model=m, progress=False)
            for wname, w in (("default", None), ("vibe", {"vibe": 1, "tempo": 0, "key": 0, "energy": 0})):
                base = {q: {r.track.id: r.match.score for r in search.similar(q, k=len(tracks), weights=w)}
                        for q in queries}
                for sname in cos:
                    for tw in weights:
                        scores = {q: {t: (1 - tw) * base[q].get(t, 0.0) + tw * (1 + cos[sname][q][index[t]]) / 2
                                      for t in pool if t != q} for q in queries}
                        out["rows"][f"{mname}|{wname}|{sname}|{tw:g}"] = p_at_3(scores, groups, queries, pool)
                        for folder in sorted({groups[q] for q in queries}) if queries_kind == "all" else []:
                            row = p_at_3(scores, groups, [q for q in queries if groups[q] == folder], pool)
                            if row["n_queries"]:  # a one-track folder has no query to count
                                out["rows"][f"{mname}|{wname}|{sname}|{tw:g}|{folder}"] = row
    return out


def mean_rows(results: list[dict]) -> dict[str, tuple[float, int, int]]:
    """Each row's P@3 averaged over the runs that have it (a folder's row is only in the runs whose library holds
    the folder: dev libraries differ, and a one-track folder has none).

    Parameters
    ----------
    results : list of dict
        :func:`one_run` of each run.

    Returns
    -------
    dict of str to (float, int, int)
        Row key -> (mean P@3 over the runs that scored it, those runs, their queries); rows no run scored are left out.
    """
    out = {}
    for key in dict.fromkeys(k for x in results for k in x["rows"]):
        rows = [x["rows"][key] for x in results if key in x["rows"]]
        vals = [r["p_at_3"] for r in rows if r["p_at_3"] == r["p_at_3"]]  # NaN: no query to count
        if vals:
            out[key] = (statistics.mean(vals), len(vals), sum(r["n_queries"] for r in rows))
    return out


def kept_runs_arguments(ap: argparse.ArgumentParser) -> None:
    """``--from``, ``--home`` and ``--variant``: which of :mod:`bench_search_real`'s kept runs a bench reads."""
    ap.add_argument("--from", dest="runs", required=True, help="bench_search_real.py's --out JSON (its kept runs)")
    ap.add_argument("--home", required=True, help="bench_search_real.py's --home (root of dev libraries' workspaces)")
    ap.add_argument("--variant", default=None, help="only the runs of this variant")


def kept_runs(args: argparse.Namespace) -> list[tuple[dict, Path]]:
    """Each kept run of ``args.variant`` (all when None) with its workspace (a dev library's own, else ``--home``)."""
    runs = [r for r in json.loads(Path(args.runs).read_text()) if args.variant is None or r.get("variant") == args.variant]
    return [(r, Path(args.home) / r["library"] / "home" if r.get("library") else Path(args.home)) for r in runs]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    kept_runs_arguments(ap)
    ap.add_argument("--queries", choices=("training", "held", "all"), default="training",
                    help="training: the selection score; held: the held-out tracks; all: every track, by folder (analysis)")
    ap.add_argument("--stats", default="mfcc,all,production")
    ap.add_argument("--weights", default="0,0.1,0.2,0.3,0.5,1")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    stat_sets = [s for s in args.stats.split(",") if s]
    if unknown := [s for s in stat_sets if s not in STAT_SETS]:
        raise SystemExit(f"--stats {unknown}: allowed {sorted(STAT_SETS)}")
    weights = [float(w) for w in args.weights.split(",")]
    cache: dict[str, dict[str, np.ndarray]] = {}
    results = []
    for r, home in kept_runs(args):
        res = one_run(home, r["run"], queries_kind=args.queries, stat_sets=stat_sets, weights=weights, cache=cache)
        res.update(seed=r["seed"], library=r.get("library") or "")
        results.append(res)
        print(f"{res['library'] or 'real'} seed {res['seed']} {res['run']}: " + "  ".join(
            f"{k} {v['p_at_3']:.3f}" for k, v in res["rows"].items() if k.split("|")[3:] in (["0"], ["1"])), flush=True)
    print(f"mean P@3 by folder over {len(results)} runs ({args.queries} queries; w: share of the statistics' cosine):")
    for key, (mean, n_runs, n) in mean_rows(results).items():
        print(f"  {key:<36} {mean:.3f}  ({n_runs} runs, {n} queries)")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
