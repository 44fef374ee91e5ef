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
leave-one-group-out fold routes with its own training tracks, as it gates with them. Each head has its own
temperature, fitted on its own out-of-fold predictions of every held-out track (:func:`head_temperatures`),
so a track served the base head decodes as the labels-only model would; the confidence maps, the grammar and
the thresholds are the model's, whichever head serves.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

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

    Parameters
    ----------
    route : bool
        The config value as given.

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
    temperature : float or None
        The base head's own temperature, fitted on its out-of-fold predictions (None: the model's).
    """

    base: SectionClassifier
    reference: GateReference
    gate: float
    temperature: float | None = None

    def distance(self, frames: TrackFrames) -> float:
        """The track's distance to its nearest labelled track, over the reference (the gate's measure).

        Parameters
        ----------
        frames : TrackFrames
            The scored track's frames.
        """
        return float(self.reference.distance([frames])[0])

    def serves_base(self, frames: TrackFrames) -> bool:
        """Whether the track lies within the gate (in the labelled tracks' domain).

        Parameters
        ----------
        frames : TrackFrames
            The scored track's frames.
        """
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
        :data:`BASE` (:func:`base_head`: maps, grammar and thresholds are ``trainer``'s, the temperature the
        base head's own where fitted).
    """
    route = getattr(trainer, "route_", None)
    if route is None:
        return trainer, None
    return (base_head(trainer), BASE) if route.serves_base(frames) else (trainer, SELF_TRAINED)


def base_head(trainer: SectionTrainer) -> SectionTrainer:
    """A shallow copy of a routed ``trainer`` whose head is the base model (and its temperature, where fitted).

    Parameters
    ----------
    trainer : SectionTrainer
        A model trained with ``self_training_route`` whose route is on.

    Raises
    ------
    ParameterError
        ``trainer`` has no route.
    """
    route = getattr(trainer, "route_", None)
    if route is None:
        raise ParameterError("base_head needs a model trained with self_training_route whose route is on")
    base = copy.copy(trainer)
    base.model_, base.route_ = route.base, None
    if route.temperature is not None:
        base.temperature_ = route.temperature
    return base


def head_temperatures(trainer: SectionTrainer, oof: dict[str, Any], train_ids: Sequence[int], *,
                      cal: dict[str, Any]) -> None:
    """Give each head of a routed ``trainer`` its own temperature, fitted on that head's out-of-fold predictions.

    Run after the model's temperature is fitted (and kept or dropped by the guard): where it is dropped (1.0)
    or none was fitted, nothing changes.

    Parameters
    ----------
    trainer : SectionTrainer
        The final model; ``temperature_`` (the self-trained head's) and ``route_.temperature`` are set.
    oof : dict
        :func:`~workbench.train.sections.transfer.leave_one_group_out`'s ``probs_base``, ``probs_self``
        (n, K), ``y`` and ``track_ids``.
    train_ids : sequence of int
        The final model's training tracks (the rows fitted on).
    cal : dict
        The run's calibration record; ``head_temperatures`` {"base", "self_trained"} is set in it.
    """
    import dataclasses

    from workbench.evaluate.calibration import fit_temperature

    route = getattr(trainer, "route_", None)
    if route is None or "probs_base" not in oof or cal.get("temperature") is None:
        return
    keep = np.isin(oof["track_ids"], list(train_ids))
    if keep.sum() < 20:
        return
    t_base = fit_temperature(oof["probs_base"][keep], oof["y"][keep])
    trainer.temperature_ = fit_temperature(oof["probs_self"][keep], oof["y"][keep])
    trainer.route_ = dataclasses.replace(route, temperature=float(t_base))
    cal["head_temperatures"] = {"base": float(t_base), "self_trained": float(trainer.temperature_)}
