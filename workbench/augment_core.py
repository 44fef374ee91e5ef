"""The augmentation's settings, parameter draws and transform chain (the core of :mod:`workbench.augment`).

Split out of :mod:`workbench.augment`, which re-exports every name here: the safe ranges, the
hard limits, :class:`AugmentSettings`, :func:`draw_params` and the transforms that apply a drawn
parameter dict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.errors import ParameterError
from workbench.validate import check_bool, check_seed

#: Version of the parameter format and of the transform chain (part of every cache key).
AUGMENT_VERSION = 1

#: The research's safe ranges: ``name -> (low, high, unit, why)``.
SAFE_RANGES: dict[str, tuple[float, float, str, str]] = {
    "pitch_semitones": (-3.0, 3.0, "semitones", "beyond ±4 semitones the perceived key changes"),
    "stretch_rate": (0.9, 1.1, "x", "tempo must stay within a DJ's pitch-fader range"),
    "noise_amplitude": (0.001, 0.015, "amplitude", "louder noise masks the music"),
    "gain_db": (-6.0, 3.0, "dB", "more gain clips, less buries the track"),
}

#: Hard limits even with ``allow_unsafe=True`` (audiomentations' own, or physical sense).
HARD_LIMITS: dict[str, tuple[float, float]] = {
    "pitch_semitones": (-24.0, 24.0),
    "stretch_rate": (0.5, 2.0),
    "noise_amplitude": (1e-6, 0.5),
    "gain_db": (-40.0, 20.0),
}

#: Transform order: (parameter-dict key, settings range field, probability field).
_ORDER = (("time_stretch", "stretch_rate", "stretch_p"), ("pitch_shift", "pitch_semitones", "pitch_p"),
          ("gain", "gain_db", "gain_p"), ("noise", "noise_amplitude", "noise_p"))

_STRETCH_METHOD = "signalsmith_stretch"


class UnsafeAugmentationError(ParameterError):
    """An augmentation range lies outside the research's safe range and was not opted into."""


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class AugmentSettings:
    """Ranges and probabilities of the four transforms, validated on creation.

    Parameters
    ----------
    pitch_semitones : (low, high)
        Pitch shift range in semitones; safe -3..+3.
    stretch_rate : (low, high)
        Time-stretch rate (> 1 is faster); safe 0.9..1.1. The view's length changes with it.
    noise_amplitude : (low, high)
        Standard deviation of added Gaussian noise (full scale = 1); safe 0.001..0.015.
    gain_db : (low, high)
        Gain in dB; safe -6..+3.
    pitch_p, stretch_p, noise_p, gain_p : float in [0, 1]
        Probability that each transform is applied to a view (0 turns it off).
    allow_unsafe : bool
        Opt in to ranges outside the safe ones (still within :data:`HARD_LIMITS`).
    """

    pitch_semitones: tuple[float, float] = (-3.0, 3.0)
    stretch_rate: tuple[float, float] = (0.9, 1.1)
    noise_amplitude: tuple[float, float] = (0.001, 0.015)
    gain_db: tuple[float, float] = (-6.0, 3.0)
    pitch_p: float = 0.5
    stretch_p: float = 0.5
    noise_p: float = 0.5
    gain_p: float = 0.5
    allow_unsafe: bool = False

    def __post_init__(self) -> None:
        check_bool("allow_unsafe", self.allow_unsafe)
        for name, (lo_safe, hi_safe, unit, why) in SAFE_RANGES.items():
            value = getattr(self, name)
            if (not isinstance(value, Sequence) or len(value) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                               for v in value)):
                raise ParameterError(f"{name} must be a (low, high) pair of finite numbers in {unit}; got {value!r}")
            lo, hi = float(value[0]), float(value[1])
            if lo > hi:
                raise ParameterError(f"{name} must have low <= high; got {value!r}")
            object.__setattr__(self, name, (lo, hi))
            hard_lo, hard_hi = HARD_LIMITS[name]
            if lo < hard_lo or hi > hard_hi:
                raise ParameterError(f"{name} must lie within [{_fmt(hard_lo)}, {_fmt(hard_hi)}] {unit} "
                                     f"even with allow_unsafe=True; got {value!r}")
            if (lo < lo_safe or hi > hi_safe) and not self.allow_unsafe:
                raise UnsafeAugmentationError(
                    f"{name}={(lo, hi)!r} is outside the safe range [{_fmt(lo_safe)}, {_fmt(hi_safe)}] {unit} "
                    f"({why}); pass allow_unsafe=True to use it anyway")
        for name in ("pitch_p", "stretch_p", "noise_p", "gain_p"):
            p = getattr(self, name)
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
                raise ParameterError(f"{name} must be a probability in [0, 1]; got {p!r}")
            object.__setattr__(self, name, float(p))

    def __str__(self) -> str:
        """The settings to read (``print(settings)``): one line per transform, its range with its unit, how often
        it is applied, and whether it is within the safe range; ``repr`` stays the constructor call."""
        said = {"pitch_semitones": ("pitch shift", "{} .. {} semitones"), "stretch_rate": ("time stretch", "{} .. {}x"),
                "noise_amplitude": ("added noise", "{} .. {} (std, full scale 1)"), "gain_db": ("gain", "{} .. {} dB")}
        lines = [f"augmentation settings ({'unsafe ranges allowed' if self.allow_unsafe else 'safe ranges'}):"]
        for name, (what, text) in said.items():
            lo, hi = getattr(self, name)
            p = getattr(self, f"{name.split('_')[0]}_p")
            signed = name in ("pitch_semitones", "gain_db")
            rng = text.format(*(f"{v:+g}" if signed and v else _fmt(v) for v in (lo, hi)))
            lo_safe, hi_safe = SAFE_RANGES[name][:2]
            where = "safe" if lo_safe <= lo and hi <= hi_safe else "outside the safe range"
            lines.append(f"  {what:<13} {rng:<35} {'off' if p == 0 else f'applied to {p:.0%} of views'}, {where}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (ranges as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def draw_params(settings: AugmentSettings | None = None, *, seed: int) -> dict[str, Any]:
    """Draw one view's parameters (no audio needed).

    Parameters
    ----------
    settings : AugmentSettings or None
        Ranges and probabilities; None means the default ``AugmentSettings()``.
    seed : int >= 0
        Fixes every drawn value.

    Returns
    -------
    dict
        JSON-ready: ``{"version", "seed", "time_stretch": {"should_apply", "rate",
    "method"}, "pitch_shift": {"should_apply", "num_semitones", "method"}, "gain": {"should_apply",
    "gain_db", "amplitude_ratio"}, "noise": {"should_apply", "amplitude", "noise_seed"}}``; the
    value keys of each transform are audiomentations' ``.parameters`` (plus our additions).

    Raises
    ------
    ParameterError
        ``settings`` is not an ``AugmentSettings``, or ``seed`` is not a valid seed.
    """
    s = settings if settings is not None else AugmentSettings()
    if not isinstance(s, AugmentSettings):
        raise ParameterError(f"settings must be an AugmentSettings; got {type(s).__name__}")
    rng = np.random.default_rng(check_seed("seed", seed))
    params: dict[str, Any] = {"version": AUGMENT_VERSION, "seed": int(seed)}
    for key, range_name, p_name in _ORDER:
        lo, hi = getattr(s, range_name)
        apply = bool(rng.random() < getattr(s, p_name))
        value = float(rng.uniform(lo, hi))  # always drawn, so one transform's switch never shifts the others
        extra = int(rng.integers(2**31 - 1))
        if not apply:
            params[key] = {"should_apply": False}
        elif key == "time_stretch":
            params[key] = {"should_apply": True, "rate": value, "method": _STRETCH_METHOD}
        elif key == "pitch_shift":
            params[key] = {"should_apply": True, "num_semitones": value, "method": _STRETCH_METHOD}
        elif key == "gain":
            params[key] = {"should_apply": True, "gain_db": value, "amplitude_ratio": float(10.0 ** (value / 20.0))}
        else:
            params[key] = {"should_apply": True, "amplitude": value, "noise_seed": extra}
    return params


def _transforms() -> dict[str, Any]:
    from audiomentations import AddGaussianNoise, Gain, PitchShift, TimeStretch

    class SeededGaussianNoise(AddGaussianNoise):
        """audiomentations' Gaussian noise, drawn from ``parameters["noise_seed"]`` (not the global RNG)."""

        def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
            """Add the drawn noise to ``samples``.

            Parameters
            ----------
            samples : np.ndarray [shape=(n,) or (channels, n)]
                Audio.
            sample_rate : int > 0
                Sample rate in Hz (not used: white noise).
            """
            noise = np.random.default_rng(self.parameters["noise_seed"]).standard_normal(samples.shape)
            return (samples + self.parameters["amplitude"] * noise).astype(np.float32)

    return {
        "time_stretch": TimeStretch(leave_length_unchanged=False, method=_STRETCH_METHOD, p=1.0),
        "pitch_shift": PitchShift(method=_STRETCH_METHOD, p=1.0),
        "gain": Gain(p=1.0),
        "noise": SeededGaussianNoise(p=1.0),
    }


def _check_audio(y: object, sr: object) -> np.ndarray:
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr <= 0:
        raise ParameterError(f"sr must be an int > 0 (Hz); got {sr!r}")
    x = np.asarray(y, dtype=np.float32)
    if x.ndim not in (1, 2) or x.shape[-1] == 0 or (x.ndim == 2 and x.shape[0] not in (1, 2)):
        raise ParameterError(f"y must have shape (n,) or (channels <= 2, n) with n >= 1; got {x.shape}")
    if not np.isfinite(x).all():
        raise ParameterError("y contains NaN or infinity")
    return np.ascontiguousarray(x)


def _check_params(params: object) -> dict[str, Any]:
    if not isinstance(params, dict) or params.get("version") != AUGMENT_VERSION:
        raise ParameterError(f"params must be a dict from draw_params/augment (version {AUGMENT_VERSION}); "
                             f"got {params!r:.200}")
    for key, *_ in _ORDER:
        entry = params.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("should_apply"), bool):
            raise ParameterError(f"params[{key!r}] must be a dict with a bool 'should_apply'; got {entry!r}")
    return params


def _apply(x: np.ndarray, sr: int, params: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Run the frozen transforms; returns the audio and each transform's ``.parameters`` as used."""
    recorded: dict[str, Any] = {"version": params["version"], "seed": params.get("seed")}
    for key, transform in _transforms().items():
        transform.parameters = dict(params[key])
        transform.freeze_parameters()
        x = transform(x, int(sr))
        recorded[key] = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in transform.parameters.items()}
    return np.asarray(x, dtype=np.float32), recorded
