"""How much of the backbone a trained head keeps in search, picked on the training tracks only.

A triplet head trained on a few tracks per folder can rank held-out tracks worse than the bare
backbone. :func:`pick_blend` chooses the backbone's share ``weight`` of a
:class:`~workbench.similarity.blend.Blend` (the blended cosine is ``weight * cos_backbone + (1 -
weight) * cos_head``) among :data:`BLEND_WEIGHTS`, by cross-fitting on the training side of the
split (never the held-out test tracks):

* ``folds`` folds of the training tracks, stratified by class (a class keeps at least one
  training track in every fold); for each fold a head is trained, with the run's settings, on the
  other training tracks (and their augmented views) and the fold's tracks query the other
  training tracks' windows;
* the validation tracks query the training tracks' windows through the run's own head;
* the library's tracks that have no class (alone in their folder) are candidates for every query,
  as they are in search, never relevant.

Each candidate weight's score is the mean over these of :func:`set_map`: each query track ranks the
other tracks by window-set similarity, as search does, and the average precision of its class is
taken (a query never matches its own track). The fold heads stop early on the run's validation
tracks, never on the fold's own tracks. The best weight wins. On a few well-separated tracks the
track-level MAP saturates (every weight scores 1.0), so a tie is broken by the window-level MAP@R
of the same queries (:func:`workbench.evaluate.retrieval.retrieval_metrics`, own track excluded),
and only then by the larger weight (more backbone). ``weight = 1`` means the
head did not beat the backbone on the training tracks: search then ranks as the backbone does, and
the run says so (its ``map_at_r`` equals the backbone's, so the activation gate refuses it).

The blend's backbone end (``blend_backbone``, :data:`~workbench.similarity.blend.BLEND_BACKBONES`) is z-scored
with the training windows' statistics (``"training"``: each fold with its own training rows', augmented views
included) or with the ones search z-scores the bare backbone with (``"search"``: the library's windows,
:func:`search_window_stats`, the same for every part), so that the share picked mixes the head with the very
backbone ranking ``workbench similar --model backbone`` gives.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError, WorkbenchError
from workbench.similarity.blend import Blend, blend_vectors, check_blend_backbone

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library
    from workbench.models.heads import EmbeddingHead
    from workbench.train.datasets import EmbeddingSet
    from workbench.train.triplet import TripletConfig

#: Candidate shares of the backbone (0: the head alone, 1: the backbone alone).
BLEND_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


def check_blend(value: object) -> str | float | None:
    """The job's ``blend`` setting: ``"auto"`` (picked on training folds), ``None`` (the head alone) or a weight.

    Parameters
    ----------
    value : "auto", None, "off" or float in [0, 1]
        As given in the config.

    Raises
    ------
    ParameterError
        Anything else.
    """
    if value is None or value == "off":
        return None
    if value == "auto":
        return "auto"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= float(value) <= 1.0:
        return float(value)
    raise ParameterError(f"blend must be 'auto', 'off' (the head alone) or a backbone share in [0, 1]; got {value!r}")


def check_blend_folds(value: object, name: str = "blend_folds") -> int:
    """The job's ``blend_folds`` (the folds :func:`pick_blend` trains a head on): 0 (validation only) or 2 or more.

    Parameters
    ----------
    value : int
        As given in the config.
    name : str
        The setting's name in the message.

    Raises
    ------
    ParameterError
        Anything else (a bool, 1, a negative number, a float).
    """
    if not (isinstance(value, int) and not isinstance(value, bool) and (value == 0 or value >= 2)):
        raise ParameterError(f"{name} must be 0 or an int >= 2; got {value!r}")
    return value


def search_window_stats(library: Library, backbone: Backbone) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` [shape=(d,), float32] with which search z-scores ``backbone``'s windows in ``library``.

    The bare backbone's index (:class:`~workbench.search.LibrarySearch`, ``model="backbone"``) is brought up to
    date (analysing and embedding what is missing, built when absent) and its statistics are read: those
    ``workbench similar --model backbone`` ranks with. A library of one window has none (search leaves its
    windows as they are): 0 and 1 then.

    Parameters
    ----------
    library : Library
        The library searched.
    backbone : Backbone
        The run's backbone (the head's input).
    """
    from workbench.search import LibrarySearch

    found = LibrarySearch(library, backbone=backbone, model="backbone", progress=False).update().window_stats()
    if found is None:
        return np.zeros(int(backbone.dim), dtype=np.float32), np.ones(int(backbone.dim), dtype=np.float32)
    return np.asarray(found[0], dtype=np.float32), np.asarray(found[1], dtype=np.float32)


