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
_SIXTEENTHS_DOUBLE = 1.0  # kicks or snares stronger on the grid's sixteenths than its eighths: double
_OFFBEAT_HALVE = 0.7  # every other beat this much weaker in snares than its neighbours: half
_STEADY = 0.9  # tempo stability from which beats are fitted with a metronomic grid


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
        """Prior weight of each tempo, 0 outside the range.

        Parameters
        ----------
        bpm : np.ndarray [shape=(n,)]
            Tempi in BPM.

        Returns
        -------
        np.ndarray [shape=(n,)]
            Log-normal weight around ``center_bpm`` (1 at the centre).
        """
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


@dataclass(frozen=True)
class Onsets:
    """Onset strength envelopes at ``sr / HOP_LENGTH`` frames per second.

    ``beat`` is the low-band (kick and bass, below about 150 Hz) spectral flux plus half the
    all-band flux, each at unit standard deviation: a DJ counts the kick, and bright off-beat
    hats must not pull the grid onto the off-beat. ``kick`` is the low-band flux alone,
    ``backbeat`` the flux of 150 Hz-4 kHz,
    where snares and claps live. ``sharpness_db`` is the 95th percentile of the all-band flux
    (dB per band): a sustained pad stays below 1 dB, any drum part is far above.
    """

    beat: np.ndarray
    kick: np.ndarray
    backbeat: np.ndarray
    sharpness_db: float


def onset_envelopes(y: np.ndarray, *, sr: int) -> Onsets:
    """The :class:`Onsets` of mono audio.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    Onsets
        Envelopes at ``sr / 512`` frames per second.
    """
    import librosa

    n_mels = 96
    fmax = min(11025.0, sr / 2)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=HOP_LENGTH, n_mels=n_mels, fmax=fmax)
    log_mel = librosa.power_to_db(mel, ref=np.max)
    freqs = librosa.mel_frequencies(n_mels=n_mels, fmax=fmax)
    n_low = max(2, int(np.searchsorted(freqs, 150.0)))
    n_mid = int(np.searchsorted(freqs, 4000.0))
    bands = librosa.onset.onset_strength_multi(S=log_mel, sr=sr, hop_length=HOP_LENGTH,
                                               channels=[0, n_low, n_mid, n_mels], aggregate=np.mean)
    low, mid, high = bands
    full = (low * n_low + mid * (n_mid - n_low) + high * (n_mels - n_mid)) / n_mels
    beat = low / (low.std() + 1e-9) + 0.5 * full / (full.std() + 1e-9)
    return Onsets(beat=beat, kick=low, backbeat=mid, sharpness_db=float(np.percentile(full, 95)))


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    n = x.size
    size = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    ac = np.fft.irfft(spec * np.conj(spec), size)[:n]
    return ac / ac[0] if ac[0] > 0 else np.zeros(n)


def _strength(ac: np.ndarray, bpm: np.ndarray, frame_rate: float) -> np.ndarray:
    """Autocorrelation at the lag of one beat at ``bpm``."""
    return np.interp(60.0 * frame_rate / np.asarray(bpm, dtype=np.float64), np.arange(ac.size), ac, right=0.0)


def estimate_tempo(onsets: Onsets, *, sr: int, prior: BpmPrior) -> tuple[float, float]:
    """Tempo in BPM and its periodicity strength (0..1).

    Candidates are scored by the beat envelope's autocorrelation at one, two and four beats
    (the bar reinforces the beat) times the prior. :func:`track_beats` then settles between
    this tempo, its half and its double by where the snares fall.

    Parameters
    ----------
    onsets : Onsets
        From :func:`onset_envelopes`.
    sr : int > 0
        Sample rate of the audio, in Hz.
    prior : BpmPrior
        Weights the candidate tempi.

    Returns
    -------
    bpm : float
        0.0 when the envelope has no periodicity.
    strength : float in [0, 1]
    """
    frame_rate = sr / HOP_LENGTH
    ac = _autocorrelation(onsets.beat)
    if not ac.any():
        return 0.0, 0.0
    grid = _BPM_GRID
    score = _strength(ac, grid, frame_rate) + 0.5 * _strength(ac, grid / 2, frame_rate) \
        + 0.25 * _strength(ac, grid / 4, frame_rate)
    score = np.clip(score, 0.0, None) * prior.weight(grid)
    bpm = float(grid[int(np.argmax(score))])
    return bpm, float(max(_strength(ac, bpm, frame_rate), 0.0))


