"""The weight-free frontend: a fixed, deterministic descriptor per window of audio.

The embedded default when no OpenL3 weights are present, and a baseline when they are.
Each window (``window_s`` long, every ``hop_s``) is described by statistics of frame-level
features computed once over the whole track:

- log-mel spectrum (64 bands): mean and standard deviation (timbre, and how it moves);
- MFCC 1-20: mean and standard deviation;
- spectral contrast (7 bands): mean (peaky vs noisy spectrum);
- chroma, sorted by strength (key-invariant: how tonal and how chord-like, not which key);
- onset strength: mean, standard deviation, maximum (how percussive);
- tempogram (8.9 s context) pooled into 12 log-spaced tempo bands (rhythmic pattern).

The descriptor is log-compressed but not standardised: standardise over a library (see
:func:`standardize`) before comparing with cosine similarity.

:mod:`workbench.models.features_torch` computes the same descriptors (default settings) from
samples as a torch module, the one the audio-in Core ML export takes inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench import audio
from workbench.errors import ParameterError

FEATURES_SR = 22050
_HOP = 512
_N_MELS = 64
_N_MFCC = 20
_TEMPO_BANDS = 12


@dataclass(frozen=True)
class FeatureFrontend:
    """Settings of the weight-free frontend; its ``name`` and ``settings`` key the cache.

    Parameters
    ----------
    window_s : float in [0.5, 10]
        Window length in seconds.
    hop_s : float in [0.1, 10]
        Hop between windows in seconds.
    """

    window_s: float = 1.0
    hop_s: float = 0.5

    name = "features-v1"

    def __post_init__(self) -> None:
        if not isinstance(self.window_s, (int, float)) or not 0.5 <= self.window_s <= 10:
            raise ParameterError(f"window_s must be a float in [0.5, 10] seconds; got {self.window_s!r}")
        if not isinstance(self.hop_s, (int, float)) or not 0.1 <= self.hop_s <= 10:
            raise ParameterError(f"hop_s must be a float in [0.1, 10] seconds; got {self.hop_s!r}")

    @property
    def settings(self) -> dict[str, float]:
        return {"window_s": float(self.window_s), "hop_s": float(self.hop_s)}

    @property
    def dim(self) -> int:
        """Length of one descriptor."""
        return 2 * _N_MELS + 2 * _N_MFCC + 7 + 12 + 3 + _TEMPO_BANDS

    def embed(self, y: np.ndarray, *, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors of every window.

        Parameters
        ----------
        y : np.ndarray [shape=(n,) or (channels, n)]
        sr : int > 0
            Sample rate in Hz.

        Returns
        -------
        embeddings : np.ndarray [shape=(n_windows, dim), dtype=float32]
        timestamps_s : np.ndarray [shape=(n_windows,)]
            Start of each window in seconds.
        """
        import librosa

        x = audio.validate(y, sr=sr, min_duration_s=self.window_s)
        mono = audio.resample(audio.to_mono(x), orig_sr=sr, target_sr=FEATURES_SR)
        sr = FEATURES_SR
        S = np.abs(librosa.stft(mono, n_fft=2048, hop_length=_HOP)) ** 2
        mel = librosa.feature.melspectrogram(S=S, sr=sr, n_mels=_N_MELS)
        log_mel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=_N_MFCC)
        contrast = librosa.feature.spectral_contrast(S=np.sqrt(S), sr=sr, hop_length=_HOP)
        chroma = librosa.feature.chroma_stft(S=S, sr=sr, hop_length=_HOP, tuning=0.0)
        oenv = librosa.onset.onset_strength(S=log_mel, sr=sr, hop_length=_HOP)
        tempogram = librosa.feature.tempogram(onset_envelope=oenv, sr=sr, hop_length=_HOP, win_length=384)
        tempo_bands = _pool_tempogram(tempogram, sr=sr)

        n_frames = log_mel.shape[1]
        frames_per_window = max(1, int(round(self.window_s * sr / _HOP)))
        frames_per_hop = max(1, int(round(self.hop_s * sr / _HOP)))
        starts = np.arange(0, max(1, n_frames - frames_per_window + 1), frames_per_hop)
        out = np.empty((starts.size, self.dim), dtype=np.float32)
        for i, a in enumerate(starts):
            b = a + frames_per_window
            c = np.sort(chroma[:, a:b].mean(axis=1))[::-1]
            o = oenv[a:b]
            out[i] = np.concatenate([
                log_mel[:, a:b].mean(axis=1) / 10.0, log_mel[:, a:b].std(axis=1) / 10.0,
                mfcc[:, a:b].mean(axis=1) / 10.0, mfcc[:, a:b].std(axis=1) / 10.0,
                contrast[:, a:b].mean(axis=1) / 10.0,
                c / (c.sum() + 1e-9),
                np.log1p([o.mean(), o.std(), o.max()]),
                tempo_bands[:, a + frames_per_window // 2],
            ])
        return out, starts * _HOP / sr


def _pool_tempogram(tempogram: np.ndarray, *, sr: int) -> np.ndarray:
    """Pool an autocorrelation tempogram into log-spaced tempo bands between 40 and 320 BPM."""
    import librosa

    bpms = librosa.tempo_frequencies(tempogram.shape[0], sr=sr, hop_length=_HOP)
    edges = np.geomspace(40.0, 320.0, _TEMPO_BANDS + 1)
    bands = np.zeros((_TEMPO_BANDS, tempogram.shape[1]), dtype=np.float64)
    for k in range(_TEMPO_BANDS):
        rows = (bpms >= edges[k]) & (bpms < edges[k + 1])
        if rows.any():
            bands[k] = tempogram[rows].max(axis=0)
    return bands


def pool(embeddings: np.ndarray, *, with_std: bool = False) -> np.ndarray:
    """One vector for a track or a section: the mean of its windows (and their std).

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n_windows, dim)]
    with_std : bool
        Append the per-dimension standard deviation (doubles the length).
    """
    e = np.asarray(embeddings, dtype=np.float32)
    if e.ndim != 2 or e.shape[0] == 0:
        raise ParameterError(f"embeddings must have shape (n_windows >= 1, dim); got {e.shape}")
    mean = e.mean(axis=0)
    return np.concatenate([mean, e.std(axis=0)]) if with_std else mean


def pool_section(
    embeddings: np.ndarray, timestamps_s: np.ndarray, *, start_s: float, end_s: float, with_std: bool = False
) -> np.ndarray:
    """One vector for the section ``[start_s, end_s)``: :func:`pool` over the windows stamped inside it.

    Works for any backbone's frame embeddings (OpenL3 or the feature frontend). A section
    shorter than the hop still gets the window nearest its middle.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
        Frame embeddings.
    timestamps_s : np.ndarray [shape=(n,)]
        Each frame's time in seconds.
    start_s, end_s : float
        The section, in seconds; ``end_s > start_s``.
    with_std : bool
        Append the standard deviation to the mean.

    Returns
    -------
    np.ndarray [shape=(d,) or (2 * d,)]

    Raises
    ------
    ParameterError
        ``end_s <= start_s``.
    """
    ts = np.asarray(timestamps_s, dtype=np.float64)
    if not end_s > start_s:
        raise ParameterError(f"end_s must be greater than start_s; got start_s={start_s}, end_s={end_s}")
    inside = (ts >= start_s) & (ts < end_s)
    if not inside.any():
        inside = np.zeros(ts.shape, dtype=bool)
        inside[int(np.argmin(np.abs(ts - (start_s + end_s) / 2)))] = True
    return pool(np.asarray(embeddings)[inside], with_std=with_std)


def standardize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score each dimension over a set of vectors; returns the result, the means and the stds.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)]
        One vector per row.

    Returns
    -------
    z : np.ndarray [shape=(n, d), dtype=float32]
    mean : np.ndarray [shape=(d,)]
    std : np.ndarray [shape=(d,)]
        Standard deviations below 1e-6 are replaced by 1.
    """
    v = np.asarray(vectors, dtype=np.float32)
    mean = v.mean(axis=0)
    std = v.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    return (v - mean) / std, mean, std
