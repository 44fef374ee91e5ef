"""Benchmark: triplet fine-tuning of the embedding head, speed and quality.

**Speed** (target: 1,000 tracks x 4 views of cached embeddings trained in under 60 s on the
2-core CPU). Synthetic random-cluster data of the real sizes (202 = feature frontend, 6144 =
OpenL3), built in a 64-d latent space and mapped up (real embeddings are far from full rank):
30 style centres, a track centre near its style, 4 views around the track (small noise plus
large moves along 8 fixed "nuisance" directions, as augmentation shifts a few factors such as
level and pitch), plus a little full-dimensional noise. Classes are track identities (views as positives), so the default
sampler m = 4, batch 64 applies; validation is 200 further tracks x 4 views. Prints time per
epoch, training samples per second, epochs run and total wall time (early stopping on
validation MAP@R, patience 5, at most ``--max-epochs``). ``--threads`` sets torch's intra-op
threads (``1`` avoids thread contention on a busy machine, ``0`` leaves torch's default).

**Quality** (target: the fine-tuned head beats the untrained backbone on held-out tracks, by
style, MAP@R and precision@5). The demo library (``data/demo`` if present, else synthesized
into a temporary folder) is scanned into a temporary database and embedded with the feature
frontend (202-d, the backbone here: no OpenL3 weights on this machine). Whole tracks are cut
into ``--window-s`` windows; classes are the demo styles. Grouped K-fold by track (``--folds``):
each fold trains on the other tracks (a quarter of them held back for early stopping) and tests
on its held-out tracks, which the head never saw. Reported per level, mean over folds:

* ``window``: every window of a held-out track is a query against the other held-out windows;
* ``track``: the head applied to each held-out track's pooled vector (mean of its frames).

The baseline is the backbone vector z-scored with the training statistics, compared by cosine.
``--views N`` adds N augmented views of each training track (offline, cached) for invariance.

Usage::

    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_triplet.py               # both parts
    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_triplet.py --skip-quality
    NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_triplet.py --skip-speed --views 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_CPU_NAME", "generic")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.train.datasets import EmbeddingSet  # noqa: E402
from workbench.train.triplet import TripletConfig, retrieval_metrics, train_triplet  # noqa: E402

SPEED_TARGET_S = 60.0


def random_clusters(n_tracks: int, n_views: int, dim: int, *, seed: int, first_track: int = 0) -> EmbeddingSet:
    """Styles -> tracks -> views, as a backbone's embeddings of augmented views would cluster."""
    rng = np.random.default_rng(seed)
    fixed = np.random.default_rng(99)
    latent = 64  # real embeddings are far from full rank: build in 64 dims, then map to `dim`
    styles = fixed.normal(size=(30, latent))
    nuisance = fixed.normal(size=(8, latent))  # what augmentation moves: a few directions
    to_dim = fixed.normal(size=(latent, dim)) / np.sqrt(latent)
    style_of = rng.integers(30, size=n_tracks)
    tracks = styles[style_of] + 0.6 * rng.normal(size=(n_tracks, latent))
    n = n_tracks * n_views
    z = np.repeat(tracks, n_views, axis=0) + 0.3 * rng.normal(size=(n, latent)) + 0.7 * rng.normal(size=(n, 8)) @ nuisance
    X = z @ to_dim + 0.1 * rng.normal(size=(n, dim))
    track_ids = first_track + np.repeat(np.arange(n_tracks), n_views)
    y = np.repeat(np.arange(n_tracks), n_views)
    return EmbeddingSet(X.astype(np.float32), y, [str(first_track + i) for i in range(n_tracks)], track_ids,
                        np.tile(np.arange(n_views), n_tracks))


