"""Train/test splits of rows that never put one track (or, where known, one artist) on both sides.

The helpers take plain arrays (the group of each row, its class), so any module can use them;
:meth:`workbench.train.datasets.EmbeddingSet.split` wraps them. :func:`per_class_split` holds out
whole tracks, at least two of each class that can spare them, so that every held-out query has
another track of its class to find (retrieval metrics never count the query's own track).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.errors import ParameterError, WorkbenchError
from workbench.validate import check_float, check_int, check_seed
from workbench.wording import count_verb


class LeakageError(WorkbenchError, ValueError):
    """A track (or an artist) has rows on both sides of a split."""


# --------------------------------------------------------------------------------------------
# Grouped splits (plain arrays; no assumption about what a row is)
# --------------------------------------------------------------------------------------------


def split_groups(groups: Sequence[Any] | np.ndarray, *, artists: Sequence[Any] | np.ndarray | None = None) -> np.ndarray:
    """The group of each row: ``"artist:<name>"`` where the artist is known, else ``"track:<group>"``.

    Without ``artists`` the groups are returned as given (as an array).

    Parameters
    ----------
    groups : sequence or np.ndarray [shape=(n,)]
        The group (track) of each row.
    artists : sequence or np.ndarray [shape=(n,)], optional
        The artist of each row; None or blank means unknown.

    Returns
    -------
    np.ndarray [shape=(n,)]

    Raises
    ------
    ParameterError
        ``groups`` not 1-d, or ``artists`` of another length.
    """
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ParameterError(f"groups must be a 1-d sequence; got shape {g.shape}")
    if artists is None:
        return g
    a = np.asarray(artists, dtype=object)
    if a.shape != g.shape:
        raise ParameterError(f"artists must have one entry per group entry ({g.shape[0]}); got {a.shape[0]}")
    return np.array([f"artist:{str(art).strip().casefold()}" if art is not None and str(art).strip()
                     else f"track:{grp}" for grp, art in zip(g.tolist(), a.tolist(), strict=True)], dtype=object)


def grouped_split(groups: Sequence[Any] | np.ndarray, *, test_size: float = 0.2, seed: int = 0,
                  artists: Sequence[Any] | np.ndarray | None = None,
                  y: Sequence[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` with no group on both sides.

    Parameters
    ----------
    groups : sequence
        The group of each row (e.g. its track id).
    test_size : float in (0, 1)
        Fraction of groups for the test side (about; whole groups move).
    seed : int >= 0
    artists : sequence or None
        Artist of each row; where known, all of an artist's tracks go to one side.
    y : sequence of int or None
        Classes: when given, the split is stratified (``StratifiedGroupKFold`` with
        ``round(1 / test_size)`` folds, first fold as test), else ``GroupShuffleSplit``.
    """
    from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

    check_float("test_size", test_size, min=0, max=1, min_open=True, max_open=True, what="a fraction")
    seed = check_seed("seed", seed)
    g = split_groups(groups, artists=artists)
    n_groups = len(set(g.tolist()))
    if n_groups < 2:
        raise ParameterError(f"a grouped split needs at least 2 groups (tracks, or artists where known); got "
                             f"{n_groups} in {len(g)} rows" + ("; pass artists=None (by_artist=False) when one "
                                                              "artist made every track" if artists is not None else ""))
    rows = np.arange(len(g))
    if y is not None:
        yy = np.asarray(y).reshape(-1)
        if yy.shape[0] != len(g):
            raise ParameterError(f"y must have one entry per row ({len(g)}); got {yy.shape[0]}")
        n_splits = min(max(2, int(round(1.0 / test_size))), n_groups)
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        train, test = next(iter(splitter.split(rows, yy, groups=g)))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(iter(splitter.split(rows, groups=g)))
    assert_no_leakage(groups, train, test, artists=artists)
    return np.sort(train), np.sort(test)


