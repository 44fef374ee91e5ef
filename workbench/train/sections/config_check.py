"""A section-training config's values, and its label counts, checked before its job starts.

``workbench train sections --set epochs=abc`` reached the job and ended in a traceback
(``int('abc')``); a value of the wrong kind for any setting whose default is a number or a
flag is refused here, naming the key, what it takes and the value, and the trainer's own
settings are checked as the trainer will check them (ranges included).

Too few labels were refused inside the job, so every refusal left a failed job in
``workbench jobs``; :func:`check_label_counts` refuses them first, from the section records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from workbench.errors import ParameterError

#: Settings whose number may also be None (no limit, or one thread per core).
NONE_ALLOWED = ("n_threads", "max_samples_per_epoch")


def _kind(default: Any) -> str | None:
    """What a setting with this default takes: "flag", "int", "number", or None (checked elsewhere)."""
    if isinstance(default, bool):
        return "flag"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "number"
    return None


def _fits(kind: str, value: Any) -> bool:
    if kind == "flag":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) if kind == "int" else math.isfinite(value)


def check_sections_config(cfg: dict[str, Any]) -> None:
    """Refuse a section-training value of the wrong kind or out of the trainer's range.

    Parameters
    ----------
    cfg : dict
        The job's config keys (known keys only: unknown ones are refused before this).

    Raises
    ------
    ParameterError
        ``epochs must be an int; got 'abc'``: the key, what it takes, the value given (``position_free``:
        section labels).
    """
    from workbench.train.sections.grammar import position_free_labels
    from workbench.train.sections.trainer import SectionTrainer
    from workbench.train.sections.training import _TRAINER_KEYS, CONFIG_DEFAULTS

    if "position_free" in cfg:
        position_free_labels(cfg["position_free"])
    said = {"flag": "true or false", "int": "an int", "number": "a number"}
    for key, value in cfg.items():
        kind = _kind(CONFIG_DEFAULTS.get(key))
        if kind is None or (value is None and key in NONE_ALLOWED):
            continue
        if not _fits(kind, value):
            raise ParameterError(f"{key} must be {said[kind]}{' or null' if key in NONE_ALLOWED else ''} "
                                 f"(default {json.dumps(CONFIG_DEFAULTS[key])}); got {value!r}")
        if key in NONE_ALLOWED and value is not None and value < 1:
            raise ParameterError(f"{key} must be None or an int >= 1; got {value!r}")
    SectionTrainer(**{k: cfg[k] for k in _TRAINER_KEYS if k in cfg})._check_params()  # ranges, as fit checks them
    for key, lo, hi in (("audio_views", 0, 16), ("audio_view_eq_db", 0, 12), ("audio_view_weight", 1e-9, 1),
                        ("outro_gate", 0, 10), ("repeat_relabel", 0, 1),
                        ("weak_boundary_penalty", 0, 100)):
        if key in cfg and not lo <= cfg[key] <= hi:
            raise ParameterError(f"{key} must be in [{lo:g}, {hi:g}]; got {cfg[key]!r}")
    gate = cfg.get("outro_gate", CONFIG_DEFAULTS["outro_gate"])
    inert = {"label_families": "off", "grammar": True}  # the gate scores the grammar's last section, families aside
    for key, needed in inert.items():
        value = cfg.get(key, CONFIG_DEFAULTS[key])
        if gate > 0 and value != needed:
            raise ParameterError(f"outro_gate={gate!r} is not used with {key}={value!r}; set outro_gate=0 or "
                                 f"{key}={needed!r}")


def check_label_counts(sections: Iterable[Any], cfg: dict[str, Any]) -> None:
    """Refuse, before a job is created, section records too few to train on.

    The records' labelled sections per label go through
    :func:`~workbench.train.sections.features.check_readiness` with the config's ``min_per_class``
    and ``min_classes``. The job counts only the sections of tracks it can read and embed, never
    more, so records refused here would be refused in the job (which then failed, as a job).

    Parameters
    ----------
    sections : iterable of records
        Dicts or objects with a ``label`` (``{track_id, label, start_s, end_s}``); labels not in
        :data:`~workbench.train.sections.features.LABELS` are left to the job to refuse.
    cfg : dict
        The job's config (checked by :func:`check_sections_config`); defaults where a key is absent.

    Raises
    ------
    NotReadyError
        ``"Need more labels: drop 3/10 (labelled sections per class): label more, or ..."`` or
        ``"Need 2+ classes: have 1 (drop)"``.
    """
    from workbench.train.sections.features import LABELS, check_readiness
    from workbench.train.sections.training import CONFIG_DEFAULTS

    counts = dict.fromkeys(LABELS, 0)
    for r in sections:
        label = r.get("label") if isinstance(r, Mapping) else getattr(r, "label", None)
        if label in counts:
            counts[label] += 1
    check_readiness(counts, min_per_class=int(cfg.get("min_per_class", CONFIG_DEFAULTS["min_per_class"])),
                    min_classes=int(cfg.get("min_classes", CONFIG_DEFAULTS["min_classes"])))