def fit_grid(env: np.ndarray, *, sr: int, bpm: float, duration_s: float) -> tuple[float, np.ndarray]:
    """A metronomic beat grid: the period and phase whose beats collect the most onset strength.

    Searches tempos within 3 % of ``bpm`` (to 0.01 BPM) and every phase (to a quarter
    frame); returns the tempo and the beat times over the whole track.

    Parameters
    ----------
    env : np.ndarray [shape=(frames,)]
        Onset envelope at ``sr / 512`` frames per second.
    sr : int > 0
        Sample rate of the audio, in Hz.
    bpm : float > 0
        Tempo estimate, in BPM.
    duration_s : float > 0
        Track duration, in seconds.

    Returns
    -------
    bpm : float
    beats : np.ndarray [shape=(n_beats,)]
        Beat times in seconds.
    """
    frame_rate = sr / HOP_LENGTH
    frames = np.arange(env.size, dtype=np.float64)

    def best(bpms: np.ndarray) -> tuple[float, float, float]:
        """The candidate tempo and phase whose beats collect the most onset strength.

        Parameters
        ----------
        bpms : np.ndarray [shape=(n,)]
            Candidate tempi in BPM.

        Returns
        -------
        score, bpm, phase_frames : float
            The best candidate's summed onset strength, tempo and phase (in frames).
        """
        top = (-np.inf, 0.0, 0.0)
        for b in bpms:
            period = 60.0 * frame_rate / b
            phases = np.arange(0.0, period, 0.25)
            ks = np.arange(int(env.size / period) + 1)
            pos = phases[:, None] + ks[None, :] * period
            vals = np.interp(pos, frames, env, right=0.0).sum(axis=1)
            i = int(np.argmax(vals))
            if vals[i] > top[0]:
                top = (float(vals[i]), float(b), float(phases[i]))
        return top

    _, b1, _ = best(np.arange(bpm * 0.97, bpm * 1.03, 0.05))
    _, b2, phase = best(np.arange(b1 - 0.05, b1 + 0.05, 0.01))
    period_s = 60.0 / b2
    first = phase / frame_rate
    beats = first + period_s * np.arange(int((duration_s - first) / period_s) + 1)
    return b2, beats


