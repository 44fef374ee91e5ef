"""Safe, seeded, replayable audio augmentation, and augmented views embedded once and cached.

The transforms are audiomentations' (``TimeStretch``, ``PitchShift``, ``Gain``,
``AddGaussianNoise``), applied in that order, each with a probability. The default ranges are the
research's safe ones, which keep a track recognisably itself:

========================  =================  ==========================================
setting                   safe range         why
========================  =================  ==========================================
``pitch_semitones``       -3 .. +3           beyond ±4 semitones the perceived key changes
``stretch_rate``          0.9 .. 1.1         tempo stays within a DJ's pitch-fader range
``noise_amplitude``       0.001 .. 0.015     audible hiss, music intact
``gain_db``               -6 .. +3           level changes, no heavy clipping
========================  =================  ==========================================

A range outside these is refused unless ``allow_unsafe=True``.

Randomness is explicit: :func:`draw_params` draws every parameter from
``numpy.random.default_rng(seed)`` (audiomentations' own global ``random`` is never used), the
transforms run with their parameters frozen, and the noise comes from a seed recorded in the
parameters. So ``replay(y, sr=sr, params=params)`` rebuilds a view exactly, and the parameters
(a JSON-ready dict) are known before any audio is decoded, which is what lets
:func:`embed_views` key its cache on them and skip decoding on a second run.

>>> y_aug, params = augment(y, sr=44100, seed=3)                  # doctest: +SKIP
>>> np.array_equal(replay(y, sr=44100, params=params), y_aug)      # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError, StoreError, WriteError, failure_reason
from workbench.validate import check_bool, check_int, check_seed

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.embed.cache import EmbeddingCache
    from workbench.library import Library, Track

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


def augment(y: np.ndarray, *, sr: int, settings: AugmentSettings | None = None,
            seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """One augmented view of ``y`` and the parameters drawn for it.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels <= 2, n)]
        Audio, float32 in [-1, 1].
    sr : int > 0
        Sample rate in Hz.
    settings : AugmentSettings or None
        Ranges and probabilities (default: the safe ones, each transform at p = 0.5).
    seed : int >= 0
        Fixes every parameter (and the noise).

    Returns
    -------
    y_aug : np.ndarray [dtype=float32]
        The view; time stretching changes its length by ``1 / rate``.
    params : dict
        What was applied (read back from each transform's ``.parameters``); give it to :func:`replay`.
    """
    x = _check_audio(y, sr)
    return _apply(x, int(sr), draw_params(settings, seed=seed))


def replay(y: np.ndarray, *, sr: int, params: dict[str, Any]) -> np.ndarray:
    """Rebuild the view ``params`` describes, sample for sample.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels <= 2, n)]
        The original audio, finite.
    sr : int > 0
        Sample rate in Hz.
    params : dict
        Parameters from :func:`augment` or :func:`draw_params`.

    Returns
    -------
    np.ndarray [dtype=float32]
        The view.

    Raises
    ------
    ParameterError
        Bad audio or sample rate, or ``params`` of another format version.
    """
    return _apply(_check_audio(y, sr), int(sr), _check_params(params))[0]


def augmented_views(y: np.ndarray, *, sr: int, n_views: int, settings: AugmentSettings | None = None,
                    seed: int = 0) -> list[tuple[np.ndarray, dict[str, Any]]]:
    """``n_views`` views of ``y``, view ``i`` seeded by ``(seed, i)``; each with its parameters.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels <= 2, n)]
        Audio, finite.
    sr : int > 0
        Sample rate in Hz.
    n_views : int >= 1
        How many views.
    settings : AugmentSettings or None
        Ranges and probabilities; None means the defaults.
    seed : int >= 0
        Run seed; view ``i`` draws from :func:`view_seed` ``(seed, i)``.

    Returns
    -------
    list of (np.ndarray, dict)
        Each view's audio (float32) and the parameters applied.
    """
    n = check_int("n_views", n_views, min=1)
    x = _check_audio(y, sr)
    return [_apply(x, int(sr), draw_params(settings, seed=view_seed(seed, i))) for i in range(n)]


def view_seed(seed: int, view: int, *, content_hash: str | None = None) -> int:
    """The seed of view ``view`` (of the track ``content_hash``, when given) under a run seed.

    Parameters
    ----------
    seed : int >= 0
        The run seed.
    view : int >= 0
        The view's number.
    content_hash : str or None
        The track's hex content hash (its first 15 digits are mixed in); None: no track.

    Returns
    -------
    int
        A 32-bit seed.
    """
    words = [check_seed("seed", seed), int(view)]
    if content_hash is not None:
        words.append(int(content_hash[:15], 16))
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def time_scale(params: dict[str, Any]) -> float:
    """How the view's time axis relates to the original's: ``t_view = t_original * time_scale``.

    Parameters
    ----------
    params : dict
        A view's parameters (:func:`draw_params`).

    Returns
    -------
    float > 0
        ``1 / rate`` when time stretching applied, else 1.0.
    """
    ts = params.get("time_stretch", {})
    return 1.0 / float(ts["rate"]) if ts.get("should_apply") else 1.0


def params_hash(params: dict[str, Any]) -> str:
    """16 hex digits naming a parameter dict (order-independent).

    Parameters
    ----------
    params : dict
        JSON-ready parameters.

    Returns
    -------
    str
        The first 16 hex digits of the sha256 of the key-sorted JSON.
    """
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Offline views: embedded once, cached by (track content, augmentation parameters)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """One augmented view's frame embeddings.

    ``timestamps_s`` are mapped back to the original track's time axis (divided by
    :func:`time_scale`), so a section ``[start_s, end_s)`` of the track selects the same music.
    """

    track_id: int
    content_hash: str
    view: int
    params: dict[str, Any]
    embeddings: np.ndarray
    timestamps_s: np.ndarray


@dataclass
class ViewSummary:
    """The views, how many were embedded now or found cached, and failures by path."""

    views: list[View] = field(default_factory=list)
    embedded: int = 0
    cached: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"augmented views: {self.embedded} embedded, {self.cached} cached, {len(self.failed)} failed"]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def view_cache(library: Library, backbone: Backbone) -> EmbeddingCache:
    """The cache of augmented views beside the library's own embeddings.

    Its settings are the backbone's plus the augmentation format; each entry's key is
    ``sha256(content_hash + parameters)``, so different parameters never share an entry.

    Parameters
    ----------
    library : Library
        Its database's folder holds the ``embeddings/`` cache.
    backbone : Backbone
        Its ``name`` and ``settings`` (plus the augmentation format) name the cache.

    Returns
    -------
    EmbeddingCache
    """
    from workbench.embed.cache import EmbeddingCache

    return EmbeddingCache(Path(library.path).parent / "embeddings", backbone=backbone.name,
                          settings={**backbone.settings, "augmented_views": AUGMENT_VERSION})


def view_key(content_hash: str, params: dict[str, Any]) -> str:
    """The cache key of one view: sha256 of the track's content hash and its parameters.

    Parameters
    ----------
    content_hash : str
        The track's content hash (hex sha256 of its file).
    params : dict
        The view's parameters.

    Returns
    -------
    str
        64 hex digits.
    """
    return hashlib.sha256(f"{content_hash}:{json.dumps(params, sort_keys=True)}".encode()).hexdigest()


def embed_views(library: Library, tracks: Sequence[Track] | None = None, *, backbone: Backbone | None = None,
                n_views: int, settings: AugmentSettings | None = None, seed: int = 0, progress: bool = True) -> ViewSummary:
    """Embed ``n_views`` augmented views of each track, once; later calls read the cache.

    Parameters
    ----------
    library : Library
        The library whose tracks are read and whose cache is used.
    tracks : sequence of Track or None
        Default: every track of the library.
    backbone : Backbone or None
        Default: the feature frontend.
    n_views : int >= 1
        Views per track.
    settings : AugmentSettings or None
        Ranges and probabilities; None means the defaults.
    seed : int >= 0
        View ``i`` of a track draws from ``view_seed(seed, i, content_hash=...)``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    ViewSummary
        Views in track order then view order; a track whose audio fails is listed in ``failed``.
    """
    from tqdm.auto import tqdm

    from workbench import audio
    from workbench.embed.features import FeatureFrontend

    n = check_int("n_views", n_views, min=1)
    check_seed("seed", seed)
    b = backbone if backbone is not None else FeatureFrontend()
    cache = view_cache(library, b)
    summary = ViewSummary()
    for t in tqdm(library.tracks() if tracks is None else tracks, desc="augment", unit="track",
                  disable=not progress):
        all_params = [draw_params(settings, seed=view_seed(seed, i, content_hash=t.content_hash)) for i in range(n)]
        hits = [cache.get(view_key(t.content_hash, p)) for p in all_params]
        y = sr = None
        views: list[View] = []
        try:
            for i, (p, hit) in enumerate(zip(all_params, hits, strict=True)):
                if hit is None:
                    if y is None:
                        y, sr = audio.load(t.path, mono=False)
                        if y.ndim == 2 and y.shape[0] > 2:  # the stretcher takes mono or stereo
                            y = y.mean(axis=0)
                    y_aug, recorded = _apply(_check_audio(y, sr), int(sr), p)
                    emb, ts = b.embed(y_aug, sr=sr)
                    cache.put(view_key(t.content_hash, p), emb, ts)
                    summary.embedded += 1
                else:
                    emb, ts = hit
                    summary.cached += 1
                views.append(View(t.id, t.content_hash, i, p, np.asarray(emb, dtype=np.float32),
                                  np.asarray(ts, dtype=np.float64) / time_scale(p)))
        except (ParameterError, StoreError, WriteError):  # settings or the cache: every track would fail the same way
            raise
        except Exception as exc:  # one track's decoder, librosa or audiomentations error never stops the batch
            summary.failed.append((t.path, failure_reason(exc)))
            continue
        summary.views.extend(views)
    return summary
