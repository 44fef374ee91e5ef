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
ANALYSIS_VERSION = 5
#: Analysis rate in Hz (beats, key, energy); loudness uses the original rate and channels.
ANALYSIS_SR = 22050
#: Shortest audio analysed: a few bars at slow tempos.
MIN_DURATION_S = 3.0
_SILENCE_PEAK = 1e-4  # -80 dBFS
#: The one magnitude spectrogram shared by beats, key and energy: its FFT size and hop (samples
#: at :data:`ANALYSIS_SR`).
SPEC_N_FFT = 2048
SPEC_HOP = 512
#: Tempo stability under which a track's BPM is rough (live, rubato): the analyze table writes
#: ``~151``, similar writes ``Δ~+6 BPM``, and QA's ``unsteady_tempo`` flag uses the same threshold.
ROUGH_TEMPO_STABILITY = 0.5


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyze` found. Times in seconds.

    ``bpm`` is ``None`` (and ``beats``/``downbeats`` empty) when the track has no pulse the
    tracker finds (no periodic onsets: a pad, a drone); a pulse that wanders (rubato) keeps its
    rough tempo with a low ``tempo_stability``. ``key`` is a name like ``"A minor"``, ``camelot`` its code (``"8A"``),
    ``key_confidence`` in [1/24, 1]. ``energy`` is 1..10, comparable across tracks;
    ``energy_curve`` holds 0..1 per ``energy_hop_s`` seconds, relative to the track's own
    peak (use :meth:`section_energy` to compare its sections). ``loudness_lufs`` is
    integrated loudness (EBU R128).

    ``felt_bpm`` is the tempo a listener feels where it differs from the grid's (dubstep's
    half time: grid 140, felt 70), else ``None``; ``beat_confidence`` in [0, 1] says how sure
    the tracker is of its grid (``None``: not measured). ``has_key`` is ``False`` for material
    with no tonal centre (a drum loop); ``tuning_cents`` is the track's deviation from A440
    in cents (``None``: not measured). ``tempo_outside_prior`` is set when a narrow tempo prior
    holds no member of the track's strongest tempo family: that family's BPM nearest the prior
    (``bpm`` is then the best tempo inside the prior, not an octave of it); else ``None``.
    Results stored before these fields existed load with the defaults.
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
    felt_bpm: float | None = None
    beat_confidence: float | None = None
    has_key: bool = True
    tuning_cents: float | None = None
    tempo_outside_prior: float | None = None

    @property
    def has_beat(self) -> bool:
        return self.bpm is not None

    @property
    def tempo_rough(self) -> bool:
        """Whether the track has a BPM and it is rough (stability under :data:`ROUGH_TEMPO_STABILITY`)."""
        return self.bpm is not None and self.tempo_stability < ROUGH_TEMPO_STABILITY

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
    name: str | None = None,
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
    name : str or None
        What errors call the audio (its path, for a file); None: ``y``.

    Raises
    ------
    AudioTooShortError
        Less than :data:`MIN_DURATION_S` seconds.
    SilentAudioError
        Digital silence (peak below -80 dBFS).
    NonFiniteAudioError, EmptyAudioError, ParameterError
    """
    x = audio.validate(y, sr=sr, min_duration_s=MIN_DURATION_S, name=name or "y")
    if not (isinstance(energy_hop_s, (int, float)) and 0.05 <= energy_hop_s <= 10):
        raise ParameterError(f"energy_hop_s must be a float in [0.05, 10] seconds; got {energy_hop_s!r}")
    peak = float(np.abs(x).max())
    if peak < _SILENCE_PEAK:
        level = "every sample is 0" if peak == 0.0 else f"peak {20 * np.log10(peak):.0f} dBFS"  # not "-400 dBFS"
        raise SilentAudioError(f"{name + ': ' if name else ''}audio is silent ({level}); nothing to analyse")
    mono = audio.resample(audio.to_mono(x), orig_sr=sr, target_sr=ANALYSIS_SR)
    spec = shared_spectrogram(mono)
    grid: BeatGrid = track_beats(mono, sr=ANALYSIS_SR, bpm_prior=bpm_prior, spec=spec)
    key = estimate_key(mono, sr=ANALYSIS_SR, profile=key_profile, spec=spec)
    profile = energy_curve(mono, sr=ANALYSIS_SR, hop_s=energy_hop_s, spec=spec)
    loudness = integrated_lufs(x, sr=sr)
    felt = getattr(grid, "felt_bpm", None)
    confidence = getattr(grid, "confidence", None)
    tuning = getattr(key, "tuning_cents", None)
    outside = getattr(grid, "outside_prior_bpm", None)
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
        felt_bpm=None if felt is None else round(float(felt), 3),
        beat_confidence=None if confidence is None else round(float(confidence), 4),
        has_key=bool(getattr(key, "has_key", True)),
        tuning_cents=None if tuning is None else round(float(tuning), 2),
        tempo_outside_prior=None if outside is None or grid.bpm is None else round(float(outside), 2),
    )


def shared_spectrogram(mono: np.ndarray) -> np.ndarray:
    """The magnitude STFT that beats, key and energy share: computed once per track.

    Parameters
    ----------
    mono : np.ndarray [shape=(n,)]
        Mono samples at :data:`ANALYSIS_SR`.

    Returns
    -------
    np.ndarray [shape=(1 + SPEC_N_FFT // 2, 1 + n // SPEC_HOP), dtype=float32]
        ``|librosa.stft(mono, n_fft=2048, hop_length=512)|`` (Hann window, centred frames).
    """
    import librosa

    return np.abs(librosa.stft(mono, n_fft=SPEC_N_FFT, hop_length=SPEC_HOP))


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