def blend_backbone_stats(value: object, *, library: Library, backbone: Backbone) -> tuple[np.ndarray, np.ndarray] | None:
    """The fixed statistics of the job's ``blend_backbone`` setting: search's for ``"search"``, None for
    ``"training"`` (each part standardised with its own training rows).

    Parameters
    ----------
    value : {"training", "search"}
        The setting.
    library : Library
        The library searched.
    backbone : Backbone
        The run's backbone.

    Raises
    ------
    ParameterError
        Another value.
    """
    check_blend_backbone(value, "blend_backbone")
    return search_window_stats(library, backbone) if value == "search" else None


def _stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0).astype(np.float32)
    std = X.std(axis=0)
    return mean, np.where(std > 1e-6, std, 1.0).astype(np.float32)


def set_map(vectors: np.ndarray, labels: np.ndarray, tracks: np.ndarray, queries: np.ndarray) -> float:
    """Mean average precision of query tracks ranking the other tracks by window-set similarity, as search does.

    A candidate track's score for a query track is the mean, over the query's windows, of the best
    cosine among the candidate's windows (:mod:`workbench.similarity.sets`); a candidate is relevant
    when it has the query's class; the query's own track is never a candidate. Average precision is
    scikit-learn's.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)]
        Window vectors (normalised here).
    labels : np.ndarray [shape=(n,)]
        Class of each window (one per track).
    tracks : np.ndarray [shape=(n,)]
        Track of each window.
    queries : np.ndarray [shape=(n,), dtype=bool]
        Windows of the query tracks.

    Returns
    -------
    float
        NaN when no query track has a relevant candidate.
    """
    from sklearn.metrics import average_precision_score

    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    ids = np.unique(tracks)
    rows = {t: np.flatnonzero(tracks == t) for t in ids.tolist()}
    cls = {t: labels[r[0]] for t, r in rows.items()}
    aps = []
    for q in sorted({int(t) for t in tracks[queries]}):
        sims = v[rows[q]] @ v.T
        cands = [t for t in ids.tolist() if t != q]
        score = np.asarray([sims[:, rows[t]].max(axis=1).mean() for t in cands])
        relevant = np.asarray([cls[t] == cls[q] for t in cands])
        if relevant.any():
            aps.append(float(average_precision_score(relevant, score)))
    return float(np.mean(aps)) if aps else float("nan")


def _scores(head: EmbeddingHead, queries: EmbeddingSet, refs: EmbeddingSet, stats: tuple[np.ndarray, np.ndarray],
            weights: tuple[float, ...], others: EmbeddingSet | None = None
            ) -> tuple[dict[float, float], dict[float, float]]:
    """Track-level :func:`set_map` and window-level MAP@R of ``queries`` among themselves, ``refs`` and
    ``others`` (tracks of no class, never relevant) for each blend weight."""
    from workbench.evaluate.retrieval import retrieval_metrics
    from workbench.train.triplet_eval import _labels_in, embed

    parts = [queries, refs] + ([others] if others is not None and len(others) else [])
    X = np.concatenate([p.X for p in parts])
    y = np.concatenate([_labels_in(queries, refs.classes), refs.y]
                       + ([np.full(len(others), -1)] if len(parts) == 3 else []))  # type: ignore[arg-type]
    groups = np.concatenate([p.track_ids for p in parts])
    mask = np.arange(len(X)) < len(queries)
    h = embed(head, X)
    vectors = {w: blend_vectors(X, h, weight=w, mean=stats[0], std=stats[1]) for w in weights}
    return ({w: set_map(v, y, groups, mask) for w, v in vectors.items()},
            {w: float(retrieval_metrics(v, y, groups=groups, queries=mask)["map_at_r"]) for w, v in vectors.items()})


