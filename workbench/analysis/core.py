"""``analyze``: everything a DJ reads off a track, in one call."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from workbench import audio
from workbench.analysis.beats import BeatGrid, BpmPrior, track_beats
from workbench.analysis.energy import DEFAULT_HOP_S, energy_curve, energy_level, track_energy
from workbench.analysis.key import DEFAULT_PROFILE, estimate_key
from workbench.analysis.loudness import integrated_lufs
from workbench.errors import ParameterError, SilentAudioError

#: Bump when an algorithm changes, so stored analyses are recomputed.
ANALYSIS_VERSION = 2
#: Analysis rate in Hz (beats, key, energy); loudness uses the original rate and channels.
ANALYSIS_SR = 22050
#: Shortest audio analysed: a few bars at slow tempos.
MIN_DURATION_S = 3.0
_SILENCE_PEAK = 1e-4  # -80 dBFS


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyze` found. Times in seconds.

    ``bpm`` is ``None`` (and ``beats``/``downbeats`` empty) when the track has no steady
    beat. ``key`` is a name like ``"A minor"``, ``camelot`` its code (``"8A"``),
    ``key_confidence`` in [1/24, 1]. ``energy`` is 1..10, comparable across tracks;
    ``energy_curve`` holds 0..1 per ``energy_hop_s`` seconds, relative to the track's own
    peak (use :meth:`section_energy` to compare its sections). ``loudness_lufs`` is
    integrated loudness (EBU R128).
    """

    duration_s: float
    bpm: float | None
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    tempo_stability: float
    key: str
    camelot: str
    key_confidence: float
    energy: int
    energy_curve: tuple[float, ...]
    energy_hop_s: float
    loudness_lufs: float

    @property
    def has_beat(self) -> bool:
        return self.bpm is not None

    def section_energy(self, start_s: float, end_s: float) -> int:
        """The 1..10 energy level of the span ``[start_s, end_s)``.

        Parameters
        ----------
        start_s, end_s : float >= 0
            The span, in seconds.

        Returns
        -------
        int in 1..10
            :func:`~workbench.analysis.energy.energy_level` of the curve over at least one value.
        """
        curve = np.asarray(self.energy_curve)
        a = int(start_s / self.energy_hop_s)
        b = max(a + 1, int(np.ceil(end_s / self.energy_hop_s)))
        return energy_level(curve[a:b])

    def to_json(self) -> str:
        """JSON with rounded floats (ms for times), for the store."""
        d = asdict(self)
        d["beats"] = [round(t, 4) for t in self.beats]
        d["downbeats"] = [round(t, 4) for t in self.downbeats]
        d["energy_curve"] = [round(v, 4) for v in self.energy_curve]
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> Analysis:
        """An :class:`Analysis` from the JSON text the library stores.

        Parameters
        ----------
        text : str
            JSON of every field (sequences as lists).

        Returns
        -------
        Analysis
        """
        d = json.loads(text)
        for name in ("beats", "downbeats", "energy_curve"):
            d[name] = tuple(d[name])
        return cls(**d)


def analyze(
    y: np.ndarray,
    *,
    sr: int,
    bpm_prior: BpmPrior | None = None,
    key_profile: str = DEFAULT_PROFILE,
    energy_hop_s: float = DEFAULT_HOP_S,
) -> Analysis:
    """Beats, tempo, key, energy and loudness of one track.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Samples at their original level.
    sr : int > 0
        Sample rate in Hz.
    bpm_prior : BpmPrior or None
        Expected tempo range (e.g. ``BpmPrior.trance()``); ``None`` means 70-185 BPM.
    key_profile : {"temperley", "krumhansl"}
        Key profile for the chroma correlation.
    energy_hop_s : float > 0
        Resolution of the energy curve in seconds.

    Raises
    ------
    AudioTooShortError
        Less than :data:`MIN_DURATION_S` seconds.
    SilentAudioError
        Digital silence (peak below -80 dBFS).
    NonFiniteAudioError, EmptyAudioError, ParameterError
    """
    x = audio.validate(y, sr=sr, min_duration_s=MIN_DURATION_S)
    if not (isinstance(energy_hop_s, (int, float)) and 0.05 <= energy_hop_s <= 10):
        raise ParameterError(f"energy_hop_s must be a float in [0.05, 10] seconds; got {energy_hop_s!r}")
    peak = float(np.abs(x).max())
    if peak < _SILENCE_PEAK:
        raise SilentAudioError(f"audio is silent (peak {20 * np.log10(peak + 1e-20):.0f} dBFS); nothing to analyse")
    mono = audio.resample(audio.to_mono(x), orig_sr=sr, target_sr=ANALYSIS_SR)
    grid: BeatGrid = track_beats(mono, sr=ANALYSIS_SR, bpm_prior=bpm_prior)
    key = estimate_key(mono, sr=ANALYSIS_SR, profile=key_profile)
    profile = energy_curve(mono, sr=ANALYSIS_SR, hop_s=energy_hop_s)
    loudness = integrated_lufs(x, sr=sr)
    return Analysis(
        duration_s=x.shape[-1] / sr,
        bpm=None if grid.bpm is None else round(grid.bpm, 3),
        beats=tuple(float(t) for t in grid.beats),
        downbeats=tuple(float(t) for t in grid.downbeats),
        tempo_stability=round(grid.tempo_stability, 4),
        key=key.name,
        camelot=key.camelot,
        key_confidence=round(key.confidence, 4),
        energy=track_energy(profile, loudness_lufs=loudness),
        energy_curve=tuple(float(v) for v in profile.curve),
        energy_hop_s=float(energy_hop_s),
        loudness_lufs=round(loudness, 2),
    )


def settings_key(*, bpm_prior: BpmPrior | None, key_profile: str, energy_hop_s: float) -> str:
    """A stable string naming the analysis settings (stored with each result).

    Parameters
    ----------
    bpm_prior : BpmPrior or None
        None means ``BpmPrior()``.
    key_profile : str
        The key profile's name.
    energy_hop_s : float
        Seconds per energy-curve value.

    Returns
    -------
    str
        Sorted-key JSON, including the analysis version.
    """
    prior = asdict(bpm_prior if bpm_prior is not None else BpmPrior())
    return json.dumps({"version": ANALYSIS_VERSION, "bpm_prior": prior, "key_profile": key_profile,
                       "energy_hop_s": energy_hop_s}, sort_keys=True)
