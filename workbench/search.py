"""Similar tracks in a library: an embedding model + analysis -> a saved window-set index -> explained matches.

The model is the registry's active embedding head on the library's backbone by default, else the
backbone (:mod:`workbench.similarity.model`); every result names it. The index lives beside the
library's database (``<db folder>/similarity/<backbone>[+head<N>-<weights>]/``), is rebuilt when
the model changes, and is brought up to date incrementally: tracks added to the library are
added, tracks gone or changed are removed. A track is a set of window vectors
(:mod:`workbench.similarity.sets`), so an excerpt finds its own track; a bare backbone's windows
are z-scored, and the vibe is calibrated so that 0 % is a typical pair of the library's tracks, with
statistics fixed when the index was built (:meth:`LibrarySearch.rebuild` refits them); a library of fewer
than :data:`MIN_CALIBRATION_TRACKS` tracks has no typical pair to know, so its vibe is the raw window cosine
and every explanation says so.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench import audio
from workbench.analysis import analyze, analyze_library, effective_settings, track_analysis
from workbench.embed.batch import Backbone, embed_library
from workbench.errors import AudioError, IndexFileError, ParameterError, TrackNotFoundError, failure_reason
from workbench.library import Library, Track
from workbench.similarity.library_query import (
    SimilarTrack,
    is_file,
    tempi_by_prior,
    unknown_query,
    weights_used,
)
from workbench.similarity.sets_windows import reduce_windows, track_signature
from workbench.similarity.window_stats import fit_window_stats, read_window_stats

if TYPE_CHECKING:
    from workbench.similarity.learned_weights import LearnedWeights
    from workbench.similarity.model import EmbeddingModel
    from workbench.similarity.scores import WeightsLike
    from workbench.similarity.sets import TrackSetIndex

#: Fewer indexed tracks than this leave the vibe uncalibrated (0 % = window cosine 0, not "a typical pair"): the
#: median of 3 tracks' 3 pairs is one of them, so that pair and every pair below it read 0 % (QA, session 20: both
#: matches of a 3-track library "different vibe (0%)"). The index is rebuilt, and calibrated, once the library has them.
MIN_CALIBRATION_TRACKS: int = 10

#: What the saved index holds; a saved index of another format is rebuilt (2: calibrated vibe; 3: tempo roughness).
_INDEX_FORMAT = "window-sets-3"
#: Window vectors kept per library track (more are merged by k-means, weighted by how many they stand for).
DEFAULT_MAX_WINDOWS = 24
#: How the index is searched: ``"exact"`` (alias ``"flat"``) scores every window, ``"pruned"`` returns the same
#: from cone bounds (:mod:`workbench.similarity.sets_search`), ``"auto"`` prunes from :data:`PRUNE_FROM_TRACKS` on.
SEARCH_KINDS: tuple[str, ...] = ("auto", "exact", "pruned", "flat")
#: ``kind="auto"`` searches with cone bounds from this many tracks on (below, a scan costs about as much).
PRUNE_FROM_TRACKS: int = 2000
#: Which term weights ``similar(weights=None)`` uses: the defaults, or weights learned from the library's folders or
#: crates (:mod:`workbench.similarity.learned_weights`); ``"auto"``: see :data:`AUTO_LEARNED`.
TERM_WEIGHTS: tuple[str, ...] = ("auto", "default", "learned")
#: How search adds window-pair cosines up to a vibe (:mod:`workbench.similarity.sets_aggregation`); chosen by
#: measurement on dev libraries (docs/experiments/search.md, session 17).
AGGREGATION: str = "chamfer"
#: Whether ``term_weights="auto"`` uses learned weights (when they can be fitted); chosen by measurement (README).
AUTO_LEARNED: bool = False


class LibrarySearch:
    """Explained similarity search over a library's analysed, embedded tracks, ranked by an embedding model.

    The model (:func:`~workbench.similarity.model.resolve_model`) is the registry's active
    ``head`` by default (when one was trained on the library's backbone), else the backbone, or the
    active ``embedding`` version when it is a CNN activated after the active head;
    ``model="backbone"``, ``model="head@3"`` or ``model="cnn"`` chooses. Tracks are window sets
    (:mod:`workbench.similarity.sets`): a whole-track vibe that an excerpt still matches. Tracks
    with no steady beat are searched too, their tempo said to be unknown.

    Parameters
    ----------
    library : Library
    backbone : Backbone or None
        The library's backbone; ``None``: :func:`~workbench.embed.batch.default_backbone`.
    model : str, EmbeddingModel or None
        ``None`` (active head, else backbone), ``"backbone"``, ``"head"``, ``"head@N"``, ``"cnn"``, ``"cnn@N"``
        (a trained CNN, :mod:`workbench.similarity.model_cnn`), or a model.
    progress : bool
        Progress bars while analysing and embedding what is missing.
    kind : {"auto", "exact", "pruned", "flat"}
        How the index is searched; every kind is exact (the same tracks, order and scores): ``"exact"``
        (or ``"flat"``) scores every window, ``"pruned"`` only the tracks that cone bounds cannot rule
        out (bounds saved beside the index), ``"auto"`` prunes from :data:`PRUNE_FROM_TRACKS` tracks on.
    max_windows : int >= 1
        Window vectors kept per library track.
    term_weights : {"auto", "default", "learned"}
        The weights of :meth:`similar` when it is given none: the defaults, or weights fitted on the
        library's folders or crates (:meth:`learned_weights`); ``"auto"``: learned when
        :data:`AUTO_LEARNED`, else the defaults. Every result names the weights used.
    aggregation : {"chamfer", "mean", "topk", "softmax"}
        How two tracks' window vectors add up to their vibe (:mod:`workbench.similarity.sets_aggregation`;
        default :data:`AGGREGATION`); the saved index is the same for every rule, its calibration is redone
        in memory for another.
    unknown : {"expected", "drop"} or None
        What a track's unknown tempo or key counts as where the query's is known
        (:data:`workbench.similarity.sets_terms.UNKNOWN_TERMS`): the query's average agreement with the
        library's tracks on that term, or left out with the other weights renormalised; None: the default
        (:data:`~workbench.similarity.sets_terms.UNKNOWN`).
    """

    def __init__(self, library: Library, *, backbone: Backbone | None = None, model: str | EmbeddingModel | None = None,
                 progress: bool = True, kind: str = "auto", max_windows: int = DEFAULT_MAX_WINDOWS,
                 term_weights: str = "auto", aggregation: str | None = None, unknown: str | None = None) -> None:
        from workbench.similarity.model import EmbeddingModel, resolve_model
        from workbench.similarity.sets_aggregation import check_aggregation
        from workbench.similarity.sets_terms import check_unknown

        self.aggregation = check_aggregation(AGGREGATION if aggregation is None else aggregation)
        self.unknown = check_unknown(unknown)

        if not isinstance(library, Library):
            raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
        if kind not in SEARCH_KINDS:
            raise ParameterError(f"kind must be one of {SEARCH_KINDS}; got {kind!r}")
        if term_weights not in TERM_WEIGHTS:
            raise ParameterError(f"term_weights must be one of {TERM_WEIGHTS}; got {term_weights!r}")
        self.term_weights = term_weights
        if isinstance(max_windows, bool) or not isinstance(max_windows, int) or max_windows < 1:
            raise ParameterError(f"max_windows must be an integer >= 1; got {max_windows!r}")
        self.library = library
        self.model = model if isinstance(model, EmbeddingModel) else resolve_model(library, model, backbone=backbone)
        self.backbone = self.model.backbone
        self.backbone_said = self.model.backbone_said
        self.progress = progress
        self.kind = kind
        self.max_windows = max_windows
        root = Path(library.path).parent / "similarity"
        self.folder = root / (self.backbone.name if self.model.head is None else f"{self.backbone.name}+{self.model.tag}")
        if self.model.blend is not None and self.model.blend.backbone == "search":  # still search's statistics?
            from workbench.similarity.blend import stale_search_note

            stale = stale_search_note(self.model.blend, LibrarySearch(library, model="backbone", backbone=self.backbone,
                                                                      progress=False).window_stats())
            if stale:
                self.model = dataclasses.replace(self.model, note="; ".join(filter(None, (self.model.note, stale))))
        self.index: TrackSetIndex | None = None
        self._index_stats: tuple[np.ndarray, np.ndarray] | None = None  # what ``index`` was built with
        self.calibrated = True  # the index's vibe is calibrated (MIN_CALIBRATION_TRACKS); set with the index
        self._query_priors: dict[int, str] = {}  # an outside file's query: track id -> the other prior it was read with
        self._file_tempi: dict[tuple[str, str], float | None] = {}  # an outside file's tempo by (content, prior)
        self.skipped: list[Track] = []  # tracks without a beat: searched, their tempo unknown
        self._bounds_ready = False

    @property
    def model_said(self) -> str:
        """The model in words, as every result shows it: ``"head@3 (on features-v1)"``."""
        return self.model.said

    def _identity(self) -> dict[str, object]:
        m = self.model
        return {"format": _INDEX_FORMAT, "model": m.name, "model_key": m.key, "window_s": m.window_s, "hop_s": m.hop_s,
                "max_windows": self.max_windows, "backbone": self.backbone.name, "settings": self.backbone.settings}

    # -- building -------------------------------------------------------------------------
    def update(self) -> LibrarySearch:
        """Analyse and embed what is missing, then load the saved index and bring it up to date.

        The index is rebuilt when it was made by another model (or other window settings).
        """
        from workbench.similarity.sets import TrackSetIndex

        analyze_library(self.library, progress=self.progress)
        embed_library(self.library, backbone=self.backbone, progress=self.progress)
        doc = TrackSetIndex.manifest(self.folder)
        self.index = None  # the statistics of the index on disk now, read once for the index loaded below
        stats = self.window_stats()
        if doc is None or doc.get("identity") != json.loads(json.dumps(self._identity())) or (
                self.model.head is None and stats is None):
            return self.rebuild()
        try:
            index = TrackSetIndex.load(self.folder)
        except IndexFileError:  # damaged (a crash, a copy cut short): built again
            return self.rebuild()
        stored = doc.get("signatures", {})
        tracks, meta = self._tracks()
        calibrated = doc.get("calibrated", True) is not False  # older indexes: calibrated at their build
        if (len(tracks) >= MIN_CALIBRATION_TRACKS) != calibrated and (not calibrated or "calibrated" not in doc):
            return self.rebuild()  # grown past the minimum, or an older tiny index: calibrated as the library is now
        want = {t.id: i for i, t in enumerate(tracks)}
        signatures = {t.id: track_signature(t, m) for t, m in zip(tracks, meta, strict=True)}
        have = set(int(i) for i in index.ids)
        stale = sorted(i for i in have if i not in want or stored.get(str(i)) != signatures[i])
        new = [want[i] for i in sorted(set(want) - (have - set(stale)))]
        if stale:
            index.remove(stale)
        for i in new:
            sets = self._sets([tracks[i]], stats)
            if sets[0] is not None:
                index.add(tracks[i].id, sets[0][0], weights=sets[0][1], bpm=meta[i][0], camelot=meta[i][1],
                          energy=meta[i][2], tempo_rough=meta[i][3])
        if stale or new:
            index.save(self.folder, info={"identity": self._identity(), "model_said": self.model_said,
                                          "calibrated": calibrated,
                                          "signatures": {str(k): signatures[k] for k in map(int, index.ids)}})
        self._use(index, stats, calibrated=calibrated)
        return self

    def rebuild(self) -> LibrarySearch:
        """Build the index from scratch (refitting the backbone's window standardisation) and save it.

        Returns
        -------
        LibrarySearch
            ``self``.

        Raises
        ------
        ParameterError
            No track can be indexed.
        """
        from workbench.similarity.sets import TrackSetIndex

        analyze_library(self.library, progress=self.progress)
        embed_library(self.library, backbone=self.backbone, progress=self.progress)
        tracks, meta = self._tracks()
        raw = [self._windows(t) for t in tracks]
        keep = [i for i, w in enumerate(raw) if w is not None]
        if not keep:
            raise ParameterError("the library has no analysed, embedded track to search; scan a folder first")
        stats = None  # a head's vectors are not z-scored; backbone windows per dimension over the library's windows
        if self.model.head is None:
            stats = fit_window_stats(self.folder, np.concatenate([raw[i] for i in keep]))  # type: ignore[misc]
        index = TrackSetIndex(self.model.dim)
        for i in keep:
            vectors, weights = reduce_windows(self._scaled(raw[i], stats), max_windows=self.max_windows)  # type: ignore[arg-type]
            index.add(tracks[i].id, vectors, weights=weights, bpm=meta[i][0], camelot=meta[i][1], energy=meta[i][2],
                      tempo_rough=meta[i][3])
        calibrated = len(index) >= MIN_CALIBRATION_TRACKS
        if calibrated:
            index.calibrate()  # 0 % vibe = a typical pair of this library's tracks (kept until the next rebuild)
        signatures = {tracks[i].id: track_signature(tracks[i], meta[i]) for i in keep}
        index.save(self.folder, info={"identity": self._identity(), "model_said": self.model_said,
                                      "calibrated": calibrated, "signatures": {str(k): v for k, v in signatures.items()}})
        self._use(index, stats, calibrated=calibrated)
        return self

    def _use(self, index: TrackSetIndex, stats: tuple[np.ndarray, np.ndarray] | None, *, calibrated: bool) -> None:
        """Search ``index`` from now on, scored by :attr:`aggregation` (recalibrated in memory for a rule not
        saved), with ``stats``, the window statistics it was built with; ``calibrated``: its vibe is (else raw)."""
        if self.aggregation != index.aggregation:
            index.set_aggregation(self.aggregation)
            if not calibrated:
                index.baseline = 0.0
        self.index, self._bounds_ready, self._index_stats, self.calibrated = index, False, stats, calibrated

    def _tracks(self) -> tuple[list[Track], list[tuple[float | None, str | None, int, bool]]]:
        """Analysed tracks and their (BPM or None, Camelot or None, energy, tempo rough); ``skipped``: those with no beat."""
        tracks, meta, self.skipped = [], [], []
        for t in self.library.tracks():
            a = track_analysis(self.library, t, compute=False)
            if a is None:
                continue
            if a.bpm is None:
                self.skipped.append(t)
            tracks.append(t)
            meta.append((a.bpm, a.camelot if a.has_key else None, a.energy, bool(a.tempo_rough)))  # drums only: no key
        return tracks, meta

    def _rows(self) -> tuple[list[Track], list[np.ndarray], list[tuple[float | None, str, int, bool]]]:
        """Indexable tracks, their window vectors (the model's, before scaling) and analysis."""
        tracks, meta = self._tracks()
        rows = [(t, w, m) for t, m in zip(tracks, meta, strict=True) if (w := self._windows(t)) is not None]
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

    def _windows(self, track: Track) -> np.ndarray | None:
        """The model's window vectors of a track from the embedding cache (None when not embedded)."""
        from workbench.embed.batch import cache_for

        hit = cache_for(self.library, self.backbone).get(track.content_hash)
        return None if hit is None else self.model.windows(hit[0], hit[1])

    def _sets(self, tracks: list[Track], stats: tuple[np.ndarray, np.ndarray] | None
              ) -> list[tuple[np.ndarray, np.ndarray] | None]:
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for t in tracks:
            w = self._windows(t)
            out.append(None if w is None else reduce_windows(self._scaled(w, stats), max_windows=self.max_windows))
        return out

    @staticmethod
    def _scaled(windows: np.ndarray, stats: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        return windows if stats is None else (windows - stats[0]) / stats[1]

    def window_stats(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(mean, std)`` [shape=(d,)] that z-score a bare backbone's windows in this index (fitted over the
        library's windows at its last :meth:`rebuild`); None for a head, or before the index has any. Those the
        loaded index was built with (read once per :meth:`update` or :meth:`rebuild`), else the saved ones."""
        if self.model.head is not None:
            return None
        return self._index_stats if self.index is not None else read_window_stats(self.folder)

    def _standardize(self, windows: np.ndarray) -> np.ndarray:
        """Window vectors on the index's scale (z-scored for a bare backbone)."""
        return self._scaled(windows, self.window_stats())

    # -- querying -------------------------------------------------------------------------
    def similar(self, query: int | str | os.PathLike[str] | Track, *, k: int = 10, min_score: float | None = None,
                weights: WeightsLike = None) -> list[SimilarTrack]:
        """The ``k`` most similar library tracks by combined score, each explained and naming the model.

        ``query`` is a library track (its id, content hash, path or :class:`Track`), the
        path of an audio file that is not in the library (analysed and embedded on the fly; an
        excerpt of a library track finds that track), a :class:`~workbench.similarity.sets.SetQuery`
        or :class:`~workbench.similarity.Query`, or a raw window vector of the model (before
        scaling: only the vibe is scored).

        Parameters
        ----------
        query : int, str, os.PathLike, Track, SetQuery, Query or np.ndarray [shape=(d,)]
            What to match, as above.
        k : int >= 1
            How many matches at most.
        min_score : float in [0, 1] or None
            Leave out matches scoring below it; None keeps all ``k``.
        weights : Weights, mapping of str to float, or None
            Weights of the vibe, tempo, key and energy scores; None: the defaults, or the learned
            ones (``term_weights``). A track's unknown tempo (no beat) or key (drums only) counts as
            ``unknown`` says (the class's parameter).

        Returns
        -------
        list of SimilarTrack
            Best first; a library track given as the query is left out.

        Raises
        ------
        TrackNotFoundError
            ``query`` is neither an indexed library track nor an audio file.
        AudioError
            An outside file cannot be analysed or embedded.
        """
        from workbench.similarity.learned_weights import TERMS, choose_weights

        if self.index is None:
            self.update()
        self._query_priors = {}
        q = self._query(query)
        method = self.method
        if method == "pruned":
            self._prepare_bounds()
        w, said, learned = choose_weights(self, weights)
        matches = self.index.similar(q, k=k, min_score=min_score, weights=w,  # type: ignore[union-attr]
                                     method=method, unknown=self.unknown)
        if not self.calibrated:  # a tiny library: no typical pair to set 0 % at, and the text says so
            n = len(self.index)  # type: ignore[arg-type]
            matches = [dataclasses.replace(m, explanation=f"{m.explanation}; vibe uncalibrated (a library of {n} "
                                           f"track{'s' if n != 1 else ''}: {MIN_CALIBRATION_TRACKS} calibrate it)")
                       for m in matches]
        if self._query_priors:  # the file's tempo was read with another prior for these: said so
            matches = [dataclasses.replace(m, explanation=f"{m.explanation}; tempo of both read with this track's "
                                           f"prior {self._query_priors[m.id]}")
                       if m.id in self._query_priors and m.bpm_delta is not None else m  # a tempo unknown: no note
                       for m in matches]
        if learned is not None:  # the score explains itself: the weights that made it are named
            matches = [dataclasses.replace(m, explanation=f"{m.explanation}; weights {said}") for m in matches]
        used = dict(zip(TERMS, w.normalized(), strict=True))
        return [SimilarTrack(self.library.track(m.id), m, self.model_said, said, weights_used(m, used)) for m in matches]

    @property
    def uses_learned_weights(self) -> bool:
        """Whether :meth:`similar` without weights uses :meth:`learned_weights` (``term_weights``)."""
        return self.term_weights == "learned" or (self.term_weights == "auto" and AUTO_LEARNED)

    def learned_weights(self, *, exclude_hashes: Iterable[str] | None = None, refit: bool = False) -> LearnedWeights:
        """Term weights fitted on the library's folders or crates (:mod:`workbench.similarity.learned_weights`).

        Fitted on every track but ``exclude_hashes`` (None: a head's run's held-out tracks; none for the
        backbone); saved beside the index, reused while the model, tracks and groups stay the same.

        Parameters
        ----------
        exclude_hashes : iterable of str or None
            Content hashes of tracks never to fit on.
        refit : bool
            Fit again even when saved weights match.

        Raises
        ------
        ParameterError
            Too few tracks in groups of two or more, or no positive vibe weight.
        """
        from workbench.similarity.learned_weights import for_search

        return for_search(self, exclude_hashes=exclude_hashes, refit=refit)

    @property
    def method(self) -> str:
        """How the index is searched now: ``"exact"`` or ``"pruned"`` (from ``kind`` and the library's size)."""
        if self.kind == "pruned" or (self.kind == "auto" and self.index is not None
                                     and len(self.index) >= PRUNE_FROM_TRACKS):
            return "pruned"
        return "exact"

    def _prepare_bounds(self) -> None:
        """Use the cone bounds saved beside the index, or build and save them (once per index change)."""
        from workbench.similarity.sets_search import SetBounds

        index = self.index
        if index is None or (self._bounds_ready and index._bounds is not None):
            return
        saved = SetBounds.load(self.folder)
        if saved is None or not index.use_bounds(saved):
            try:
                index.bounds().save(self.folder)
            except OSError:  # a read-only library still searches (the bounds are rebuilt next time)
                pass
        self._bounds_ready = True

    def _query(self, query: object) -> object:
        from workbench.similarity import Query
        from workbench.similarity.sets import SetQuery

        if isinstance(query, Track):
            query = query.id
        if isinstance(query, SetQuery):
            return query
        if isinstance(query, Query):
            self._check_dim(np.asarray(query.vector), "Query.vector")
            return SetQuery(self._standardize(np.asarray(query.vector)[None, :]), query.bpm, query.camelot, query.energy)
        if isinstance(query, np.ndarray):
            self._check_dim(query, "query vector")
            return self._standardize(np.asarray(query, dtype=np.float32))
        try:
            track = self.library.track(query)  # type: ignore[arg-type]
        except TrackNotFoundError:
            track = None
        if track is not None:
            if track.id not in set(int(i) for i in self.index.ids):  # type: ignore[union-attr]
                if track.missing_since is not None:
                    raise TrackNotFoundError(f"track {track.id} ({track.name}): its file was missing at the last scan "
                                             f"(since {track.missing_since}): {track.path}; put it back or rescan "
                                             "the folder it moved to, so it is searched again")
                raise TrackNotFoundError(f"track {track.id} ({track.name}) has no analysis or embedding, so it is "
                                         "not in the index (`workbench analyze` says why)")
            return track.id
        if isinstance(query, (str, os.PathLike)) and is_file(query):
            return self._file_query(query)
        raise unknown_query(self.library, query)

    def _file_query(self, query: str | os.PathLike[str]) -> object:
        """A query from an audio file outside the library: analysed and embedded on the fly.

        A file with no steady beat is searched too (its tempo unknown).

        Raises
        ------
        AudioError
            The file cannot be decoded, analysed or embedded (any cause, named).
        """
        from workbench.similarity.sets import SetQuery

        name = os.fspath(query)
        try:
            y, sr = audio.load(query, mono=False)
            base = effective_settings(self.library, query)  # the library's prior (a file is in no folder)
            a = analyze(y, sr=sr, name=name, **base.kwargs())
            by_id, self._query_priors = tempi_by_prior(self.library, self.index.ids, y, sr=sr, name=name,  # type: ignore[union-attr]
                                                       base=base, cache=self._file_tempi)  # read as each track was
            emb, ts = self.backbone.embed(y, sr=sr)
            windows = self.model.windows(np.asarray(emb), np.asarray(ts))
        except AudioError:
            raise
        except Exception as exc:  # pyloudnorm's or librosa's ValueError, an OSError: say so, by name
            raise AudioError(f"{name}: cannot analyse or embed this file: {failure_reason(exc)}", path=name) from exc
        return SetQuery(self._standardize(windows), a.bpm, a.camelot if a.has_key else None, a.energy,
                        tempo_rough=a.tempo_rough, bpm_by_id=by_id or None)

    def _check_dim(self, vector: np.ndarray, name: str) -> None:
        """Refuse a vector whose length is not the index's dimension."""
        dim = int(self.index.dim)  # type: ignore[union-attr]
        if np.ndim(vector) != 1 or np.shape(vector)[0] != dim:
            raise ParameterError(f"{name} must be a 1-D vector of length {dim} (the index's dimension: a window "
                                 f"vector of {self.model.name}); got shape {np.shape(vector)}")