def track_folds(train: EmbeddingSet, *, folds: int, seed: int) -> list[np.ndarray]:
    """Folds of the training tracks, stratified by class; a class's last track never leaves training.

    Parameters
    ----------
    train : EmbeddingSet
        Training rows (their tracks are folded).
    folds : int >= 2
        Most folds.
    seed : int >= 0
        Which tracks go to which fold.

    Returns
    -------
    list of np.ndarray
        Track ids of each non-empty fold.
    """
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for t, c in sorted({(int(t), int(c)) for t, c in zip(train.track_ids, train.y, strict=True)}):
        by_class.setdefault(c, []).append(t)
    out: list[list[int]] = [[] for _ in range(folds)]
    start = 0
    for c in sorted(by_class):
        members = by_class[c]
        if len(members) < 2:  # a lone track always stays in training
            continue
        for i in rng.permutation(len(members)):  # round robin: a fold takes at most ceil(n / folds) < n
            out[start % folds].append(members[i])
            start += 1
    return [np.asarray(sorted(f), dtype=np.int64) for f in out if f]


def pick_blend(train: EmbeddingSet, val: EmbeddingSet, head: EmbeddingHead, config: TripletConfig, *,
               folds: int = 3, weights: tuple[float, ...] = BLEND_WEIGHTS, others: EmbeddingSet | None = None,
               keep: list[tuple[np.ndarray, Any, tuple[np.ndarray, np.ndarray]]] | None = None,
               search_stats: tuple[np.ndarray, np.ndarray] | None = None) -> Blend:
    """The blend weight with the best mean track-level MAP on training folds and validation (see the module).

    Parameters
    ----------
    train : EmbeddingSet
        The run's training rows (augmented views included); their statistics standardise the backbone
        (unless ``search_stats``).
    val : EmbeddingSet
        The run's validation rows (original audio).
    head : EmbeddingHead
        The run's trained head (takes raw backbone vectors).
    config : TripletConfig
        The run's settings; each fold's head is trained with them (quietly, stopping on collapse).
    folds : int >= 0
        Folds of the training tracks (0: validation only).
    weights : tuple of float in [0, 1]
        Candidate backbone shares.
    others : EmbeddingSet or None
        Windows of the library's tracks that have no class (e.g. alone in their folder): search
        offers them too, so they are candidates (never relevant) for every query here.
    keep : list or None
        When given, each trained fold's ``(track ids of the fold, head, backbone statistics of its training rows)``
        is appended (heads that never saw the fold's tracks: out-of-fold learned weights,
        :mod:`workbench.train.embeddings_oof`).
    search_stats : (np.ndarray, np.ndarray) or None
        ``(mean, std)`` with which search z-scores the bare backbone (:func:`search_window_stats`): the backbone
        end of every part and of the result (``backbone="search"``); None: each part's training rows'.

    Returns
    -------
    Blend
        ``scores``: ``{"weights": {w: mean set MAP}, "window_weights": {w: mean window MAP@R} (the
        tie-break), "parts": [...], "notes": [...]}``.

    Raises
    ------
    ParameterError
        ``folds`` or ``weights`` out of range.
    """
    from workbench.train.triplet import train_triplet

    check_blend_folds(folds, "folds")
    if not weights or any(not 0.0 <= float(w) <= 1.0 for w in weights):
        raise ParameterError(f"weights must be backbone shares in [0, 1]; got {weights!r}")
    def stats_of(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The backbone end's statistics for training rows ``X``.

        Parameters
        ----------
        X : np.ndarray [shape=(n, d)]
            Raw backbone vectors of the part's training rows.
        """
        return _stats(X) if search_stats is None else search_stats

    stats = stats_of(train.X)
    refs = train.originals()
    parts: list[dict[str, Any]] = []
    notes: list[str] = []
    if len(val):
        sets, wins = _scores(head, val, refs, stats, weights, others)
        parts.append({"part": "validation", "n_tracks": len(set(val.track_ids.tolist())), "set_map": sets,
                      "window_map": wins})
    for i, fold in enumerate(track_folds(train, folds=folds, seed=config.seed) if folds else []):
        inside = np.isin(train.track_ids, fold)
        fold_train, fold_q = train.subset(~inside), train.subset(inside).originals()
        m = config.m
        full = int((np.bincount(fold_train.y) >= m).sum())
        cfg = dataclasses.replace(config, on_collapse="stop", batch_size=m * min(64 // m, max(2, full)) if m <= 32
                                  else config.batch_size)
        try:
            # early stopping on the run's validation tracks, never on the fold's own (they score the blend)
            fit = train_triplet(fold_train, val if len(val) >= 2 else fold_q, config=cfg, progress=False)
        except (WorkbenchError, ValueError) as exc:  # e.g. the sampler cannot serve a small fold
            notes.append(f"fold {i + 1}: not trained ({exc})")
            continue
        sets, wins = _scores(fit.model, fold_q, fold_train.originals(), stats_of(fold_train.X), weights, others)
        if keep is not None:
            keep.append((np.asarray(fold), fit.model, stats_of(fold_train.X)))
        parts.append({"part": f"fold {i + 1}", "n_tracks": int(len(fold)), "set_map": sets, "window_map": wins})
    mean = {w: _finite_mean([p["set_map"][w] for p in parts]) for w in weights}
    window = {w: _finite_mean([p["window_map"][w] for p in parts]) for w in weights}
    scored = [w for w in weights if math.isfinite(mean[w])]
    if not scored:
        notes.append("no training fold could score the blend: the head is used alone")
        best = min(weights)
    else:
        # a saturated tie (every weight 1.0 on a few tracks): the window-level MAP@R decides, then more backbone
        best = max(scored, key=lambda w: (round(mean[w], 9), round(window[w], 9) if math.isfinite(window[w]) else -1.0, w))
    record = {"weights": {f"{w:g}": mean[w] for w in weights}, "window_weights": {f"{w:g}": window[w] for w in weights},
              "parts": [{**p, "set_map": {f"{w:g}": v for w, v in p["set_map"].items()},
                         "window_map": {f"{w:g}": v for w, v in p["window_map"].items()}} for p in parts],
              "notes": notes}
    return Blend(float(best), stats[0], stats[1], scores=record,
                 backbone="training" if search_stats is None else "search")


def _finite_mean(values: list[float]) -> float:
    """Mean of the finite values (NaN when none is).

    Parameters
    ----------
    values : list of float
        Scores, NaN where a part had nothing to score.
    """
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def blend_note(blend: Blend) -> str | None:
    """A warning for the run when the picked weight keeps only the backbone, else None.

    Parameters
    ----------
    blend : Blend
        As :func:`pick_blend` returned it.
    """
    if blend.weight < 1.0:
        return None
    return ("on its training tracks the head did not rank better than the backbone at any blend weight, so "
            "search with it ranks as the backbone does (blend weight 1.0); more tracks per folder or crate help")


def apply_blend(result: Any, blend: Blend, *, train: EmbeddingSet, val: EmbeddingSet,
                test: EmbeddingSet) -> np.ndarray:
    """Score the blended model as the run's ``model`` (the head alone moves to ``head_alone``); return the
    test windows' blended vectors.

    ``result.metrics["model"]`` ``val`` and ``test`` are recomputed on the blended vectors with the
    same queries as the head's (validation tracks querying validation and training tracks; test
    tracks among themselves), so the baselines stay comparable; ``result.metrics["blend"]`` records
    the weight and how it was picked. With search's statistics (``blend.backbone == "search"``) the backbone
    baseline is scored on the backbone as search z-scores it (a share of 1 exactly), so a head that adds nothing
    (share 1) equals its baseline and the activation gate refuses it; the training windows' z-score the
    triplet job scored moves to ``baseline_training_stats``.

    Parameters
    ----------
    result : TripletResult
        The run's result; its ``metrics`` are updated in place.
    blend : Blend
        The picked blend.
    train, val, test : EmbeddingSet
        The run's splits (``val`` and ``test``: original audio).

    Returns
    -------
    np.ndarray [shape=(len(test), backbone dim + head out_dim), dtype=float32]
    """
    from workbench.evaluate.retrieval import retrieval_metrics
    from workbench.train.triplet_eval import _labels_in, _val_metrics, embed

    def vec(X: np.ndarray) -> np.ndarray:
        """Blended vectors of windows.

        Parameters
        ----------
        X : np.ndarray [shape=(n, d)]
            Raw backbone window vectors.
        """
        return blend.vectors(X, embed(result.model, X))

    def scored(f: Any, test_vec: np.ndarray) -> dict[str, Any]:
        """``val`` and ``test`` retrieval metrics of the vectors ``f`` gives (``test_vec``: the test windows').

        Parameters
        ----------
        f : callable
            Raw backbone window vectors -> vectors scored.
        test_vec : np.ndarray
            ``f(test.X)``.
        """
        out: dict[str, Any] = {}
        ref = train.originals()
        if len(val):
            out["val"] = _val_metrics(f(val.X), _labels_in(val, train.classes), val.track_ids, f(ref.X), ref.y,
                                      ref.track_ids)
        if len(test):
            out["test"] = retrieval_metrics(test_vec, _labels_in(test, train.classes), groups=test.track_ids)
        return out

    metrics = result.metrics
    metrics["head_alone"] = metrics.get("model", {})
    test_vec = vec(test.X)
    metrics["model"] = scored(vec, test_vec)
    if blend.backbone == "search":  # the baseline as search ranks the backbone: share 1 of this blend, exactly
        alone = Blend(1.0, blend.mean, blend.std, backbone="search")

        def backbone(X: np.ndarray) -> np.ndarray:
            """The backbone part of share 1 (no head column).

            Parameters
            ----------
            X : np.ndarray [shape=(n, d)]
                Raw backbone window vectors.
            """
            return alone.vectors(X, np.zeros((len(X), 1)))

        metrics["baseline_training_stats"] = metrics.get("baseline", {})
        metrics["baseline"] = scored(backbone, backbone(test.X))
    metrics["blend"] = {"weight": blend.weight, **blend.scores, "backbone": blend.backbone,
                        "said": f"backbone share {blend.weight:g} of the cosine (picked on training folds; "
                                f"{blend.backbone_said})"}
    note = blend_note(blend)
    if note:
        metrics.setdefault("warnings", []).append(note)
    return test_vec


def blend_saver(model: EmbeddingHead, blend: Blend) -> Any:
    """A ``save_model(path)`` for the run: the head's checkpoint with the blend beside it (key ``"blend"``).

    Parameters
    ----------
    model : EmbeddingHead
        The trained head.
    blend : Blend
        Its blend.
    """
    import torch

    from workbench.fileio import atomic_write
    from workbench.models.heads import checkpoint

    def save(path: Any) -> None:
        """Write the checkpoint.

        Parameters
        ----------
        path : path
            ``model.pt`` in the run folder.
        """
        atomic_write(path, lambda tmp: torch.save({**checkpoint(model), "blend": blend.to_checkpoint()}, tmp))

    return save
