"""Routing by domain at serving time: the labelled-only model for tracks like the labelled ones, the self-trained beyond.

Self-training gated to out-of-domain pool tracks (``self_training_gate``,
:mod:`~workbench.train.sections.domain_gate`) lifts the suggestions on music unlike the labelled tracks and
still costs a little on music like them (session 19: the demo's own leave-one-style-out, its trance and house
folds at seed 2), because the self-trained model is served to every track. With ``self_training_route``
(and a gate), when self-training actually trained on pool tracks the model keeps both:

- the **base** model, trained on the labels only, and
- the **self-trained** one (the model file's head),

and each scored track is measured with the gate's own distance and reference
(:class:`~workbench.train.sections.domain_gate.GateReference` of the model's labelled training tracks): a
track at most ``gate`` x the reference from its nearest labelled track sounds like what was labelled and is
served the base model; a track beyond it the self-trained one (:func:`served`). Each
leave-one-group-out fold routes with its own training tracks, as it gates with them. The calibration
(temperature, maps), the grammar and the thresholds are the model's, whichever head serves.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError
from workbench.train.sections.domain_gate import GateReference

if TYPE_CHECKING:  # pragma: no cover
    from workbench.models.heads import SectionClassifier
    from workbench.train.sections.features import TrackFrames
    from workbench.train.sections.trainer import SectionTrainer

#: What :func:`served` says served a track.
BASE, SELF_TRAINED = "base (labels only)", "self-trained"


def check_route(route: Any) -> bool:
    """The ``self_training_route`` config value, checked.

    Raises
    ------
    ParameterError
        Not True or False.
    """
    if not isinstance(route, bool):
        raise ParameterError(f"config self_training_route must be True or False; got {route!r}")
    return route


@dataclass(frozen=True)
class DomainRoute:
    """Which head serves a track: the base model within ``gate`` x the reference of the labelled tracks.

    Attributes
    ----------
    base : SectionClassifier
        The head trained on the labelled windows only (same classes as the served model's).
    reference : GateReference
        The labelled training tracks' summaries and reference distance (the gate's).
    gate : float >= 0
        The ``self_training_gate`` the model was trained with (unitless, times the reference).
    """

    base: SectionClassifier
    reference: GateReference
    gate: float

    def distance(self, frames: TrackFrames) -> float:
        """The track's distance to its nearest labelled track, over the reference (the gate's measure)."""
        return float(self.reference.distance([frames])[0])

    def serves_base(self, frames: TrackFrames) -> bool:
        """Whether the track lies within the gate (in the labelled tracks' domain)."""
        return self.distance(frames) <= self.gate


def attach_route(trainer: SectionTrainer, base: SectionTrainer, labelled: Sequence[TrackFrames], *, gate: float,
                 info: dict[str, Any]) -> SectionTrainer:
    """Give a self-trained ``trainer`` its route back to ``base`` when self-training used pool tracks.

    Parameters
    ----------
    trainer : SectionTrainer
        The model :func:`~workbench.train.sections.self_training.self_train` returned.
    base : SectionTrainer
        The model trained on the labels only (``trainer`` itself when no round found a pseudo-label).
    labelled : sequence of TrackFrames
        The labelled training tracks (the gate's reference).
    gate : float
        ``self_training_gate``.
    info : dict
        ``self_train``'s info; ``route`` is set in it (``"off"`` when no pool track was trained on).

    Returns
    -------
    SectionTrainer
        ``trainer``, with ``route_`` a :class:`DomainRoute` or None.
    """
    trainer.route_ = None
    if trainer is base or not info.get("pseudo_windows"):
        info["route"] = "off: no pool track was trained on (one model serves every track)"
        return trainer
    if tuple(base.classes_) != tuple(trainer.classes_):
        raise ParameterError(f"base and self-trained models differ in classes: {base.classes_} vs {trainer.classes_}")
    trainer.route_ = DomainRoute(base.model_, GateReference.fit(labelled), float(gate))
    info["route"] = f"tracks within {gate:g} x the labelled styles' distance are served the base model"
    return trainer


def served(trainer: SectionTrainer, frames: TrackFrames) -> tuple[SectionTrainer, str | None]:
    """The model a track is served, and which one in words (None: the model has no route).

    Parameters
    ----------
    trainer : SectionTrainer
        Fitted; ``route_`` (None or absent: no routing).
    frames : TrackFrames
        The scored track (its backbone ``frames``, else its window features, as the gate summarises).

    Returns
    -------
    (SectionTrainer, str or None)
        ``trainer`` itself and :data:`SELF_TRAINED`, or a shallow copy whose head is the base model and
        :data:`BASE` (calibration, grammar and thresholds are ``trainer``'s).
    """
    route = getattr(trainer, "route_", None)
    if route is None:
        return trainer, None
    if not route.serves_base(frames):
        return trainer, SELF_TRAINED
    base = copy.copy(trainer)
    base.model_, base.route_ = route.base, None
    return base, BASE