def track_beats(y: np.ndarray, *, sr: int, bpm_prior: BpmPrior | None = None) -> BeatGrid:
    """Beats and downbeats of mono audio.

    The dynamic-programming tracker of librosa follows the beat at the estimated tempo; when
    its beats keep a steady period (electronic music, played to a clock), they are replaced by
    the best-fitting metronomic grid, which is what a DJ's beat grid is.

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
    onsets = onset_envelopes(y, sr=sr)
    bpm0, periodicity = estimate_tempo(onsets, sr=sr, prior=prior)
    no_beat = BeatGrid(None, np.zeros(0), np.zeros(0), 0.0, False)
    if onsets.sharpness_db < _MIN_ONSET_SHARPNESS_DB or bpm0 <= 0 or periodicity < 0.1:
        return no_beat
    _, frames = librosa.beat.beat_track(onset_envelope=onsets.beat, sr=sr, hop_length=HOP_LENGTH, bpm=bpm0,
                                        tightness=400, trim=True, units="frames")
    beats = librosa.frames_to_time(frames, sr=sr, hop_length=HOP_LENGTH)
    if beats.size < 8:
        return no_beat
    ibi = np.diff(beats)
    stability = float(np.clip(1.0 - ibi.std() / ibi.mean(), 0.0, 1.0))
    if stability >= _STEADY:
        bpm, beats = fit_grid(onsets.beat, sr=sr, bpm=60.0 / float(np.median(ibi)), duration_s=y.size / sr)
    else:
        slope, _ = np.polyfit(np.arange(beats.size), beats, 1)
        bpm = 60.0 / slope
    bpm, beats = _settle_octave(onsets, sr=sr, bpm=bpm, beats=beats, prior=prior)
    downbeats = beats[_downbeat_phase(y, sr=sr, beats=beats, onsets=onsets)::4]
    return BeatGrid(float(bpm), beats, downbeats, stability, True)


def _settle_octave(onsets: Onsets, *, sr: int, bpm: float, beats: np.ndarray,
                   prior: BpmPrior) -> tuple[float, np.ndarray]:
    """Double or halve the tempo by where kicks and snares fall.

    At the right tempo kicks and snares are struck on the eighths (on the beat or on the
    "and"). Read at half tempo, drum & bass has its kicks or snares on the grid's
    sixteenths (a quarter beat off): when either is struck harder there than on the
    eighths, double. Read at double tempo, a downtempo groove has snare-free beats between
    the kick-and-snare ones: halve.
    Only tempos inside the prior's range are considered.
    """
    from scipy.ndimage import maximum_filter1d

    frame_rate = sr / HOP_LENGTH
    frames = np.arange(onsets.backbeat.size, dtype=np.float64)

    def level(env: np.ndarray, times: np.ndarray) -> float:
        """Mean of the envelope's peak within 2 frames (46 ms) of each time.

        Parameters
        ----------
        env : np.ndarray [shape=(frames,)]
            Onset envelope.
        times : np.ndarray [shape=(n,)]
            Times in seconds.

        Returns
        -------
        float > 0
        """
        peaks = maximum_filter1d(env, size=5)
        return float(np.interp(times * frame_rate, frames, peaks, right=0.0).mean()) + 1e-9

    mids = (beats[:-1] + beats[1:]) / 2
    period = 60.0 / bpm

    def sixteenths_over_eighths(env: np.ndarray) -> float:
        """How much stronger the envelope is on the sixteenths than on the eighths.

        Parameters
        ----------
        env : np.ndarray [shape=(frames,)]
            Onset envelope.

        Returns
        -------
        float > 0
        """
        eighths = max(level(env, beats), level(env, mids))
        return max(level(env, beats + period / 4), level(env, beats + 3 * period / 4)) / eighths

    if prior.weight(np.array([bpm * 2]))[0] > 0 and max(
            sixteenths_over_eighths(onsets.kick), sixteenths_over_eighths(onsets.backbeat)) > _SIXTEENTHS_DOUBLE:
        doubled = np.empty(beats.size + mids.size)
        doubled[0::2], doubled[1::2] = beats, mids
        # the half-tempo grid may have sat on off-beat kicks: snares mark the true beats
        shifted = doubled + period / 4
        if level(onsets.backbeat, shifted) > level(onsets.backbeat, doubled):
            doubled = shifted[shifted < beats[-1] + period]
        return bpm * 2, doubled
    if prior.weight(np.array([bpm / 2]))[0] > 0 and beats.size >= 16:
        # keep the parity that carries the kick; halve when the other beats lack the snares
        parity = int(level(onsets.beat, beats[1::2]) > level(onsets.beat, beats[0::2]))
        kept, dropped = beats[parity::2], beats[1 - parity::2]
        if level(onsets.backbeat, dropped) < _OFFBEAT_HALVE * level(onsets.backbeat, kept):
            return bpm / 2, kept
    return bpm, beats


def _downbeat_phase(y: np.ndarray, *, sr: int, beats: np.ndarray, onsets: Onsets) -> int:
    """Which of four beat phases starts the bar.

    The one is where harmony and bass change most, where the kick is struck and where the
    snare is not (snares and claps mark 2 and 4).
    """
    import librosa
    from scipy.ndimage import maximum_filter1d

    n_fft = 2048
    spec = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=HOP_LENGTH))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    chroma = librosa.feature.chroma_stft(S=spec**2, sr=sr, n_fft=n_fft, hop_length=HOP_LENGTH)
    low = np.log1p(spec[freqs < 200].sum(axis=0))
    n = spec.shape[1]
    starts = np.clip(librosa.time_to_frames(beats, sr=sr, hop_length=HOP_LENGTH), 0, n - 1)
    ends = np.maximum(np.append(starts[1:], n), starts + 1)
    # per beat: mean chroma and low-band level over the beat, and their change from the beat before
    seg_chroma = np.stack([chroma[:, a:b].mean(axis=1) for a, b in zip(starts, ends, strict=True)], axis=1)
    seg_low = np.array([low[a:b].mean() for a, b in zip(starts, ends, strict=True)])
    seg_chroma = seg_chroma / (np.linalg.norm(seg_chroma, axis=0, keepdims=True) + 1e-9)
    change = np.zeros(beats.size)
    change[1:] = 1.0 - (seg_chroma[:, 1:] * seg_chroma[:, :-1]).sum(axis=0)
    low_change = np.zeros_like(change)
    low_change[1:] = np.clip(np.diff(seg_low), 0.0, None)  # the bass comes in harder on the one
    per_beat = change / (change.std() + 1e-9) + low_change / (low_change.std() + 1e-9)
    onset_frames = np.arange(onsets.kick.size, dtype=np.float64)

    def at_beats(env: np.ndarray) -> np.ndarray:
        """The envelope's local peak at each beat, standardised (mean 0, unit deviation).

        Parameters
        ----------
        env : np.ndarray [shape=(frames,)]
            Onset envelope.

        Returns
        -------
        np.ndarray [shape=(n_beats,)]
        """
        v = np.interp(beats * sr / HOP_LENGTH, onset_frames, maximum_filter1d(env, size=5))
        return (v - v.mean()) / (v.std() + 1e-9)

    per_beat = per_beat + at_beats(onsets.kick) - at_beats(onsets.backbeat)
    scores = [per_beat[p::4].mean() if per_beat[p::4].size else 0.0 for p in range(4)]
    return int(np.argmax(scores))
