"""The section model's gates: which figures they judge, and its boundaries against the unsupervised novelty baseline.

``workbench suggest`` and the report serve the smoothed sections, so the gates judge those where the run recorded
them (:func:`served_metrics`; the comparison with the active version and the auto-activation judge both versions
alike, :func:`judged_alike`). The boundary gate (:func:`boundary_gate`, issue 18: suggestions never below the
unsupervised baseline) holds the suggested sections' boundary F @3 s to novelty's on the same held-out tracks, with
an allowance for noise: per track, paired, a one-sided Wilcoxon signed-rank test (:func:`boundary_test`) at the
search gate's level. :func:`workbench.evaluate.gates.blocking_gates` gathers them with the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.evaluate.gate_types import NOISE_ALPHA, BlockingGate, compare, mapping, number
from workbench.wording import count_of

#: How a sections gate says it judged the smoothed sections (what `suggest` and the report serve), or the windows.
SMOOTHED_SAID = " of smoothed sections"
UNSMOOTHED_SAID = " of unsmoothed windows"  # a run that recorded no model_smoothed


def smoothed_figures(metrics: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metrics["model_smoothed"]`` when it holds both figures the sections gates judge, else empty.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A sections run's metrics.
    """
    m = mapping(metrics.get("model_smoothed"))
    return m if all(number(m.get(k)) is not None for k in ("accuracy", "macro_f1")) else {}


