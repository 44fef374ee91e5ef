"""Whether a newly exported model should become the active version: only when it is better.

The registry's blocking gates (:func:`workbench.evaluate.gates.blocking_gates`) refuse a model that
is worse than its baselines (an embedding head also when similar-track search by folder gets worse with it on
its held-out tracks beyond sampling noise: :func:`workbench.evaluate.gates.search_gate`), or worse than the active version on the same
held-out tracks. They let
through a model that is only equal to the active one, or that was measured on other held-out tracks
(the comparison is "not comparable"). :func:`activation_decision` is stricter, for the moment of
activation: it says yes only when no version is active yet (none ever was: after ``models deactivate`` it
asks), or when the new model beats the active one on its headline metric (:data:`~workbench.evaluate.gates.HEADLINE_METRIC`) on the same held-out
tracks: for a section model, macro F1 of the smoothed sections the user is served where both runs recorded it, else
of both runs' unsmoothed windows (never one of each; :func:`~workbench.evaluate.gates.headline_figures`, as the gates
compare), said in :attr:`ActivationDecision.reason` and ``compared``. Otherwise the notebook and the CLI ask: they export without activating and say why, and the
user activates with ``Registry.activate`` (or ``activate=True``) after reading the comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.registry import Registry

__all__ = ["ActivationDecision", "activation_decision"]


@dataclass(frozen=True)
class ActivationDecision:
    """What :func:`activation_decision` found.

    Attributes
    ----------
    activate : bool
        True: activate without asking (nothing active yet and nothing deactivated, or better on the same held-out
        tracks).
    reason : str
        One sentence with the numbers, for the notebook and the CLI.
    metric : str
        The headline metric compared (``macro_f1``, ``map_at_r``).
    value, active_value : float or None
        The new model's and the active version's value of ``metric``.
    active_name : str or None
        The active version (``dj_section_v2``), None when none is active.
    comparable : bool
        Whether both were measured on the same held-out tracks.
    compared : str
        The figure compared, in words: the metric and, for a section model, which sections
        (``"macro_f1 of smoothed sections"`` where both runs recorded them, else ``"macro_f1 of unsmoothed
        windows"`` for both: :func:`workbench.evaluate.gates.headline_figures`); with no version to compare (none
        active, or the active one is this version), the figure the gates judge for this model alone.
    """

    activate: bool
    reason: str
    metric: str
    value: float | None
    active_value: float | None
    active_name: str | None
    comparable: bool
    compared: str = ""


def activation_decision(registry: Registry, model_type: str, metrics: Mapping[str, Any], *,
                        exclude_version: int | None = None) -> ActivationDecision:
    """Whether a model with these run metrics should replace the active version of ``model_type`` without asking.

    Parameters
    ----------
    registry : Registry
        The model registry.
    model_type : {"dj_section", "embedding", "head"}
        The model type.
    metrics : mapping
        The run's ``metrics.json`` (``model``, ``held_out``).
    exclude_version : int or None
        The new model's own version number when it is registered already (it is never its own rival).

    Returns
    -------
    ActivationDecision

    Raises
    ------
    ParameterError
        ``model_type`` is unknown.
    """
    from workbench.evaluate.gates import (
        HEADLINE_METRIC,
        KIND_OF_MODEL_TYPE,
        headline_figures,
        held_out_hashes,
    )

    active = registry.active(model_type)  # checks model_type
    metric = HEADLINE_METRIC[KIND_OF_MODEL_TYPE[model_type]]
    # compared with the active version's: both smoothed where both recorded it, else both unsmoothed (never one of each);
    # with none to compare (none active, or this version is), the figure the gates judge for it alone
    other = metrics if active is None or active.version == exclude_version else active.metrics
    _, value, theirs, said = headline_figures(metrics, other, model_type)
    compared = metric + said
    off = registry.deactivated(model_type) if active is None else None
    if off is not None and off.version != exclude_version:  # the user made none active: theirs to undo, not ours
        return ActivationDecision(False, f"no {model_type} version is active: {off.named} was deactivated "
                                         "(`workbench models deactivate`), so a new one is not activated without asking",
                                  metric, value, None, None, True, compared)
    if active is None or active.version == exclude_version:
        return ActivationDecision(True, f"no {model_type} version is active yet", metric, value, None, None, True,
                                  compared)
    mine_h, theirs_h = held_out_hashes(metrics), held_out_hashes(active.metrics)
    comparable = mine_h is not None and mine_h == theirs_h
    shown = "not recorded" if value is None else f"{value:.4f}"
    shown_active = "not recorded" if theirs is None else f"{theirs:.4f}"
    if not comparable:
        return ActivationDecision(
            False, f"cannot tell whether it is better than {active.name}: the two were measured on different "
                   f"held-out tracks ({compared} {shown} vs {shown_active})", metric, value, theirs, active.name, False,
            compared)
    if value is None or theirs is None:
        return ActivationDecision(False, f"{compared} is not recorded for it or for {active.name}", metric, value,
                                  theirs, active.name, True, compared)
    n = len(mine_h or ())
    if value > theirs:
        return ActivationDecision(True, f"better than {active.name}: {compared} {shown} > {shown_active} on the same "
                                        f"{n} held-out tracks", metric, value, theirs, active.name, True, compared)
    word = "the same as" if value == theirs else "worse than"
    return ActivationDecision(False, f"not better than {active.name}: {compared} {shown} is {word} its "
                                     f"{shown_active} on the same {n} held-out tracks", metric, value, theirs,
                              active.name, True, compared)
