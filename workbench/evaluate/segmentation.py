"""Segmentation metrics (mir_eval): boundary hit rate at 0.5 s and 3 s, pairwise frame clustering F, frame labels.

Sections are lists of ``{"start_s", "end_s", "label"}`` dicts (the shape of labels, ground
truth ``sections`` and ``timeline.json``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from workbench.errors import ParameterError

WINDOWS_S: tuple[float, ...] = (0.5, 3.0)


def _intervals(sections: Sequence[Mapping[str, Any]], name: str) -> tuple[np.ndarray, list[str]]:
    if not sections:
        raise ParameterError(f"{name} has no sections; need at least one {{start_s, end_s, label}}")
    try:
        rows = sorted(sections, key=lambda s: float(s["start_s"]))
        iv = np.array([[float(s["start_s"]), float(s["end_s"])] for s in rows])
        labels = [str(s["label"]) for s in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"{name}: each section needs numeric start_s, end_s and a label ({exc!r})") from exc
    if np.any(iv[:, 1] <= iv[:, 0]) or np.any(iv < 0):
        raise ParameterError(f"{name}: every section needs 0 <= start_s < end_s; got {iv.tolist()[:3]}...")
    return iv, labels


def segment_scores(reference: Sequence[Mapping[str, Any]], estimated: Sequence[Mapping[str, Any]], *,
                   duration_s: float | None = None, windows_s: Iterable[float] = WINDOWS_S,
                   frame_size_s: float = 0.1) -> dict[str, float]:
    """Boundary detection and pairwise label agreement of one track's sections.

    Parameters
    ----------
    reference : list of {start_s, end_s, label}
        The truth (user labels or synthetic ground truth).
    estimated : list of {start_s, end_s, label}
        The predictions.
    duration_s : float > 0 or None
        Track length; both segmentations are padded/trimmed to ``[0, duration_s]``
        (default: the end of the reference).
    windows_s : iterable of float
        Boundary tolerances in seconds (default 0.5 and 3.0).
    frame_size_s : float > 0
        Frame size of the pairwise comparison.

    Returns
    -------
    dict of float
        ``boundary_{precision,recall,f}_{w}s`` for each window (``w`` as ``0.5``, ``3``),
        ``pairwise_{precision,recall,f}``.
    """
    import mir_eval

    ref_iv, ref_lab = _intervals(reference, "reference")
    est_iv, est_lab = _intervals(estimated, "estimated")
    end = float(ref_iv[:, 1].max()) if duration_s is None else float(duration_s)
    if end <= 0:
        raise ParameterError(f"duration_s must be > 0; got {duration_s!r}")
    ref_iv, ref_lab = mir_eval.util.adjust_intervals(ref_iv, ref_lab, t_min=0.0, t_max=end)
    est_iv, est_lab = mir_eval.util.adjust_intervals(est_iv, est_lab, t_min=0.0, t_max=end)
    out: dict[str, float] = {}
    for w in windows_s:
        with warnings.catch_warnings():  # one section has no inner boundary: mir_eval warns, scores 0
            warnings.filterwarnings("ignore", message=".*intervals are empty", category=UserWarning)
            p, r, f = mir_eval.segment.detection(ref_iv, est_iv, window=float(w), trim=True)
        out.update({f"boundary_precision_{w:g}s": float(p), f"boundary_recall_{w:g}s": float(r),
                    f"boundary_f_{w:g}s": float(f)})
    p, r, f = mir_eval.segment.pairwise(ref_iv, ref_lab, est_iv, est_lab, frame_size=frame_size_s)
    out.update({"pairwise_precision": float(p), "pairwise_recall": float(r), "pairwise_f": float(f)})
    return out


def segment_eval(truth: Sequence[Mapping[str, Any]], predicted: Sequence[Any], *, duration_s: float,
                 edge_tolerance_s: float = 1.0, first_beat_s: float | None = None) -> dict[str, float]:
    """Boundary and labelling agreement of a predicted segmentation with the truth.

    The scores are :func:`workbench.evaluate.segment_scores` (mir_eval); this adds the edge
    handling of beat-grid sections and the share of time labelled alike.

    Parameters
    ----------
    truth, predicted : sequences of sections
        Dicts or objects with ``start_s``, ``end_s``, ``label`` (e.g. :class:`~workbench.labels.Suggestion`).
    duration_s : float
        Track length. A first section starting within ``edge_tolerance_s`` of 0 is taken to
        start at 0, a last one ending that close to the end to end there (a beat grid's first
        beat is rarely at 0 s); larger gaps at the ends are padded as unlabelled spans.
    edge_tolerance_s : float
        Seconds (see ``duration_s``).
    first_beat_s : float or None
        The track's first beat (seconds). A first section starting no later than it (plus
        ``edge_tolerance_s``) is taken to start at 0: a label from beat 0 and a suggestion from 0 s
        both start the track, and neither's start is a boundary (mir_eval's ``trim`` leaves the
        track's first and last boundaries out).

    Returns
    -------
    dict
        :func:`~workbench.evaluate.segment_scores`' keys (``boundary_{precision,recall,f}_{0.5,3}s``:
        boundary detection with the track's first and last boundaries excluded;
        ``pairwise_{precision,recall,f}``: frame-pair clustering of the labels) and
        ``label_accuracy``: fraction of 0.1 s frames with the same label.
    """
    def sections(items: Sequence[Any]) -> list[dict[str, Any]]:
        """Sorted sections clipped to the track, their edges snapped within the tolerance.

        Parameters
        ----------
        items : sequence of sections
            Dicts or objects with ``start_s``, ``end_s``, ``label``.
        """
        rows = sorted((float(_get(s, "start_s")), float(_get(s, "end_s")), str(_get(s, "label"))) for s in items)
        if not rows:
            raise ParameterError("segment_eval needs at least one section on each side; got none")
        iv = np.clip(np.array([[a, b] for a, b, _ in rows], dtype=np.float64), 0.0, duration_s)
        if iv[0, 0] <= edge_tolerance_s + max(0.0, float(first_beat_s or 0.0)):
            iv[0, 0] = 0.0
        if iv[-1, 1] >= duration_s - edge_tolerance_s:
            iv[-1, 1] = float(duration_s)
        return [{"start_s": a, "end_s": b, "label": r[2]} for (a, b), r in zip(iv.tolist(), rows, strict=True) if b > a]

    ref, est = sections(truth), sections(predicted)
    out = segment_scores(ref, est, duration_s=float(duration_s))
    grid = np.arange(0.05, duration_s, 0.1)
    out["label_accuracy"] = float(np.mean(_labels_at(ref, grid) == _labels_at(est, grid)))
    return out


def _get(s: Any, key: str) -> Any:
    return s[key] if isinstance(s, Mapping) else getattr(s, key)


def _labels_at(sections: Sequence[Mapping[str, Any]], times: np.ndarray) -> np.ndarray:
    """Label at each time ("" outside every section)."""
    out = np.full(times.shape, "", dtype=object)
    for s in sections:
        out[(times >= s["start_s"]) & (times < s["end_s"])] = s["label"]
    return out


def segmentation_metrics(timeline: Sequence[Mapping[str, Any]], **kwargs: Any) -> dict[str, float]:
    """:func:`segment_scores` averaged over tracks of a ``timeline.json`` (``truth`` vs ``predicted``).

    Tracks without truth or predictions are skipped; ``n_tracks`` says how many counted.

    Parameters
    ----------
    timeline : sequence of Mapping[str, Any]
        ``[{truth: [{start_s, end_s, label}], predicted: [...], duration_s}]`` (seconds).
    **kwargs
        Passed to :func:`segment_scores`.

    Returns
    -------
    dict of str to float
        The mean of each score over the tracks, plus ``n_tracks``.

    Raises
    ------
    ParameterError
        If no track has both truth and predictions.
    """
    scores = [segment_scores(t["truth"], t["predicted"], duration_s=t.get("duration_s"), **kwargs)
              for t in timeline if t.get("truth") and t.get("predicted")]
    if not scores:
        raise ParameterError("timeline has no track with both truth and predicted sections")
    out = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
    out["n_tracks"] = len(scores)
    return out