def served_metrics(metrics: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The sections figures the gates judge: the smoothed sections the user is served, where the run recorded them.

    ``workbench suggest`` and the report's timeline show the smoothed sections (``model_smoothed``: the same held-out
    windows, labelled after smoothing), so the gates judge those; a run without that record is judged on its
    unsmoothed windows (``model``), said so. The majority baseline is one label, which smoothing leaves unchanged.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A sections run's metrics (``model``, optionally ``model_smoothed``: ``accuracy`` and ``macro_f1``, 0-1).

    Returns
    -------
    tuple of (Mapping, str)
        The figures, and how the gate's metric is said (:data:`SMOOTHED_SAID` or :data:`UNSMOOTHED_SAID`).
    """
    smoothed = smoothed_figures(metrics)
    return (smoothed, SMOOTHED_SAID) if smoothed else (mapping(metrics.get("model")), UNSMOOTHED_SAID)


def judged_alike(metrics: Mapping[str, Any], other: Mapping[str, Any], metric: str
                 ) -> tuple[float | None, float | None, str]:
    """``metric`` of two sections runs judged alike: of the smoothed sections where both recorded them, else of both
    runs' unsmoothed windows (never one of each).

    The blocking gate "not worse than the active version" and the auto-activation
    (:func:`workbench.export.activation.activation_decision`) compare a new model with the active one through this.

    Parameters
    ----------
    metrics, other : Mapping[str, Any]
        The new run's metrics and the active version's.
    metric : str
        The figure (``"macro_f1"``).

    Returns
    -------
    tuple of (float or None, float or None, str)
        The new run's value, the other's (None: not recorded), and how it is said (:data:`SMOOTHED_SAID` or
        :data:`UNSMOOTHED_SAID`).
    """
    mine, theirs = smoothed_figures(metrics), smoothed_figures(other)
    if mine and theirs:
        return number(mine.get(metric)), number(theirs.get(metric)), SMOOTHED_SAID
    return (number(mapping(metrics.get("model")).get(metric)), number(mapping(other.get("model")).get(metric)),
            UNSMOOTHED_SAID)


#: The sections boundary gate: the figure of ``metrics["segments"]`` compared, the model's segments (the smoothed
#: sections it suggests) and the unsupervised baseline's (novelty boundaries, no training). Per track under
#: ``segments.per_track`` (same keys, one value per held-out track, in ``track_ids``' order).
BOUNDARY_GATE: tuple[str, str, str] = ("boundary_f_3s", "smoothed", "novelty")
#: How the boundary gate names its figure.
BOUNDARY_FIGURE = "boundary F @3 s" + SMOOTHED_SAID
#: One-sided level of the boundary gate's test: the search gate's (:data:`workbench.evaluate.gates.SEARCH_GATE_ALPHA`).
BOUNDARY_GATE_ALPHA = NOISE_ALPHA


#: Why the boundary gate compared the means where the run has no per-track figures.
NO_PER_TRACK = ("the run has no per-track figures, segments.per_track (trained before runs recorded them: train again "
                "for the paired test)")


def paired_boundaries(metrics: Mapping[str, Any]) -> tuple[list[float], list[float]] | str:
    """The model's and novelty's per-track figures of :data:`BOUNDARY_GATE`, paired, or why there are none.

    They pair when both are lists of numbers of one length and, where the run recorded them, ``segments.per_track
    .track_ids`` names one track per figure and the same tracks as the held-out tracks it recorded
    (``held_out.track_ids``, in any order).

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A sections run's metrics (see :func:`boundary_test`).

    Returns
    -------
    tuple of (list of float, list of float) or str
        The model's and novelty's figures (F-measure 0-1, in ``track_ids``' order), else a sentence saying why not.
    """
    metric, model_key, base_key = BOUNDARY_GATE
    per = mapping(mapping(metrics.get("segments")).get("per_track"))
    model, base = mapping(per.get(model_key)).get(metric), mapping(per.get(base_key)).get(metric)
    if not (isinstance(model, list) and isinstance(base, list) and model and base):
        return NO_PER_TRACK
    if len(model) != len(base) or not all(number(v) is not None for v in [*model, *base]):
        return (f"the run's per-track figures do not pair ({len(model)} of {model_key}, {len(base)} of {base_key}, "
                "or one not a number)")
    ids, held_out = per.get("track_ids"), mapping(metrics.get("held_out")).get("track_ids")
    if isinstance(ids, list) and len(ids) != len(model):
        return f"the run's per-track figures do not pair with its track ids ({len(model)} figures, {len(ids)} ids)"
    if isinstance(ids, list) and isinstance(held_out, list) and sorted(map(str, ids)) != sorted(map(str, held_out)):
        return ("the run's per-track figures are on other tracks than the held-out tracks it recorded "
                f"(segments.per_track.track_ids {count_of(len(ids), 'track')}, held_out.track_ids {len(held_out)}, "
                "not the same ids)")
    return [float(v) for v in model], [float(v) for v in base]


def boundary_test(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """The held-out tracks paired: on how many the model's boundary F @3 s is below novelty's, above, equal, and a
    one-sided Wilcoxon signed-rank test of "below".

    ``p`` is :func:`scipy.stats.wilcoxon` of the per-track differences (model minus novelty) that are not zero,
    ``alternative="less"``: the chance of differences at least this far below zero if each track's were as likely
    above as below. With ``n`` tracks that differ the least ``p`` it can give is ``least_p`` = 0.5 ** ``n`` (every
    track below): with 4 or fewer it can never reach :data:`BOUNDARY_GATE_ALPHA`.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A sections run's metrics with ``segments.per_track`` (``{"smoothed": {"boundary_f_3s": [f, ...]},
        "novelty": {"boundary_f_3s": [f, ...]}}``, F-measure 0-1, one per held-out track, paired;
        :func:`workbench.train.sections.held_out.score_held_out`).

    Returns
    -------
    dict or None
        ``below``, ``above``, ``equal`` (tracks), ``n`` (``below + above``), ``p`` (1.0 when none differs) and
        ``least_p``; None when the run recorded no per-track figures (before session 21) or they do not pair
        (:func:`paired_boundaries` says why: unequal lengths, or ``track_ids`` not the run's ``held_out.track_ids``).
    """
    paired = paired_boundaries(metrics)
    return None if isinstance(paired, str) else _signed_rank(*paired)


def _signed_rank(model: list[float], base: list[float]) -> dict[str, Any]:
    """:func:`boundary_test`'s counts and one-sided Wilcoxon ``p`` of paired per-track figures (model, novelty)."""
    diff = [m - b for m, b in zip(model, base, strict=True)]
    below, above = sum(d < 0 for d in diff), sum(d > 0 for d in diff)
    p = 1.0
    if below + above:
        from scipy.stats import wilcoxon

        p = float(wilcoxon([d for d in diff if d != 0], alternative="less").pvalue)
    return {"below": below, "above": above, "equal": len(diff) - below - above, "n": below + above, "p": p,
            "least_p": 0.5 ** (below + above)}


def boundary_gate(metrics: Mapping[str, Any]) -> BlockingGate:
    """A sections model's boundaries not below the unsupervised novelty baseline's beyond noise, on the run's
    held-out tracks.

    Issue 18: suggestions must never be below the majority-class and unsupervised baselines; the majority class has
    no boundaries, so the boundaries are held to novelty's (:data:`BOUNDARY_GATE`: boundary F-measure within 3 s of
    the smoothed sections suggested, ``segments.smoothed`` against ``segments.novelty``, both on the same held-out
    tracks). Where the run recorded the figures per track the gate fails only when the model's mean is below
    novelty's and the paired test (:func:`boundary_test`) says so at p < :data:`BOUNDARY_GATE_ALPHA`: below beyond
    noise. Where it cannot (no per-track figures: a run from before session 21; or too few tracks differ for the test
    to reach that level, e.g. 3 held-out tracks) the means are compared, ``>=``, and the metric says so.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A sections run's metrics with ``{"segments": {"smoothed": {"boundary_f_3s": f}, "novelty":
        {"boundary_f_3s": f}}}`` (F-measure, 0-1, means over the held-out tracks;
        :mod:`workbench.train.sections.held_out`), optionally ``segments.per_track``.

    Returns
    -------
    BlockingGate
        Named ``"boundaries not below novelty"``; its :attr:`~BlockingGate.figure` is :data:`BOUNDARY_FIGURE`, the
        rest of its metric how it was judged (the test's counts and ``p``, or why the means were compared).
        ``"unknown"`` (reported, does not block) when the run did not record one mean or both (a run without
        held-out segments, or older than the segment scores): its metric says which is missing.
    """
    metric, model_key, base_key = BOUNDARY_GATE
    segments = mapping(metrics.get("segments"))
    value = number(mapping(segments.get(model_key)).get(metric))
    target = number(mapping(segments.get(base_key)).get(metric))
    reference, op, status = f"segments.{base_key}", ">=", "unknown"
    if value is None or target is None:
        missing = " and ".join(f"segments.{k}.{metric}" for k, v in ((model_key, value), (base_key, target))
                               if v is None)
        said = (f"the run recorded no {missing} (a run without held-out segments scored, or from before the "
                "sections job recorded them), so it is unknown and does not block")
        return BlockingGate("boundaries not below novelty", f"{BOUNDARY_FIGURE}; {said}", value, op, reference, target,
                            status)
    paired = paired_boundaries(metrics)  # once: the test's figures, or why there is no test
    test = None if isinstance(paired, str) else _signed_rank(*paired)
    means = "the means over the held-out tracks are compared, no allowance for noise"
    if test is None:
        said = f"{means}: {paired}"
        status = compare(value, op, target)
    else:
        counts = (f"below novelty on {count_of(test['below'], 'held-out track')}, above on {test['above']}, equal on "
                  f"{test['equal']}")
        if test["least_p"] >= BOUNDARY_GATE_ALPHA:
            said = (f"{counts}: too few differ for the paired test to reach p < {BOUNDARY_GATE_ALPHA:g}, its least p "
                    f"with {test['n']} being {test['least_p']:.3g}, so {means}")
            status = compare(value, op, target)
        else:
            said = (f"{counts}: one-sided Wilcoxon signed-rank p = {test['p']:.3g}; it blocks only when below and "
                    f"p < {BOUNDARY_GATE_ALPHA:g}, below beyond noise")
            op = "not below beyond noise"
            status = "fail" if value < target and test["p"] < BOUNDARY_GATE_ALPHA else "pass"
    return BlockingGate("boundaries not below novelty", f"{BOUNDARY_FIGURE}; {said}", value, op, reference, target,
                        status)
