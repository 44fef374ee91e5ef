"""The section model's file: the head's checkpoint plus what inference needs (layout, grammar, temperature).

:func:`save_section_model` writes it, :func:`load_section_model` reads it back as a fitted
:class:`~workbench.train.sections.trainer.SectionTrainer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import ParameterError
from workbench.labels.uncertain import UNCERTAIN_BELOW
from workbench.train.sections.trainer import SectionTrainer

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.features import WindowFeatures


def save_section_model(trainer: SectionTrainer, path: str | Path, *, features: WindowFeatures,
                       backbone: str, transitions: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
    """Write the head's checkpoint plus what inference needs (feature layout, backbone, label-order prior).

    The file is a :func:`workbench.models.heads.checkpoint` with extra keys, so
    :func:`~workbench.models.heads.load_checkpoint` still reads it. The per-track summaries of the domain map
    and the gate's reference are float32 tensors (Python lists and float64 before session 20; both still load).

    Parameters
    ----------
    trainer : SectionTrainer
        Fitted.
    path : str or Path
        The ``.pt`` file, written atomically.
    features : WindowFeatures
        The window layout the model was trained on.
    backbone : str
        The backbone's name.
    transitions : (log_transitions, log_init, log_final), optional
        Label-order prior as log-probabilities (``-inf`` stored as -1e9). The trainer's
        ``temperature_``, ``uncertain_below_``, ``novelty_weight_``, ``grammar_`` and
        ``confidence_map_`` and ``domain_map_`` (when set) are stored too, and the ensemble members ``members_`` with
        ``ensemble_score_`` (when the model was trained with ``confidence="ensemble"``), and ``route_`` (the base
        head and the gate's reference, config ``self_training_route``).

    Raises
    ------
    NotFittedError
        ``trainer`` is not fitted.
    """
    import torch

    from workbench.fileio import atomic_write
    from workbench.models.heads import checkpoint

    trainer._check_fitted()
    data = checkpoint(trainer.model_)
    data["window_features"] = features.to_dict()
    data["backbone"] = backbone
    if transitions is not None:
        data["log_transitions"] = torch.from_numpy(np.nan_to_num(transitions[0], neginf=-1e9))
        data["log_init"] = torch.from_numpy(transitions[1])
        data["log_final"] = torch.from_numpy(transitions[2])
    data["temperature"] = float(getattr(trainer, "temperature_", 1.0))
    data["uncertain_below"] = float(getattr(trainer, "uncertain_below_", UNCERTAIN_BELOW))
    data["novelty_weight"] = float(getattr(trainer, "novelty_weight_", 0.0))
    if getattr(trainer, "grammar_", None) is not None:
        data["grammar"] = trainer.grammar_.to_dict()
        if trainer.grammar_.families is not None:  # config label_families="learned"
            data["label_families"] = trainer.grammar_.families.to_dict()
    if getattr(trainer, "confidence_map_", None) is not None:
        data["confidence_map"] = [np.asarray(k, dtype=np.float64).tolist() for k in trainer.confidence_map_]
    if getattr(trainer, "domain_map_", None) is not None:  # config confidence_map_domain
        data["domain_map"] = trainer.domain_map_.to_dict()
    if getattr(trainer, "members_", None):  # config confidence="ensemble": the members travel with the head
        data["ensemble"] = [checkpoint(m.model_) for m in trainer.members_]
        data["ensemble_score"] = str(getattr(trainer, "ensemble_score_", "mean"))
    route = getattr(trainer, "route_", None)
    if route is not None:  # config self_training_route: the labels-only head and the gate's reference travel too
        data["route"] = {"base": checkpoint(route.base), "gate": float(route.gate), "temperature": route.temperature,
                         **route.reference.to_state()}
    atomic_write(path, lambda tmp: torch.save(data, tmp))


def load_section_model(path: str | Path) -> tuple[SectionTrainer, WindowFeatures, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Read :func:`save_section_model`'s file: ``(trainer, features, transitions or None)``.

    Parameters
    ----------
    path : str or Path
        The ``.pt`` file (read with ``weights_only=True``). A stored ``uncertain_below`` outside [0, 1] (a file
        trained before the config was checked) is read as its nearest bound.

    Raises
    ------
    ParameterError
        Not a section-classifier file written by :func:`save_section_model`.
    """
    import torch

    from workbench.models.heads import SectionClassifier, load_checkpoint
    from workbench.train.sections.features import WindowFeatures

    data = torch.load(path, weights_only=True, map_location="cpu")
    model = load_checkpoint(data)
    if not isinstance(model, SectionClassifier) or "window_features" not in data:
        raise ParameterError(f"{str(path)!r} is not a section-classifier file written by save_section_model")
    from workbench.train.sections.grammar import Grammar

    trans = None
    if "log_transitions" in data:
        trans = (data["log_transitions"].numpy(), data["log_init"].numpy(), data["log_final"].numpy())
    trainer = SectionTrainer.from_model(model)
    trainer.temperature_ = float(data.get("temperature", 1.0))
    # into [0, 1]: a file trained before the config was checked may hold 1.5, which every suggestion now refuses;
    # 1.0 marks the same suggestions uncertain (a confidence is at most 1), 0 the same none
    trainer.uncertain_below_ = min(max(float(data.get("uncertain_below", UNCERTAIN_BELOW)), 0.0), 1.0)
    trainer.novelty_weight_ = float(data.get("novelty_weight", 0.0))
    trainer.grammar_ = Grammar.from_dict(data["grammar"]) if "grammar" in data else None
    if trainer.grammar_ is not None and data.get("label_families") is not None:
        from dataclasses import replace

        from workbench.train.sections.families import LabelFamilies

        trainer.grammar_ = replace(trainer.grammar_, families=LabelFamilies.from_dict(data["label_families"]))
    knots = data.get("confidence_map")
    trainer.confidence_map_ = None if knots is None else (np.asarray(knots[0]), np.asarray(knots[1]))
    trainer.domain_map_ = None  # a file saved before session 19, or trained without confidence_map_domain
    if data.get("domain_map") is not None:
        from workbench.train.sections.domain_map import DomainMap

        trainer.domain_map_ = DomainMap.from_dict(data["domain_map"])
    trainer.members_ = [SectionTrainer.from_model(load_checkpoint(c)) for c in data.get("ensemble", [])]
    trainer.ensemble_score_ = str(data.get("ensemble_score", "mean"))
    trainer.route_ = None
    if data.get("route") is not None:
        from workbench.train.sections.domain_gate import GateReference
        from workbench.train.sections.domain_route import DomainRoute

        r = data["route"]
        ref = GateReference.from_state(r)
        trainer.route_ = DomainRoute(load_checkpoint(r["base"]).eval(), ref, float(r["gate"]), r.get("temperature"))
    return trainer, WindowFeatures.from_dict(data["window_features"]), trans
