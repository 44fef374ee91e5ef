"""Training data from cached embeddings: track vectors and section windows, classes, grouped splits.

An :class:`EmbeddingSet` is a table of vectors, one row per track, window or augmented view, with
its class, its track (the split group), its view number (0 = the original audio) and its artist.

Splits are always grouped: every row of a track (its windows and its augmented views) falls on
one side, and, when artists are given, every track of an artist too. :func:`assert_no_leakage`
checks a split; the split helpers here take plain arrays, so any module can use them.

>>> data = track_embeddings(library, classes_from="folder", n_views=2)  # doctest: +SKIP
>>> train, test = data.split(test_size=0.25, seed=0)                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.evaluate.splits import (  # noqa: F401  (re-exported: splits that never leak a track)
    LeakageError,
    assert_no_leakage,
    grouped_kfold,
    grouped_split,
    per_class_split,
    split_groups,
)
from workbench.train.classes import (  # noqa: F401  (re-exported: the classes of a track)
    CLASS_SOURCES,
    ClassChoice,
    ClassSource,
    check_classes_from,
    class_of,
    resolve_classes,
    track_style,
)
from workbench.train.section_sources import (  # noqa: F401  (re-exported: where section rows come from)
    _section_dict,
    demo_sections,
    library_sections,
    whole_tracks,
)
from workbench.validate import check_float, check_int

if TYPE_CHECKING:
    from workbench.augment import AugmentSettings
    from workbench.embed.batch import Backbone
    from workbench.library import Library, Track

# --------------------------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingSet:
    """Vectors with classes and groups.

    Attributes
    ----------
    X : np.ndarray [shape=(n, d), dtype=float32]
    y : np.ndarray [shape=(n,), dtype=int64]
        Class index of each row into ``classes``.
    classes : list of str
    track_ids : np.ndarray [shape=(n,), dtype=int64]
        The track each row comes from (the split group).
    view : np.ndarray [shape=(n,), dtype=int64]
        0 for the original audio, ``i >= 1`` for augmented view ``i``.
    artists : np.ndarray [shape=(n,), dtype=object] or None
        Artist of each row's track (``None`` where unknown).
    rows : dict of str to np.ndarray
        Other per-row columns (e.g. ``start_s``, ``end_s``, ``section`` for windows).
    meta : dict
        How the set was built (backbone, classes_from, window_s, dropped tracks, ...).
    """

    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    track_ids: np.ndarray
    view: np.ndarray
    artists: np.ndarray | None = None
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X, dtype=np.float32)
        if X.ndim != 2:
            raise ParameterError(f"X must have shape (n, d); got {X.shape}")
        n = X.shape[0]
        y = np.asarray(self.y, dtype=np.int64).reshape(-1)
        tids = np.asarray(self.track_ids, dtype=np.int64).reshape(-1)
        view = np.asarray(self.view, dtype=np.int64).reshape(-1)
        for name, arr in (("y", y), ("track_ids", tids), ("view", view)):
            if arr.shape[0] != n:
                raise ParameterError(f"{name} must have one entry per row of X ({n}); got {arr.shape[0]}")
        if n and (y.min() < 0 or y.max() >= len(self.classes)):
            raise ParameterError(f"y must index classes (0..{len(self.classes) - 1}); got {y.min()}..{y.max()}")
        artists = None
        if self.artists is not None:
            artists = np.asarray(self.artists, dtype=object).reshape(-1)
            if artists.shape[0] != n:
                raise ParameterError(f"artists must have one entry per row of X ({n}); got {artists.shape[0]}")
        rows = {k: np.asarray(v) for k, v in self.rows.items()}
        for k, v in rows.items():
            if v.shape[0] != n:
                raise ParameterError(f"rows[{k!r}] must have one entry per row of X ({n}); got {v.shape[0]}")
        for name, value in (("X", X), ("y", y), ("track_ids", tids), ("view", view), ("artists", artists),
                            ("rows", rows), ("classes", [str(c) for c in self.classes]), ("meta", dict(self.meta))):
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def groups(self) -> np.ndarray:
        """The split groups: the track id of each row."""
        return self.track_ids

    @property
    def dim(self) -> int:
        """Columns of ``X``."""
        return int(self.X.shape[1])

    def class_counts(self) -> dict[str, int]:
        """Rows per class name (classes with no rows included, as 0)."""
        counts = np.bincount(self.y, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, counts, strict=True)}

    def subset(self, index: np.ndarray | Sequence[int]) -> EmbeddingSet:
        """The rows ``index`` (integer positions or a boolean mask); classes are kept as they are.

        Parameters
        ----------
        index : np.ndarray [shape=(k,) of int, or (n_rows,) of bool] or sequence of int
            Row positions, or a mask over all rows.

        Raises
        ------
        ParameterError
            A boolean mask of the wrong length.
        """
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape[0] != len(self):
                raise ParameterError(f"a boolean index must have {len(self)} entries; got {idx.shape[0]}")
            idx = np.flatnonzero(idx)
        return EmbeddingSet(self.X[idx], self.y[idx], list(self.classes), self.track_ids[idx], self.view[idx],
                            None if self.artists is None else self.artists[idx],
                            {k: v[idx] for k, v in self.rows.items()}, dict(self.meta))

    def originals(self) -> EmbeddingSet:
        """Only the rows of the original audio (view 0)."""
        return self.subset(self.view == 0)

    def split(self, *, test_size: float = 0.2, seed: int = 0, by_artist: bool = True,
              stratify: bool = True) -> tuple[EmbeddingSet, EmbeddingSet]:
        """Grouped train/test split (by track, and by artist where known when ``by_artist``).

        Parameters
        ----------
        test_size : float in (0, 1)
            Share of the groups held out (see :func:`grouped_split`).
        seed : int
            Seed of the split.
        by_artist : bool
            Keep every track of an artist on one side.
        stratify : bool
            Balance the classes across the sides.

        Returns
        -------
        train, test : EmbeddingSet
        """
        train, test = grouped_split(self.track_ids, test_size=test_size, seed=seed,
                                    artists=self.artists if by_artist else None, y=self.y if stratify else None)
        return self.subset(train), self.subset(test)

    def kfold(self, *, n_splits: int = 5, seed: int = 0, by_artist: bool = True,
              stratify: bool = True) -> list[tuple[EmbeddingSet, EmbeddingSet]]:
        """Grouped K folds as ``(train, test)`` sets.

        Parameters
        ----------
        n_splits : int >= 2
            Number of folds.
        seed : int
            Seed of the folds.
        by_artist : bool
            Keep every track of an artist in one fold.
        stratify : bool
            Balance the classes across the folds.
        """
        folds = grouped_kfold(self.track_ids, n_splits=n_splits, seed=seed,
                              artists=self.artists if by_artist else None, y=self.y if stratify else None)
        return [(self.subset(a), self.subset(b)) for a, b in folds]


# --------------------------------------------------------------------------------------------
# Classes of a track (see workbench.train.classes)
# --------------------------------------------------------------------------------------------

def _per_track_source(library: Library, tracks: list[Track], classes_from: ClassSource) -> ClassSource:
    """``"auto"`` and ``"crates"`` resolved into a mapping track id -> class (they need the library)."""
    if isinstance(classes_from, str) and classes_from in ("auto", "crates"):
        return resolve_classes(library, tracks, classes_from).classes
    return classes_from


def _source_name(classes_from: ClassSource) -> str:
    return classes_from if isinstance(classes_from, str) else "custom"


def _encode(names: list[str]) -> tuple[np.ndarray, list[str]]:
    classes = sorted(set(names), key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[n] for n in names], dtype=np.int64), classes


# --------------------------------------------------------------------------------------------
# Frame embeddings of the originals and of augmented views
# --------------------------------------------------------------------------------------------


def _frames(library: Library, tracks: list[Track], backbone: Backbone, *, n_views: int,
            augment_settings: AugmentSettings | None, seed: int,
            progress: bool | str) -> tuple[dict[int, list[tuple[int, np.ndarray, np.ndarray]]], list[tuple[str, str]]]:
    """``track id -> [(view, embeddings, timestamps_s), ...]`` (view 0 = original), and failures."""
    from workbench.embed.batch import cache_for, embed_library

    summary = embed_library(library, backbone=backbone, tracks=tracks, progress=progress)
    failed = list(summary.failed)
    cache = cache_for(library, backbone)
    out: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for t in tracks:
        hit = cache.get(t.content_hash)
        if hit is not None:
            out[t.id] = [(0, np.asarray(hit[0], dtype=np.float32), np.asarray(hit[1], dtype=np.float64))]
    if n_views:
        from workbench.augment import embed_views

        views = embed_views(library, [t for t in tracks if t.id in out], backbone=backbone, n_views=n_views,
                            settings=augment_settings, seed=seed, progress=progress)
        failed += views.failed
        for v in views.views:
            out[v.track_id].append((v.view + 1, v.embeddings, v.timestamps_s))
    return out, failed


def _prepare(library: Library, tracks: Iterable[Track] | None, backbone: Backbone | None,
             n_views: int) -> tuple[list[Track], Backbone]:
    from workbench.embed.features import FeatureFrontend

    check_int("n_views", n_views, min=0)
    b = backbone if backbone is not None else FeatureFrontend()
    return list(library.tracks() if tracks is None else tracks), b


def track_embeddings(library: Library, tracks: Iterable[Track] | None = None, *,
                     backbone: Backbone | None = None,
                     classes_from: ClassSource = "auto", n_views: int = 0, augment_settings: AugmentSettings | None = None,
                     seed: int = 0, with_std: bool = False, progress: bool = True) -> EmbeddingSet:
    """One pooled vector per track (and per augmented view of it).

    Parameters
    ----------
    library : workbench.library.Library
    tracks : iterable of Track or None
        Default: every track of the library.
    backbone : Backbone or None
        Default: the feature frontend. Frame embeddings are computed once and cached.
    classes_from : "auto", "crates", "folder", "artist", "self", mapping or callable
        See :mod:`workbench.train.classes`. Tracks without a class are left out (listed in
        ``meta["dropped"]``).
    n_views : int >= 0
        Augmented views per track (rows with ``view`` 1..n_views) beside the original (view 0).
    augment_settings : workbench.augment.AugmentSettings or None
    seed : int >= 0
        Seed of the augmented views.
    with_std : bool
        Pool the frames' standard deviation too (doubles the size).
    """
    from workbench.embed.features import pool

    check_classes_from(classes_from, allow_label=False)
    tracks, b = _prepare(library, tracks, backbone, n_views)
    if classes_from in ("self", "track") and n_views < 1:
        raise ParameterError(f"classes_from={classes_from!r} makes each track its own class, which needs positives: "
                             f"pass n_views >= 1 (augmented views); got n_views={n_views}")
    source = _per_track_source(library, tracks, classes_from)
    labelled = [(t, class_of(t, source)) for t in tracks]
    dropped = [t.id for t, c in labelled if c is None]
    keep = [(t, c) for t, c in labelled if c is not None]
    frames, failed = _frames(library, [t for t, _ in keep], b, n_views=n_views, augment_settings=augment_settings,
                             seed=seed, progress=progress)
    X, names, tids, views, artists = [], [], [], [], []
    for t, c in keep:
        for view, emb, _ in frames.get(t.id, []):
            X.append(pool(emb, with_std=with_std))
            names.append(c)
            tids.append(t.id)
            views.append(view)
            artists.append(t.artist)
    dim = b.dim * (2 if with_std else 1)
    y, classes = _encode(names)
    return EmbeddingSet(np.stack(X) if X else np.zeros((0, dim), np.float32), y, classes, tids, views, artists,
                        meta={"kind": "tracks", "backbone": b.name, "backbone_settings": b.settings,
                              "classes_from": _source_name(classes_from),
                              "n_views": int(n_views), "seed": int(seed), "with_std": bool(with_std),
                              "dropped": dropped, "failed": failed})


def section_windows(library: Library, sections: Iterable[Any] | None = None, *,
                    backbone: Backbone | None = None,
                    window_s: float = 8.0, hop_s: float | None = None, classes_from: ClassSource = "label",
                    n_views: int = 0, augment_settings: AugmentSettings | None = None, seed: int = 0, with_std: bool = False,
                    progress: bool | str = True) -> EmbeddingSet:
    """Windows of pooled frame embeddings inside labelled sections, one row per window (and view).

    Parameters
    ----------
    library : workbench.library.Library
    sections : iterable or None
        Dicts (or objects) with ``track_id``, ``label``, ``start_s``, ``end_s``; default: the
        library's stored labels (:func:`library_sections`). See also :func:`demo_sections`,
        :func:`whole_tracks`.
    backbone : Backbone or None
    window_s : float > 0
        Window length in seconds; a section shorter than this gives one window (all of it).
    hop_s : float > 0 or None
        Hop between windows in seconds (default ``window_s``: no overlap).
    classes_from : "label", "auto", "crates", "folder", "artist", "self", mapping or callable
        ``"label"``: the section's label; otherwise the track's class (:mod:`workbench.train.classes`).
    n_views, augment_settings, seed
        Augmented views of each track, as in :func:`track_embeddings` (their time axis is mapped
        back, so a window covers the same music in every view).
    with_std : bool
        Pool the frames' standard deviation too (doubles the size).
    progress : bool or str
        Show progress bars while embedding; a str names the embedding's bar (:func:`embed_library`).

    Returns
    -------
    EmbeddingSet
        ``rows`` holds ``start_s``, ``end_s`` (seconds, original time) and ``section`` (the label).
    """
    from workbench.embed.features import pool

    check_classes_from(classes_from, allow_label=True)
    check_float("window_s", window_s, min=0, min_open=True, what="a number of seconds")
    hop = float(window_s) if hop_s is None else hop_s
    if not isinstance(hop, (int, float)) or isinstance(hop, bool) or not hop > 0:
        raise ParameterError(f"hop_s must be a number of seconds > 0 or None; got {hop_s!r}")
    secs = [_section_dict(s) for s in (library_sections(library) if sections is None else sections)]
    by_id = {}
    for s in secs:
        if s["track_id"] not in by_id:
            by_id[s["track_id"]] = library.track(s["track_id"])
    tracks, b = _prepare(library, list(by_id.values()), backbone, n_views)
    source = classes_from if classes_from == "label" else _per_track_source(library, tracks, classes_from)
    frames, failed = _frames(library, tracks, b, n_views=n_views, augment_settings=augment_settings, seed=seed,
                             progress=progress)
    X, names, tids, views, artists, starts, ends, labels = [], [], [], [], [], [], [], []
    dropped = []
    for s in secs:
        t = by_id[s["track_id"]]
        c = s["label"] if classes_from == "label" else class_of(t, source)
        if c is None:
            dropped.append(t.id)
            continue
        length = s["end_s"] - s["start_s"]
        n_win = 1 if length <= window_s else 1 + int(np.floor((length - window_s) / hop + 1e-9))
        for k in range(n_win):
            a = s["start_s"] + k * hop
            z = min(a + window_s, s["end_s"])
            for view, emb, ts in frames.get(t.id, []):
                inside = (ts >= a) & (ts < z)
                if not inside.any():  # shorter than the hop: the frame nearest the middle
                    inside = np.zeros(ts.shape, dtype=bool)
                    inside[int(np.argmin(np.abs(ts - (a + z) / 2)))] = True
                X.append(pool(emb[inside], with_std=with_std))
                names.append(c)
                tids.append(t.id)
                views.append(view)
                artists.append(t.artist)
                starts.append(a)
                ends.append(z)
                labels.append(s["label"])
    dim = b.dim * (2 if with_std else 1)
    y, classes = _encode(names)
    return EmbeddingSet(np.stack(X) if X else np.zeros((0, dim), np.float32), y, classes, tids, views, artists,
                        rows={"start_s": np.asarray(starts, dtype=np.float64),
                              "end_s": np.asarray(ends, dtype=np.float64),
                              "section": np.asarray(labels, dtype=object)},
                        meta={"kind": "windows", "backbone": b.name, "backbone_settings": b.settings,
                              "classes_from": _source_name(classes_from),
                              "window_s": float(window_s), "hop_s": float(hop), "n_views": int(n_views),
                              "seed": int(seed), "with_std": bool(with_std), "dropped": sorted(set(dropped)),
                              "failed": failed})
