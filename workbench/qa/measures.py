"""What QA measures on a track's samples: silences, clipping, DC offset, stereo image, bandwidth.

Each measure is a number with a unit; :mod:`workbench.qa.flags` compares it with a threshold.
All work on the decoded samples at their original rate and channels, so that a hot master
(float samples beyond full scale), a duplicated channel or a transcode's missing top octave
are seen as the file holds them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Frame length of the silence detector, in seconds.
SILENCE_FRAME_S = 0.05
#: A frame quieter than this (RMS, dBFS) is silent.
SILENCE_DB = -60.0
#: A sample at or above this magnitude (full scale = 1) counts towards clipping.
CLIP_LEVEL = 0.999
#: Consecutive samples at the clip level that make one clipped run (one sample is a peak, not a clip).
CLIP_RUN = 3
#: A spectrum bin this far below the 2-8 kHz reference level (dB) is empty, for the bandwidth.
BANDWIDTH_FLOOR_DB = 50.0


@dataclass(frozen=True)
class AudioMeasures:
    """The signal measures of one track.

    Attributes
    ----------
    duration_s : float
        Length in seconds.
    longest_silence_s : float
        Longest run of silent frames (RMS below :data:`SILENCE_DB`), seconds, ends included.
    inner_silence_s : float
        Longest silent run that is neither the lead-in nor the tail, seconds.
    silent_share : float in [0, 1]
        Share of the track's frames that are silent.
    peak : float
        Largest absolute sample (1.0 = full scale; float decodes of hot masters exceed it).
    clipped_share : float in [0, 1]
        Share of samples inside runs of at least :data:`CLIP_RUN` samples at or above
        :data:`CLIP_LEVEL`, or above full scale.
    dc_offset : float
        Largest absolute per-channel mean (full scale = 1).
    channels : int
        1 (mono) or more.
    side_to_mid_db : float or None
        Side (L-R)/2 energy over mid (L+R)/2 energy, in dB; ``None`` for mono files. Very low
        (below -40 dB) means both channels carry the same signal.
    lr_correlation : float or None
        Pearson correlation of left and right in [-1, 1]; ``None`` for mono files. Negative
        means the channels cancel when summed to mono.
    bandwidth_hz : float
        Highest frequency whose long-term level is within :data:`BANDWIDTH_FLOOR_DB` of the
        2-8 kHz level; a low-bitrate or upsampled file stops well below 16 kHz.
    sample_rate_hz : int
        The file's rate, Hz.
    """

    duration_s: float
    longest_silence_s: float
    inner_silence_s: float
    silent_share: float
    peak: float
    clipped_share: float
    dc_offset: float
    channels: int
    side_to_mid_db: float | None
    lr_correlation: float | None
    bandwidth_hz: float
    sample_rate_hz: int

    def to_dict(self) -> dict[str, object]:
        """The measures as a JSON-ready dict (floats rounded)."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of each run of True in a 1-d boolean array."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def silence_measures(mono: np.ndarray, *, sr: int) -> tuple[float, float, float]:
    """Longest silence, longest inner silence (not lead-in or tail), and silent share.

    Parameters
    ----------
    mono : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    longest_s, inner_s : float
        Seconds.
    share : float in [0, 1]
    """
    hop = max(1, int(round(SILENCE_FRAME_S * sr)))
    n = mono.size // hop
    if n == 0:
        return 0.0, 0.0, 0.0
    frames = mono[: n * hop].reshape(n, hop).astype(np.float64)
    rms_db = 10 * np.log10((frames**2).mean(axis=1) + 1e-20)
    silent = rms_db < SILENCE_DB
    starts, ends = _runs(silent)
    if starts.size == 0:
        return 0.0, 0.0, 0.0
    lengths = (ends - starts) * hop / sr
    inner = lengths[(starts > 0) & (ends < n)]
    return float(lengths.max()), float(inner.max()) if inner.size else 0.0, float(silent.mean())


def clipped_share(x: np.ndarray) -> float:
    """Share of samples in clipped runs (see :class:`AudioMeasures`).

    Parameters
    ----------
    x : np.ndarray [shape=(channels, n)]
        Samples, full scale 1.

    Returns
    -------
    float in [0, 1]
    """
    total = 0
    for ch in np.atleast_2d(x):
        a = np.abs(ch)
        over = a > 1.0
        total += int(over.sum())
        starts, ends = _runs((a >= CLIP_LEVEL) & ~over)
        lengths = ends - starts
        total += int(lengths[lengths >= CLIP_RUN].sum())
    return total / max(1, np.atleast_2d(x).size)


def stereo_measures(x: np.ndarray) -> tuple[float | None, float | None]:
    """Side-to-mid energy ratio (dB) and left/right correlation of a stereo signal.

    Parameters
    ----------
    x : np.ndarray [shape=(channels, n)]
        Samples; only the first two channels are used.

    Returns
    -------
    side_to_mid_db, lr_correlation : float or None
        ``None`` for a mono signal.
    """
    x = np.atleast_2d(x)
    if x.shape[0] < 2:
        return None, None
    left, right = x[0].astype(np.float64), x[1].astype(np.float64)
    mid, side = (left + right) / 2, (left - right) / 2
    e_mid, e_side = float((mid**2).mean()), float((side**2).mean())
    ratio = 10 * np.log10((e_side + 1e-20) / (e_mid + 1e-20))
    sl, sr_ = left.std(), right.std()
    corr = float(((left - left.mean()) * (right - right.mean())).mean() / (sl * sr_)) if sl > 0 and sr_ > 0 else 1.0
    return float(max(ratio, -120.0)), corr


def bandwidth_hz(mono: np.ndarray, *, sr: int) -> float:
    """Highest frequency with content: within :data:`BANDWIDTH_FLOOR_DB` of the 2-8 kHz level.

    Parameters
    ----------
    mono : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    float
        Hz; the Nyquist frequency when content reaches it.
    """
    from scipy.signal import welch

    if mono.size < 4096:
        return sr / 2
    freqs, power = welch(mono.astype(np.float64), fs=sr, nperseg=4096, noverlap=2048)
    db = 10 * np.log10(power + 1e-30)
    ref_band = (freqs >= 2000) & (freqs <= min(8000, sr / 2))
    ref = float(np.median(db[ref_band])) if ref_band.any() else float(db.max())
    above = np.flatnonzero(db > ref - BANDWIDTH_FLOOR_DB)
    return float(freqs[above[-1]]) if above.size else 0.0


def measure_audio(y: np.ndarray, *, sr: int) -> AudioMeasures:
    """Every signal measure of one track.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Samples at their original level, rate and channels.
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    AudioMeasures

    Raises
    ------
    ParameterError
        If ``sr`` is not a positive integer.
    EmptyAudioError, NonFiniteAudioError
        Through :func:`workbench.audio.validate`.
    """
    from workbench import audio

    x = np.atleast_2d(audio.validate(y, sr=sr))
    mono = x.mean(axis=0)
    longest, inner, share = silence_measures(mono, sr=sr)
    side_mid, corr = stereo_measures(x)
    return AudioMeasures(
        duration_s=x.shape[-1] / sr, longest_silence_s=longest, inner_silence_s=inner, silent_share=share,
        peak=float(np.abs(x).max()), clipped_share=clipped_share(x),
        dc_offset=float(np.abs(x.mean(axis=1)).max()), channels=int(x.shape[0]),
        side_to_mid_db=side_mid, lr_correlation=corr, bandwidth_hz=bandwidth_hz(mono, sr=sr),
        sample_rate_hz=int(sr),
    )