def speed(dims: list[int], *, threads: int | None, max_epochs: int) -> None:
    print("\n== speed: 1,000 tracks x 4 views, track-identity classes, m=4, batch 64 ==")
    print(f"torch threads: {threads or 'default'}; target: whole run < {SPEED_TARGET_S:.0f} s")
    print(f"{'dim':>5} {'epochs':>6} {'s/epoch':>8} {'train samples/s':>16} {'total s':>8} {'val MAP@R':>10} "
          f"{'backbone MAP@R':>15} {'target':>7}")
    for dim in dims:
        train = random_clusters(1000, 4, dim, seed=1)
        val = random_clusters(200, 4, dim, seed=2, first_track=10_000)
        cfg = TripletConfig(max_epochs=max_epochs, patience=5, num_threads=threads)
        t0 = time.perf_counter()
        result = train_triplet(train, val, config=cfg, progress=False)
        total = time.perf_counter() - t0
        per_epoch = float(np.mean([r["seconds"] for r in result.history]))
        samples = result.data["samples_per_epoch"]
        m, b = result.metrics["model"]["val"], result.metrics["baseline"]["val"]
        print(f"{dim:>5} {len(result.history):>6} {per_epoch:>8.2f} {samples / per_epoch:>16.0f} {total:>8.1f} "
              f"{m['map_at_r']:>10.3f} {b['map_at_r']:>15.3f} {'ok' if total < SPEED_TARGET_S else 'MISS':>7}")
        print(f"      mined triplets per epoch: {[r['mined_triplets'] for r in result.history]}")
        print(f"      stopped: {result.stopped_reason}")


def demo_library(workdir: Path, n_tracks: int) -> object:
    from workbench.library import Library

    src = ROOT / "data" / "demo"
    music = workdir / "demo"
    have = sorted(src.glob("*.flac")) if src.is_dir() else []
    if len(have) >= n_tracks:
        music.mkdir()
        for f in have[:n_tracks]:
            shutil.copy2(f, music / f.name)
            shutil.copy2(f.with_suffix(".json"), music / f.with_suffix(".json").name)
        print(f"demo library: {n_tracks} tracks copied from {src}")
    else:
        from workbench.demo import synthesize_library

        print(f"demo library: synthesizing {n_tracks} tracks ...")
        synthesize_library(music, n_tracks=n_tracks, seed=0, progress=False)
    lib = Library(workdir / "lib.db")
    lib.scan(music, progress=False)
    return lib


