"""The window-set index's small types: audio asked about (:class:`SetQuery`) and a query resolved against the index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.camelot import code_at
from workbench.errors import ParameterError
from workbench.similarity._inputs import normalize_rows
from workbench.similarity.query import Match, format_explanation, tempo_match_of
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
    bpm_by_id : dict of int to (float or None), or None
        The audio's tempo read the way each listed track was analysed (with that track's tempo prior,
        :mod:`workbench.analysis.settings`), by track id; None: no beat under that prior. The tempo
        term compares those tracks with it instead of ``bpm``, so the same audio read with another
        prior is not said to differ (an outside file against a folder analysed at 80-100 BPM).
    """

    windows: np.ndarray
    bpm: float | None
    camelot: str | None
    energy: int
    weights: np.ndarray | None = None
    symmetric: bool = False
    tempo_rough: bool = False
    bpm_by_id: dict[int, float | None] | None = None


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
    bpm_rows : np.ndarray [shape=(n,)] or None
        The query's tempo to compare with each index row (BPM, NaN: no beat), where it differs by
        row (:attr:`SetQuery.bpm_by_id`); None: ``bpm`` for every row.
    tempo_fill, key_fill : float in [0, 1] or None
        What an unknown tempo (key) term counts as for this query (``TrackSetIndex.expected_terms``);
        None: it is left out and the other weights renormalised.
    """

    q: np.ndarray
    qw: np.ndarray
    bpm: float | None
    key: int | None
    energy: int | None
    self_row: int | None
    symmetric: bool = False
    tempo_rough: bool = False
    bpm_rows: np.ndarray | None = None
    tempo_fill: float | None = None
    key_fill: float | None = None

    def bpm_at(self, row: int) -> float | None:
        """The query's tempo compared with index row ``row`` in BPM (None: no beat).

        Parameters
        ----------
        row : int >= 0
            A row of the index.
        """
        if self.bpm_rows is None:
            return self.bpm
        value = float(self.bpm_rows[row])
        return None if np.isnan(value) else value


def key_code(camelot: str | None) -> int:
    """The key index of a Camelot code (``camelot_index``), or -1 for None: a track with no key.

    Parameters
    ----------
    camelot : str or None
        A Camelot code (``"8A"``), or None for a track with no key (drums only).
    """
    return -1 if camelot is None else int(camelot_index(np.array([camelot], dtype=object))[0])


def explain_matches(r: Resolved, t: dict[str, np.ndarray], vibe: np.ndarray, score: np.ndarray, order: np.ndarray, *,
                    rows: np.ndarray, ids: np.ndarray, bpm: np.ndarray, key: np.ndarray, rough: np.ndarray,
                    min_score: float | None) -> list[Match]:
    """The explained matches of :meth:`TrackSetIndex.similar`, best first.

    Parameters
    ----------
    r : Resolved
        The query.
    t : dict of str to np.ndarray [shape=(p,)]
        The scored tracks' terms (:func:`~workbench.similarity.sets_search.set_terms`).
    vibe, score : np.ndarray [shape=(p,)]
        Their calibrated vibe and combined score.
    order : np.ndarray [shape=(<= k,)]
        Positions among the scored tracks, best first.
    rows : np.ndarray [shape=(p,)]
        The scored tracks' rows in the index.
    ids, bpm, key, rough : np.ndarray [shape=(n,)]
        The index's track ids, tempi (BPM, NaN: none), key codes (-1: none) and rough-tempo flags, by row.
    min_score : float or None
        Matches below it are left out.
    """
    out = []
    known = r.key is not None
    key_from = code_at(r.key) if known and r.key is not None and r.key >= 0 else None
    for pos in order.tolist():
        s = float(score[pos])
        if min_score is not None and s < min_score:
            continue
        t_known = bool(t["tempo_known"][pos])
        d = float(t["delta"][pos]) if (known and t_known) else None
        ed = int(t["e_delta"][pos]) if known else None
        row = int(rows[pos])
        key_to = code_at(int(key[row])) if key[row] >= 0 else None
        k_known = bool(t["key_known"][pos])
        t_fill = r.tempo_fill if known and not t_known else None  # what an unknown term counted as
        k_fill = r.key_fill if known and not k_known else None
        out.append(Match(
            id=int(ids[row]), score=s, vibe=float(vibe[pos]),
            tempo=float(t["tempo"][pos]) if (known and t_known) else None,
            key=float(t["keys"][pos]) if (known and k_known) else None,
            energy=float(t["energies"][pos]) if known else None,
            bpm_delta=d, key_from=key_from, key_to=key_to, energy_delta=ed,
            explanation=format_explanation(vibe=float(vibe[pos]), bpm_delta=d, key_from=key_from, key_to=key_to,
                                           energy_delta=ed, tempo_unknown=known and not t_known,
                                           key_unknown=known and not k_known, tempo_assumed=t_fill, key_assumed=k_fill,
                                           tempo_rough=r.tempo_rough or bool(rough[row]),
                                           tempo_match=tempo_match_of(r.bpm_at(row), float(bpm[row])) if d is not None else None),
            tempo_assumed=t_fill, key_assumed=k_fill))
    return out


def window_set(dim: int, windows: object, weights: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Checked window rows of one track or query: (unit windows (m, dim), weights (m,), positive; ones when None).

    Parameters
    ----------
    dim : int
        The index's window length ``d``.
    windows : array_like [shape=(m, dim) or (dim,)]
        The windows (one vector is one window).
    weights : array_like [shape=(m,)] or None
        How many windows each stands for.
    name : str
        What they are, in the message.

    Raises
    ------
    ParameterError
        A bad shape, a zero or non-finite row, or weights that are not ``m`` positive numbers.
    """
    w = np.asarray(windows)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] != dim:
        raise ParameterError(f"{name} must have shape (m >= 1, {dim}) (the index's dimension); got {w.shape}")
    unit = normalize_rows(w, name=name)
    ww = np.ones(unit.shape[0], np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
    if ww.shape != (unit.shape[0],) or not (np.isfinite(ww).all() and (ww > 0).all()):
        raise ParameterError(f"{name}: weights must be {unit.shape[0]} positive numbers; got {np.shape(weights)}")
    return unit, ww
