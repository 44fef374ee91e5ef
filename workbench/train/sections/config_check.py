"""A section-training config's values checked before its job starts.

``workbench train sections --set epochs=abc`` reached the job and ended in a traceback
(``int('abc')``); a value of the wrong kind for any setting whose default is a number or a
flag is refused here, naming the key, what it takes and the value, and the trainer's own
settings are checked as the trainer will check them (ranges included).
"""

from __future__ import annotations

import json
import math
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
        ``epochs must be an int; got 'abc'``: the key, what it takes, the value given.
    """
    from workbench.train.sections.trainer import SectionTrainer
    from workbench.train.sections.training import _TRAINER_KEYS, CONFIG_DEFAULTS

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
