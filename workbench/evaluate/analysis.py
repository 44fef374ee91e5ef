"""Scores of a tempo / beat / key estimate against truth, with mir_eval, and their summaries.

Tempo accuracy follows the MIREX convention: *accuracy 1* is an estimate within 2 % of the true
tempo; *accuracy 2* also accepts the octave errors x2, x1/2, x3 and x1/3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from workbench.errors import ParameterError

#: Tempo factors accuracy 2 accepts.
OCTAVE_FACTORS: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


def _check_bpm(name: str, value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value) or value <= 0:
        raise ParameterError(f"{name} must be a positive finite tempo in BPM; got {value!r}")
    return float(value)


def tempo_accuracy1(est_bpm: float | None, ref_bpm: float, *, tolerance: float = 0.02) -> bool:
    """Accuracy 1: ``est_bpm`` within ``tolerance`` (relative) of ``ref_bpm``; ``None`` (no beat) is wrong.

    Parameters
    ----------
    est_bpm : float > 0 or None
        Estimated tempo in BPM; None means no beat found.
    ref_bpm : float > 0
        True tempo in BPM.
    tolerance : float
        Relative tolerance (0.02 = 2 %).

    Returns
    -------
    bool

    Raises
    ------
    ParameterError
        If a tempo is not a number > 0.
    """
    ref = _check_bpm("ref_bpm", ref_bpm)
    if est_bpm is None:
        return False
    est = _check_bpm("est_bpm", est_bpm)
    return abs(est - ref) <= tolerance * ref


def tempo_accuracy2(est_bpm: float | None, ref_bpm: float, *, tolerance: float = 0.02) -> bool:
    """Accuracy 2: accuracy 1 against ``ref_bpm`` times 1, 2, 1/2, 3 or 1/3.

    Parameters
    ----------
    est_bpm : float > 0 or None
        Estimated tempo in BPM; None means no beat found.
    ref_bpm : float > 0
        True tempo in BPM.
    tolerance : float
        Relative tolerance (0.02 = 2 %).

    Returns
    -------
    bool
    """
    ref = _check_bpm("ref_bpm", ref_bpm)
    return any(tempo_accuracy1(est_bpm, ref * f, tolerance=tolerance) for f in OCTAVE_FACTORS)


def beat_f(ref_s: Sequence[float], est_s: Sequence[float]) -> float:
    """mir_eval's beat F-measure (70 ms window), both sides trimmed of their first 5 s.

    Parameters
    ----------
    ref_s, est_s : sequence of float
        True and estimated beat times, in seconds.

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ParameterError
        If no reference beat lies after 5 s.
    """
    import mir_eval

    ref = mir_eval.beat.trim_beats(np.asarray(ref_s, dtype=float))
    est = mir_eval.beat.trim_beats(np.asarray(est_s, dtype=float))
    if ref.size == 0:
        raise ParameterError(f"ref_s must hold beats after the first 5 s; got {len(ref_s)} beats, none after 5 s")
    return float(mir_eval.beat.f_measure(ref, est))


def key_score(ref_key: str, est_key: str | None) -> float:
    """MIREX weighted key score (mir_eval.key.weighted_score): 1 exact, 0.5 fifth, 0.3 relative,
    0.2 parallel, 0 otherwise; ``None`` scores 0. Keys are ``"A minor"``, ``"F# major"``.

    Parameters
    ----------
    ref_key : str
        The true key.
    est_key : str or None
        The estimate; None when there is none.

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ParameterError
        If a key is not a key name.
    """
    import mir_eval

    if not isinstance(ref_key, str):
        raise ParameterError(f"ref_key must be a key name such as 'A minor'; got {ref_key!r}")
    if est_key is None:
        return 0.0
    try:
        return float(mir_eval.key.weighted_score(ref_key, est_key))
    except ValueError as exc:
        raise ParameterError(f"keys must be names such as 'A minor'; got {ref_key!r} and {est_key!r} ({exc})") from None


def same_key(a: str | None, b: str | None) -> bool:
    """True when two key names name the same key (enharmonics equal: ``"A# minor" == "Bb minor"``).

    Parameters
    ----------
    a, b : str or None
        Key names; None is never the same.

    Returns
    -------
    bool
    """
    if a is None or b is None:
        return False
    return key_score(a, b) == 1.0


def score_estimate(truth: dict[str, Any], est: dict[str, Any]) -> dict[str, Any]:
    """Scores of one estimate (``bpm``, ``beats``, optional ``downbeats``, ``key``, ``seconds``).

    ``truth`` holds ``bpm`` (or ``None``: no tempo truth), ``beats``/``downbeats`` (may be absent)
    and ``key`` (``None``: no key). A metric without truth is ``None``.

    Parameters
    ----------
    truth : dict
        One track's truth.
    est : dict
        One estimate; ``bpm`` None means no beat.

    Returns
    -------
    dict
        ``bpm``, ``key``, ``no_grid``, ``seconds``, ``acc1``, ``acc2``, ``beat_f``, ``down_f``,
        ``key_exact``, ``key_mirex``.
    """
    ref_bpm = truth.get("bpm")
    bpm = est.get("bpm")
    beats = est.get("beats") or []
    out: dict[str, Any] = {"bpm": bpm, "no_grid": bpm is None or len(beats) < 2, "seconds": est.get("seconds")}
    out["acc1"] = None if ref_bpm is None else tempo_accuracy1(bpm, ref_bpm)
    out["acc2"] = None if ref_bpm is None else tempo_accuracy2(bpm, ref_bpm)
    out["beat_f"] = beat_f(truth["beats"], beats) if truth.get("beats") else None
    down = est.get("downbeats")
    out["down_f"] = beat_f(truth["downbeats"], down) if truth.get("downbeats") and down is not None else None
    ref_key = truth.get("key")
    out["key"] = est.get("key")
    out["key_exact"] = None if ref_key is None else same_key(ref_key, est.get("key"))
    out["key_mirex"] = None if ref_key is None else key_score(ref_key, est.get("key"))
    return out


def summarise(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Means over scored rows; each metric over the rows that have it (``n_<metric>`` says how many).

    ``seconds_per_min`` is analysis seconds per minute of audio (rows need ``duration_s``).

    Parameters
    ----------
    rows : iterable of dict
        Rows from :func:`score_estimate`, each with ``duration_s`` added.

    Returns
    -------
    dict
    """
    rows = list(rows)
    out: dict[str, Any] = {"n": len(rows)}
    for name in ("acc1", "acc2", "beat_f", "down_f", "key_exact", "key_mirex", "no_grid"):
        vals = [float(r[name]) for r in rows if r.get(name) is not None]
        out[name] = float(np.mean(vals)) if vals else None
        out[f"n_{name}"] = len(vals)
    secs = sum(r["seconds"] for r in rows if r.get("seconds") is not None)
    mins = sum(r["duration_s"] for r in rows if r.get("seconds") is not None) / 60.0
    out["seconds_per_min"] = secs / mins if mins > 0 else None
    return out
