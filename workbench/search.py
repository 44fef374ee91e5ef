"""Similar tracks in a library: embeddings + analysis -> a saved FAISS index -> explained matches.

The index lives beside the library's database (``<db folder>/similarity/``) and is brought
up to date incrementally: tracks added to the library are added to the index, tracks gone
are removed. Track vectors are the frontend's pooled window embeddings (mean and std),
standardised with statistics fixed when the index was first built; :meth:`LibrarySearch.rebuild`
refits them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench import audio
from workbench.analysis import analyze, analyze_library, effective_settings, track_analysis
from workbench.embed.batch import Backbone, default_backbone, describe_backbone, embed_library, track_vectors
from workbench.embed.features import pool, standardize
from workbench.errors import AudioError, ParameterError, TrackNotFoundError, failure_reason
from workbench.fileio import atomic_write, atomic_write_bytes
from workbench.library import Library, Track

if TYPE_CHECKING:
    from workbench.similarity import Match, Query
    from workbench.similarity.scores import WeightsLike

_STATS_FILE = "standardize.npz"
_INFO_FILE = "library_index.json"


@dataclass(frozen=True)
class SimilarTrack:
    """One match: the library track and the scored, explained :class:`~workbench.similarity.Match`."""

    track: Track
    match: Match  # imported lazily

    def __str__(self) -> str:
        m = self.match
        return f"{m.score:.2f}  {self.track.name}  —  {m.explanation}"


def _signature(track: Track, meta: tuple[float, str, int]) -> str:
    """What an index row was built from: file contents and the analysis used."""
    bpm, camelot, energy = meta
    return f"{track.content_hash}|{bpm:.3f}|{camelot}|{energy}"


class LibrarySearch:
    """Explained similarity search over a library's analysed, embedded tracks.

    Parameters
    ----------
    library : Library
    backbone : Backbone or None
        The embedding backbone; ``None`` means :func:`~workbench.embed.batch.default_backbone`
        (OpenL3 when its weights are found, else the weight-free feature frontend).
        ``backbone_said`` tells which, in words, for every report that shows results.
    progress : bool
        Progress bars while analysing and embedding what is missing.
    kind : {"auto", "flat", "hnsw"}
        FAISS backend on (re)build: exact flat, approximate HNSW, or chosen by size.
    """

    def __init__(self, library: Library, *, backbone: Backbone | None = None, progress: bool = True,
                 kind: str = "auto") -> None:
        if not isinstance(library, Library):
            raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
        self.library = library
        if backbone is None:
            backbone, self.backbone_said = default_backbone()
        else:
            self.backbone_said = describe_backbone(backbone)
        self.backbone = backbone
        self.progress = progress
        self.kind = kind
        self.folder = Path(library.path).parent / "similarity" / self.backbone.name
        self.index = None
        self.skipped: list[Track] = []  # tracks without a beat (no BPM to compare)

    # -- building -------------------------------------------------------------------------
    def update(self) -> LibrarySearch:
        """Analyse and embed what is missing, then load the saved index and bring it up to date."""
        from workbench.similarity import SimilarityIndex

        analyze_library(self.library, progress=self.progress)
        embed_library(self.library, backbone=self.backbone, progress=self.progress)
        tracks, vectors, meta = self._rows()
        stats = self._load_stats()
        if stats is None or not (self.folder / _INFO_FILE).is_file():
            return self.rebuild(tracks=tracks, vectors=vectors, meta=meta)
        mean, std = stats
        index = SimilarityIndex.load(self.folder)
        stored = json.loads((self.folder / _INFO_FILE).read_text()).get("signatures", {})
        want = {t.id: i for i, t in enumerate(tracks)}
        signatures = {t.id: _signature(t, m) for t, m in zip(tracks, meta, strict=True)}
        have = set(int(i) for i in index.ids)
        # gone from the library, or changed (new file contents or a new analysis): out
        stale = sorted(i for i in have if i not in want or stored.get(str(i)) != signatures[i])
        new = [want[i] for i in sorted(set(want) - (have - set(stale)))]
        if stale:
            index.remove(stale)
        if new:
            index.add([tracks[i].id for i in new], (vectors[new] - mean) / std,
                      [meta[i][0] for i in new], [meta[i][1] for i in new], [meta[i][2] for i in new])
        if stale or new:
            index.save(self.folder)
            self._write_info(signatures)
        self.index = index
        return self

    def rebuild(self, *, tracks: list[Track] | None = None, vectors: np.ndarray | None = None,
                meta: list[tuple[float, str, int]] | None = None) -> LibrarySearch:
        """Build the index from scratch (refitting the standardisation) and save it.

        Parameters
        ----------
        tracks : list of Track or None
            The rows to index; None (or any of the three None): analyse and embed the library
            and take every track with a beat.
        vectors : np.ndarray [shape=(len(tracks), d)] or None
            Their pooled track vectors, before standardisation.
        meta : list of (float, str, int) or None
            Per track: tempo in BPM, Camelot key, energy level.

        Returns
        -------
        LibrarySearch
            ``self``.

        Raises
        ------
        ParameterError
            No track can be indexed.
        """
        from workbench.similarity import SimilarityIndex

        if tracks is None or vectors is None or meta is None:
            analyze_library(self.library, progress=self.progress)
            embed_library(self.library, backbone=self.backbone, progress=self.progress)
            tracks, vectors, meta = self._rows()
        if not tracks:
            raise ParameterError("the library has no analysed, embedded track with a beat to search; scan a folder first")
        z, mean, std = standardize(vectors)
        self.index = SimilarityIndex([t.id for t in tracks], z, [m[0] for m in meta], [m[1] for m in meta],
                                     [m[2] for m in meta], kind=self.kind)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index.save(self.folder)
        def _write_stats(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, mean=mean, std=std)

        atomic_write(self.folder / _STATS_FILE, _write_stats)
        self._write_info({t.id: _signature(t, m) for t, m in zip(tracks, meta, strict=True)})
        return self

    def _write_info(self, signatures: dict[int, str]) -> None:
        info = {"backbone": self.backbone.name, "backbone_said": self.backbone_said, "settings": self.backbone.settings, "tracks": len(signatures),
                "signatures": {str(k): v for k, v in signatures.items()}}
        atomic_write_bytes(self.folder / _INFO_FILE, json.dumps(info, indent=2).encode())

    def _rows(self) -> tuple[list[Track], np.ndarray, list[tuple[float, str, int]]]:
        tracks, vectors = track_vectors(self.library, backbone=self.backbone)
        keep, meta, self.skipped = [], [], []
        for i, t in enumerate(tracks):
            a = track_analysis(self.library, t, compute=False)
            if a is None or a.bpm is None:
                self.skipped.append(t)
                continue
            keep.append(i)
            meta.append((a.bpm, a.camelot, a.energy))
        return [tracks[i] for i in keep], vectors[keep], meta

    def _load_stats(self) -> tuple[np.ndarray, np.ndarray] | None:
        p = self.folder / _STATS_FILE
        if not p.is_file():
            return None
        with np.load(p, allow_pickle=False) as data:
            return data["mean"], data["std"]

    def _standardize(self, vector: np.ndarray) -> np.ndarray:
        """A pooled track vector on the index's scale (unchanged before the first build)."""
        stats = self._load_stats()
        return vector if stats is None else (vector - stats[0]) / stats[1]

    # -- querying -------------------------------------------------------------------------
    def similar(self, query: int | str | os.PathLike[str] | Track, *, k: int = 10, min_score: float | None = None,
                weights: WeightsLike = None) -> list[SimilarTrack]:
        """The ``k`` most similar library tracks by combined score, each explained.

        ``query`` is a library track (its id, content hash, path or :class:`Track`), the
        path of an audio file that is not in the library (analysed and embedded on the fly),
        a :class:`~workbench.similarity.Query`, or a raw track vector (pooled embedding,
        before standardisation: only the vibe is scored).

        Parameters
        ----------
        query : int, str, os.PathLike, Track, Query or np.ndarray [shape=(d,)]
            What to match, as above.
        k : int >= 1
            How many matches at most.
        min_score : float in [0, 1] or None
            Leave out matches scoring below it; None keeps all ``k``.
        weights : Weights, mapping of str to float, or None
            Weights of the vibe, tempo, key and energy scores; None: the defaults.

        Returns
        -------
        list of SimilarTrack
            Best first; a library track given as the query is left out.

        Raises
        ------
        TrackNotFoundError
            ``query`` is neither a library track with a beat nor an audio file.
        AudioError
            An outside file cannot be analysed or embedded, or has no beat.
        """
        if self.index is None:
            self.update()
        q = self._query(query)
        matches = self.index.similar(q, k=k, min_score=min_score, weights=weights)  # type: ignore[union-attr]
        return [SimilarTrack(self.library.track(m.id), m) for m in matches]

    def _query(self, query: object) -> int | Query | np.ndarray:
        from workbench.similarity import Query

        if isinstance(query, Track):
            return query.id
        if isinstance(query, Query):
            self._check_dim(np.asarray(query.vector), "Query.vector")
            return query
        if isinstance(query, np.ndarray):
            self._check_dim(query, "query vector")
            return self._standardize(np.asarray(query, dtype=np.float32))
        try:
            track = self.library.track(query)  # type: ignore[arg-type]
        except TrackNotFoundError:
            track = None
        if track is not None:
            if track.id not in set(int(i) for i in self.index.ids):  # type: ignore[union-attr]
                raise TrackNotFoundError(f"track {track.id} ({track.name}) has no beat, so it is not in the index")
            return track.id
        if isinstance(query, (str, os.PathLike)) and _is_file(query):
            return self._file_query(query)
        shown = audio.display_path(os.fspath(query)) if isinstance(query, (str, os.PathLike)) else repr(query)
        raise TrackNotFoundError(f"{shown!r} is neither a track of {self.library.path} nor an audio file")

    def _file_query(self, query: str | os.PathLike[str]) -> Query:
        """A query from an audio file outside the library: analysed and embedded on the fly.

        Raises
        ------
        AudioError
            The file cannot be decoded, analysed or embedded (any cause, named), or has no beat.
        """
        from workbench.similarity import Query

        name = os.fspath(query)
        try:
            y, sr = audio.load(query, mono=False)
            a = analyze(y, sr=sr, **effective_settings(self.library, query).kwargs())  # the library's prior
            if a.bpm is None:  # refused before the (slower) embedding
                raise AudioError(f"{name}: no steady beat found, so tempo cannot be compared", path=name)
            emb, _ = self.backbone.embed(y, sr=sr)
            vector = pool(np.asarray(emb), with_std=True)
        except AudioError:
            raise
        except Exception as exc:  # pyloudnorm's or librosa's ValueError, an OSError: say so, by name
            raise AudioError(f"{name}: cannot analyse or embed this file: {failure_reason(exc)}", path=name) from exc
        self._check_dim(vector, f"{audio.display_path(name)}: its embedding")
        return Query(vector=self._standardize(vector), bpm=a.bpm, camelot=a.camelot, energy=a.energy)

    def _check_dim(self, vector: np.ndarray, name: str) -> None:
        """Refuse a vector whose length is not the index's dimension."""
        dim = int(self.index.dim)  # type: ignore[union-attr]
        if np.ndim(vector) != 1 or np.shape(vector)[0] != dim:
            raise ParameterError(f"{name} must be a 1-D vector of length {dim} (the index's dimension: a pooled "
                                 f"track vector of {self.backbone.name}); got shape {np.shape(vector)}")


def _is_file(path: str | os.PathLike[str]) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False
