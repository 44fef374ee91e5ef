"""The window-set index's small types: audio asked about (:class:`SetQuery`) and a query resolved against the index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.similarity.scores import camelot_index


@dataclass(frozen=True, eq=False)
class SetQuery:
    """Audio that is not (necessarily) in the index: its window vectors and analysis.

    Parameters
    ----------
    windows : np.ndarray [shape=(m, d)]
        Window vectors in the index's space (any scale: L2-normalised here).
    bpm : float > 0 or None
        Tempo in BPM; None when the audio has no steady beat (the tempo term is then unknown).
    camelot : str or None
        Camelot key code; None when the audio has no key (drums only: the key term is then unknown).
    energy : int in 1..10
        Energy level.
    weights : np.ndarray [shape=(m,)] or None
        How much each window counts; None: equally.
    symmetric : bool
        Score whole against whole (as for a library track) instead of "which tracks cover this audio".
    tempo_rough : bool
        Its tempo is rough (live, rubato: ``Analysis.tempo_rough``): BPM deltas to it are said ``Δ~``.
    """

    windows: np.ndarray
    bpm: float | None
    camelot: str | None
    energy: int
    weights: np.ndarray | None = None
    symmetric: bool = False
    tempo_rough: bool = False


@dataclass(frozen=True)
class Resolved:
    """A query resolved against the index (:meth:`TrackSetIndex._resolve`).

    Parameters
    ----------
    q : np.ndarray [shape=(m, d)]
        Unit window rows.
    qw : np.ndarray [shape=(m,)]
        Their weights.
    bpm : float or None
        Tempo (None: no beat).
    key : int or None
        Key index, -1 for no key; None for a raw vector (only its vibe is known).
    energy : int or None
        Energy level.
    self_row : int or None
        The query's own row when it is an indexed track.
    symmetric : bool
        Whole against whole.
    tempo_rough : bool
        Its tempo is rough.
    """

    q: np.ndarray
    qw: np.ndarray
    bpm: float | None
    key: int | None
    energy: int | None
    self_row: int | None
    symmetric: bool = False
    tempo_rough: bool = False


def key_code(camelot: str | None) -> int:
    """The key index of a Camelot code (``camelot_index``), or -1 for None: a track with no key.

    Parameters
    ----------
    camelot : str or None
        A Camelot code (``"8A"``), or None for a track with no key (drums only).
    """
    return -1 if camelot is None else int(camelot_index(np.array([camelot], dtype=object))[0])