def grouped_kfold(groups: Sequence[Any] | np.ndarray, *, n_splits: int = 5, seed: int = 0,
                  artists: Sequence[Any] | np.ndarray | None = None,
                  y: Sequence[int] | np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` grouped folds ``(train, test)``; every row is in exactly one test fold.

    Stratified by ``y`` when given (``StratifiedGroupKFold``), else ``GroupKFold``; both shuffled by ``seed``.

    Parameters
    ----------
    groups : sequence or np.ndarray [shape=(n,)]
        The group (track) of each row.
    n_splits : int >= 2
        Number of folds; at most the number of groups.
    seed : int >= 0
        Seed of the shuffle.
    artists : sequence or np.ndarray [shape=(n,)], optional
        The artist of each row; when given, an artist's tracks stay in one fold.
    y : sequence or np.ndarray [shape=(n,)], optional
        Classes to stratify by.

    Returns
    -------
    list of (train, test)
        Sorted row-index arrays.

    Raises
    ------
    ParameterError
        Fewer groups than folds, or ``y`` of another length.
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    check_int("n_splits", n_splits, min=2)
    seed = check_seed("seed", seed)
    g = split_groups(groups, artists=artists)
    n_groups = len(set(g.tolist()))
    if n_groups < n_splits:
        raise ParameterError(f"n_splits={n_splits} needs at least as many groups (tracks, or artists where known); "
                             f"got {n_groups}")
    rows = np.arange(len(g))
    if y is not None:
        yy = np.asarray(y).reshape(-1)
        if yy.shape[0] != len(g):
            raise ParameterError(f"y must have one entry per row ({len(g)}); got {yy.shape[0]}")
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(rows, yy, groups=g)
    else:
        folds = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(rows, groups=g)
    out = []
    for train, test in folds:
        assert_no_leakage(groups, train, test, artists=artists)
        out.append((np.sort(train), np.sort(test)))
    return out


def assert_no_leakage(groups: Sequence[Any] | np.ndarray, train: Sequence[int] | np.ndarray,
                      test: Sequence[int] | np.ndarray, *, artists: Sequence[Any] | np.ndarray | None = None) -> None:
    """Raise :class:`LeakageError` when a group (track, or artist where known) has rows on both sides.

    ``train`` and ``test`` are row indices into ``groups`` (and ``artists``); they must not overlap.

    Parameters
    ----------
    groups : sequence or np.ndarray [shape=(n,)]
        The group (track) of each row.
    train, test : sequence or np.ndarray of int
        Row indices of each side.
    artists : sequence or np.ndarray [shape=(n,)], optional
        The artist of each row; a known artist on both sides is leakage too.

    Raises
    ------
    LeakageError
        A row, a track or an artist is on both sides.
    """
    g = np.asarray(groups)
    tr, te = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
    both_rows = np.intersect1d(tr, te)
    if both_rows.size:
        raise LeakageError(f"rows {both_rows[:10].tolist()} are in both train and test")
    leaked = sorted(set(g[tr].tolist()) & set(g[te].tolist()), key=str)
    if leaked:
        raise LeakageError(f"{count_verb(len(leaked), 'track', 'has', 'have')} rows on both sides of the split: {leaked[:10]}")
    if artists is not None:
        a = split_groups(g, artists=artists)
        leaked = sorted({x for x in set(a[tr].tolist()) & set(a[te].tolist()) if x.startswith("artist:")})
        if leaked:
            raise LeakageError(f"{count_verb(len(leaked), 'artist', 'has', 'have')} tracks on both sides of the split: "
                               f"{[x[len('artist:'):] for x in leaked[:10]]}")


def per_class_split(track_ids: Sequence[Any] | np.ndarray, y: Sequence[Any] | np.ndarray, *, test_size: float,
                    seed: int = 0, min_per_class: int = 2) -> tuple[np.ndarray, np.ndarray] | None:
    """Row indices ``(train, test)`` holding out whole tracks, at least ``min_per_class`` tracks of
    each class that can spare them, so every held-out query has a relevant track to find.

    A class of ``n`` tracks gives ``max(min_per_class, round(n * test_size))`` tracks to the test side
    when at least ``min_per_class`` stay for training, else none. Returns ``None`` when no class can
    spare tracks (then a plain grouped split is the fallback).

    Parameters
    ----------
    track_ids : array [shape=(n,)]
        The track of each row (the split group).
    y : array [shape=(n,)]
        The class of each row (one class per track).
    test_size : float in (0, 1)
    seed : int >= 0
        Which tracks of a class are held out.
    min_per_class : int
        Tracks of a class held out at least, and kept for training at least.

    Returns
    -------
    train, test : np.ndarray [shape=(k,) of int], or None
        Sorted row indices; None when no class can spare tracks.

    Raises
    ------
    ParameterError
        ``test_size`` out of (0, 1), or ``track_ids`` and ``y`` not 1-d of the same length.
    """
    check_float("test_size", test_size, min=0, max=1, min_open=True, max_open=True, what="a fraction")
    tids, yy = np.asarray(track_ids), np.asarray(y)
    if tids.shape != yy.shape or tids.ndim != 1:
        raise ParameterError(f"track_ids and y must be 1-d with one entry per row; got {tids.shape} and {yy.shape}")
    rng = np.random.default_rng(seed)
    class_of_track: dict[Any, Any] = {}
    for t, c in zip(tids.tolist(), yy.tolist(), strict=True):
        class_of_track.setdefault(t, c)
    by_class: dict[Any, list[Any]] = {}
    for t, c in sorted(class_of_track.items(), key=lambda kv: str(kv[0])):
        by_class.setdefault(c, []).append(t)
    held: list[Any] = []
    for c in sorted(by_class, key=str):
        members = by_class[c]
        k = max(min_per_class, int(round(len(members) * test_size)))
        if len(members) - k >= min_per_class:
            held += [members[i] for i in rng.permutation(len(members))[:k]]
    if not held:
        return None
    test_mask = np.isin(tids, np.asarray(held, dtype=tids.dtype))
    return np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
