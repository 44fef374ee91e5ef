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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError, StoreError, WriteError, failure_reason
from workbench.validate import check_int, check_seed

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.embed.cache import EmbeddingCache
    from workbench.library import Library, Track

# The core (settings, draws, transforms) lives in workbench.augment_core; re-exported here.
from workbench.augment_core import (  # noqa: F401  (re-exported)
    _ORDER,
    _STRETCH_METHOD,
    AUGMENT_VERSION,
    HARD_LIMITS,
    SAFE_RANGES,
    AugmentSettings,
    UnsafeAugmentationError,
    _apply,
    _check_audio,
    _check_params,
    _fmt,
    _transforms,
    draw_params,
)


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


def _equalised(x: np.ndarray, sr: int, eq: dict[str, Any] | None) -> np.ndarray:
    """``x`` through a seven-band parametric EQ drawn from ``eq["seed"]`` (gains in ``±eq["max_db"]`` dB), or ``x``.

    The bands are audiomentations' (``SevenBandParametricEQ``'s shelves and peaks, their frequency and Q
    ranges); their centre (uniform in mel), gain and Q are drawn here from ``numpy.random.default_rng(seed)``
    and frozen, as :func:`augment` does, so neither global RNG is read or reseeded.
    """
    if not eq:
        return x
    from audiomentations import SevenBandParametricEQ
    from audiomentations.core.utils import convert_frequency_to_mel, convert_mel_to_frequency

    rng = np.random.default_rng(int(eq["seed"]))
    chain = SevenBandParametricEQ(min_gain_db=-eq["max_db"], max_gain_db=eq["max_db"], p=1.0)
    for band in (chain.low_shelf_filter, *chain.peaking_filters, chain.high_shelf_filter):
        mel = rng.uniform(convert_frequency_to_mel(band.min_center_freq), convert_frequency_to_mel(band.max_center_freq))
        band.parameters = {"should_apply": True, "center_freq": float(convert_mel_to_frequency(mel)),
                           "gain_db": float(rng.uniform(band.min_gain_db, band.max_gain_db)),
                           "q_factor": float(rng.uniform(band.min_q, band.max_q))}
        x = band.apply(np.asarray(x, dtype=np.float32), int(sr))
    return np.asarray(x, dtype=np.float32)


def embed_views(library: Library, tracks: Sequence[Track] | None = None, *, backbone: Backbone | None = None,
                n_views: int, settings: AugmentSettings | None = None, seed: int = 0, progress: bool = True,
                eq_db: float = 0.0) -> ViewSummary:
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
    eq_db : float in [0, 12]
        Before the chain, a seeded seven-band parametric EQ (audiomentations') with band gains in
        ``±eq_db`` dB, another instrument's or mix's tone (0: none; part of the view's parameters).

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
    if isinstance(eq_db, bool) or not isinstance(eq_db, (int, float)) or not 0 <= eq_db <= 12:
        raise ParameterError(f"eq_db must be a number of dB in [0, 12]; got {eq_db!r}")
    b = backbone if backbone is not None else FeatureFrontend()
    cache = view_cache(library, b)
    summary = ViewSummary()
    for t in tqdm(library.tracks() if tracks is None else tracks, desc="augment", unit="track",
                  disable=not progress):
        all_params = [draw_params(settings, seed=view_seed(seed, i, content_hash=t.content_hash)) for i in range(n)]
        if eq_db:
            all_params = [{**p, "eq": {"max_db": float(eq_db), "seed": p["seed"]}} for p in all_params]
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
                    y_aug, recorded = _apply(_equalised(_check_audio(y, sr), int(sr), p.get("eq")), int(sr), p)
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
