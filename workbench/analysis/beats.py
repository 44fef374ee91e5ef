"""Tempo, beats and downbeats.

Tempo comes from the autocorrelation of librosa's onset envelope, scored with its metrical
relatives (half, double, triple) and a prior over BPM, so that the octave a DJ would count
is chosen; librosa's dynamic-programming tracker then places the beats at that tempo, and the
final BPM is the slope of a line fitted through them. Downbeats are the beat phase (of four)
where low-frequency and harmonic change concentrates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.errors import ParameterError

HOP_LENGTH = 512
_BPM_GRID = np.arange(60.0, 200.05, 0.1)
_MIN_ONSET_SHARPNESS_DB = 2.0  # below this, nothing in the track is struck: no beat


@dataclass(frozen=True)
class BpmPrior:
    """Where a track's tempo is expected to lie (BPM).

    Tempos outside ``[min_bpm, max_bpm]`` are never chosen; inside, a log-normal weight
    centred on ``center_bpm`` with ``width_octaves`` standard deviation breaks half/double
    ties. ``BpmPrior.trance()`` is the seed design's 128-150 centred on 139.
    """

    min_bpm: float = 70.0
    max_bpm: float = 185.0
    center_bpm: float = 125.0
    width_octaves: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_bpm", "max_bpm", "center_bpm", "width_octaves"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ParameterError(f"BpmPrior.{name} must be a finite float > 0; got {value!r}")
        if not 30 <= self.min_bpm < self.max_bpm <= 300:
            raise ParameterError(
                f"BpmPrior needs 30 <= min_bpm < max_bpm <= 300; got min_bpm={self.min_bpm}, max_bpm={self.max_bpm}"
            )
        if not self.min_bpm <= self.center_bpm <= self.max_bpm:
            raise ParameterError(
                f"BpmPrior.center_bpm must lie in [min_bpm, max_bpm] = [{self.min_bpm}, {self.max_bpm}]; "
                f"got {self.center_bpm}"
            )

    @classmethod
    def trance(cls) -> BpmPrior:
        """128-150 BPM centred on 139."""
        return cls(min_bpm=128.0, max_bpm=150.0, center_bpm=139.0, width_octaves=0.3)

    def weight(self, bpm: np.ndarray) -> np.ndarray:
        """Prior weight of each tempo, 0 outside the range."""
        bpm = np.asarray(bpm, dtype=np.float64)
        w = np.exp(-0.5 * (np.log2(bpm / self.center_bpm) / self.width_octaves) ** 2)
        return np.where((bpm >= self.min_bpm) & (bpm <= self.max_bpm), w, 0.0)


@dataclass(frozen=True)
class BeatGrid:
    """Beat-level timing of a track; times in seconds.

    ``bpm`` is ``None`` and the arrays are empty when the track has no steady beat
    (``has_beat`` False). ``tempo_stability`` is 1 minus the coefficient of variation of
    the inter-beat intervals, clipped to [0, 1] (1.0 = a machine-steady grid).
    """

    bpm: float | None
    beats: np.ndarray
    downbeats: np.ndarray
    tempo_stability: float
    has_beat: bool


def onset_envelope(y: np.ndarray, *, sr: int) -> tuple[np.ndarray, float]:
    """Onset strength, one value per ``HOP_LENGTH`` samples, weighted towards the kick.

    Also returns the 95th percentile of the all-band flux in dB per band: how sharp the
    sharpest onsets are (a sustained pad stays below 1 dB, any drum part far above).

    The spectral flux of the mel bands below about 150 Hz (kick and bass) plus half the
    flux of all bands (snares, hats, chords), each scaled to unit standard deviation: a
    DJ counts the kick, and bright off-beat hats must not pull the grid onto the off-beat.
    """
    import librosa

    n_mels = 96
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=HOP_LENGTH, n_mels=n_mels, fmax=min(11025, sr / 2))
    log_mel = librosa.power_to_db(mel, ref=np.max)
    freqs = librosa.mel_frequencies(n_mels=n_mels, fmax=min(11025, sr / 2))
    n_low = max(2, int(np.searchsorted(freqs, 150.0)))
    bands = librosa.onset.onset_strength_multi(S=log_mel, sr=sr, hop_length=HOP_LENGTH,
                                               channels=[0, n_low, n_mels], aggregate=np.mean)
    low, full = bands[0], bands[1]
    return low / (low.std() + 1e-9) + 0.5 * full / (full.std() + 1e-9), float(np.percentile(full, 95))


def estimate_tempo(oenv: np.ndarray, *, sr: int, prior: BpmPrior) -> tuple[float, float]:
    """Tempo in BPM and its periodicity strength (0..1) from an onset envelope."""
    frame_rate = sr / HOP_LENGTH
    x = oenv - oenv.mean()
    n = x.size
    size = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    ac = np.fft.irfft(spec * np.conj(spec), size)[:n]
    if ac[0] <= 0:
        return 0.0, 0.0
    ac = ac / ac[0]

    def strength(bpm: np.ndarray) -> np.ndarray:
        lag = 60.0 * frame_rate / bpm
        return np.interp(lag, np.arange(n), ac, right=0.0)

    grid = _BPM_GRID
    # a beat period is also reinforced at two and four beats (the bar); its half is not
    score = strength(grid) + 0.5 * strength(grid / 2) + 0.25 * strength(grid / 4)
    score = np.clip(score, 0.0, None) * prior.weight(grid)
    best = int(np.argmax(score))
    return float(grid[best]), float(max(strength(grid[best : best + 1])[0], 0.0))


def track_beats(y: np.ndarray, *, sr: int, bpm_prior: BpmPrior | None = None) -> BeatGrid:
    """Beats and downbeats of mono audio.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.
    bpm_prior : BpmPrior or None
        Expected tempo range; ``None`` means ``BpmPrior()`` (70-185 BPM).
    """
    import librosa

    prior = bpm_prior if bpm_prior is not None else BpmPrior()
    if not isinstance(prior, BpmPrior):
        raise ParameterError(f"bpm_prior must be a BpmPrior or None; got {type(bpm_prior).__name__}")
    oenv, sharpness_db = onset_envelope(y, sr=sr)
    bpm0, periodicity = estimate_tempo(oenv, sr=sr, prior=prior)
    no_beat = BeatGrid(None, np.zeros(0), np.zeros(0), 0.0, False)
    if sharpness_db < _MIN_ONSET_SHARPNESS_DB or bpm0 <= 0 or periodicity < 0.1:
        return no_beat
    _, frames = librosa.beat.beat_track(onset_envelope=oenv, sr=sr, hop_length=HOP_LENGTH, bpm=bpm0,
                                        tightness=400, trim=True, units="frames")
    beats = librosa.frames_to_time(frames, sr=sr, hop_length=HOP_LENGTH)
    if beats.size < 8:
        return no_beat
    # the slope of beat time against beat index is the tempo; the DP tracker snaps to frames
    idx = np.arange(beats.size)
    slope, _ = np.polyfit(idx, beats, 1)
    bpm = 60.0 / slope
    ibi = np.diff(beats)
    stability = float(np.clip(1.0 - ibi.std() / ibi.mean(), 0.0, 1.0))
    downbeats = beats[_downbeat_phase(y, sr=sr, beats=beats)::4]
    return BeatGrid(float(bpm), beats, downbeats, stability, True)


def _downbeat_phase(y: np.ndarray, *, sr: int, beats: np.ndarray) -> int:
    """Which of four beat phases starts the bar: where bass and harmony change most."""
    import librosa

    n_fft = 2048
    spec = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=HOP_LENGTH))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    chroma = librosa.feature.chroma_stft(S=spec**2, sr=sr, n_fft=n_fft, hop_length=HOP_LENGTH)
    low = np.log1p(spec[freqs < 200].sum(axis=0))
    frames = np.clip(librosa.time_to_frames(beats, sr=sr, hop_length=HOP_LENGTH), 0, spec.shape[1] - 1)
    # per beat: mean chroma and low-band level over the beat, and their change from the beat before
    seg_chroma = librosa.util.sync(chroma, frames, aggregate=np.mean)
    seg_low = librosa.util.sync(low[None, :], frames, aggregate=np.mean)[0]
    seg_chroma = seg_chroma / (np.linalg.norm(seg_chroma, axis=0, keepdims=True) + 1e-9)
    change = np.zeros(seg_chroma.shape[1])
    change[1:] = 1.0 - (seg_chroma[:, 1:] * seg_chroma[:, :-1]).sum(axis=0)
    low_change = np.zeros_like(change)
    low_change[1:] = np.clip(np.diff(seg_low), 0.0, None)  # the bass comes in harder on the one
    novelty = change / (change.std() + 1e-9) + low_change / (low_change.std() + 1e-9)
    # sync() prepends a segment before the first beat: segment j + 1 starts at beat j
    per_beat = novelty[1 : beats.size + 1]
    scores = [per_beat[p::4].mean() if per_beat[p::4].size else 0.0 for p in range(4)]
    return int(np.argmax(scores))