def _track_level(lib: object, track_ids: np.ndarray, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from workbench.train.datasets import track_embeddings

    tracks = [lib.track(int(t)) for t in sorted(set(track_ids.tolist()))]
    data = track_embeddings(lib, tracks, classes_from="style", progress=False)
    index = {c: i for i, c in enumerate(classes)}
    return data.X, np.array([index[data.classes[i]] for i in data.y])


def quality(*, n_tracks: int, folds: int, window_s: float, views: int, threads: int | None, seed: int) -> None:
    from workbench.train.datasets import grouped_kfold, section_windows, whole_tracks

    print(f"\n== quality: demo library, style classes, {folds}-fold grouped by track, {window_s:g}-s windows, "
          f"{views} augmented view(s) per training track ==")
    with tempfile.TemporaryDirectory(prefix="bench-triplet-") as tmp:
        t0 = time.perf_counter()
        lib = demo_library(Path(tmp), n_tracks)
        data = section_windows(lib, whole_tracks(lib), window_s=window_s, classes_from="style", n_views=views,
                               seed=seed, progress=False)
        print(f"embedded in {time.perf_counter() - t0:.1f} s: {len(data)} windows "
              f"({int((data.view == 0).sum())} original), {len(set(data.track_ids.tolist()))} tracks, "
              f"classes {data.class_counts()}")
        originals = data.originals()
        scores: dict[str, list[dict[str, float]]] = {k: [] for k in
                                                     ("window/backbone", "window/head", "track/backbone", "track/head")}
        for k, (_, test_idx) in enumerate(grouped_kfold(originals.track_ids, n_splits=folds, seed=seed,
                                                                y=originals.y)):
            test = originals.subset(test_idx)
            test_tracks = set(test.track_ids.tolist())
            pool_rows = np.array([t not in test_tracks for t in data.track_ids])
            rest = data.subset(pool_rows)  # training tracks, all their views
            _, val = rest.originals().split(test_size=0.25, seed=seed + k, by_artist=False)
            val_tracks = set(val.track_ids.tolist())
            fit = rest.subset(np.array([t not in val_tracks for t in rest.track_ids]))
            n_classes = len(set(fit.y.tolist()))
            m = 8
            cfg = TripletConfig(m=m, batch_size=m * min(n_classes, 6), lr=1e-3, max_epochs=60, patience=8,
                                num_threads=threads, seed=seed)
            result = train_triplet(fit, val, test=test, config=cfg, progress=False)
            scores["window/backbone"].append(result.metrics["baseline"]["test"])
            scores["window/head"].append(result.metrics["model"]["test"])
            Xt, yt = _track_level(lib, test.track_ids, fit.classes)
            mean, std = fit.X.mean(axis=0), np.where(fit.X.std(axis=0) > 1e-6, fit.X.std(axis=0), 1.0)
            scores["track/backbone"].append(retrieval_metrics((Xt - mean) / std, yt))
            scores["track/head"].append(retrieval_metrics(result.embed(Xt), yt))
            print(f"fold {k + 1}: train {len(set(fit.track_ids.tolist()))} tracks ({len(fit)} rows), val "
                  f"{len(val_tracks)}, test {len(test_tracks)} tracks ({len(test)} windows); epochs "
                  f"{len(result.history)} (best {result.best_epoch}); test window MAP@R backbone "
                  f"{scores['window/backbone'][-1]['map_at_r']:.3f} -> head {scores['window/head'][-1]['map_at_r']:.3f}")
        lib.close()
    print(f"\n{'level':<7} {'model':<10} {'MAP@R':>7} {'P@1':>7} {'P@5':>7}   (held-out tracks, mean of {folds} folds)")
    for key, rows in scores.items():
        level, who = key.split("/")
        mean = {k: float(np.nanmean([r[k] for r in rows])) for k in ("map_at_r", "precision_at_1", "precision_at_5")}
        print(f"{level:<7} {who:<10} {mean['map_at_r']:>7.3f} {mean['precision_at_1']:>7.3f} "
              f"{mean['precision_at_5']:>7.3f}")
    h = {k: np.nanmean([r[k] for r in scores["window/head"]]) for k in ("map_at_r", "precision_at_5")}
    b = {k: np.nanmean([r[k] for r in scores["window/backbone"]]) for k in ("map_at_r", "precision_at_5")}
    ok = h["map_at_r"] > b["map_at_r"] and h["precision_at_5"] > b["precision_at_5"]
    print(f"target (window level): head beats backbone on MAP@R and P@5: {'ok' if ok else 'MISS'}")
    per_style = n_tracks / 6 / folds
    print(f"(track level is informational: about {per_style:.0f} held-out tracks per style per fold, so each query "
          f"has ~{max(per_style - 1, 0):.0f} positive(s) and P@5 is capped near {min(1.0, (per_style - 1) / 5):.2f}; "
          f"the raw features already rank them near the ceiling)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", default="202,6144", help="comma-separated input sizes for the speed part")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--max-epochs", type=int, default=50)
    ap.add_argument("--tracks", type=int, default=24, help="demo tracks for the quality part")
    ap.add_argument("--folds", type=int, default=2, help="2 keeps 2+ held-out tracks per style")
    ap.add_argument("--window-s", type=float, default=8.0)
    ap.add_argument("--views", type=int, default=0, help="augmented views per track in the quality part")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args(argv)
    threads = args.threads or None
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    if not args.skip_speed:
        speed([int(d) for d in args.dims.split(",")], threads=threads, max_epochs=args.max_epochs)
    if not args.skip_quality:
        quality(n_tracks=args.tracks, folds=args.folds, window_s=args.window_s, views=args.views, threads=threads,
                seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
