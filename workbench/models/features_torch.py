"""The weight-free feature frontend (``features-v1``) as a ``torch.nn.Module``: samples in, descriptors out.

:class:`~workbench.embed.features.FeatureFrontend` computes its 202-d descriptors with librosa
in Python, which an app cannot run. :class:`FeaturesModule` computes the same numbers from mono
float32 samples at 22,050 Hz with ops Core ML has (conv, matmul, log, sqrt, topk, reduce_*), so
the exported model takes audio (:mod:`workbench.export.audio_in`). It follows librosa 0.11 step
by step:

1. ``stft(n_fft=2048, hop_length=512, center=True)``: zero padding of 1,024 samples at each end
   (librosa's ``pad_mode="constant"``), periodic Hann, the DFT as a strided ``conv1d``; power
   ``|X|**2``; ``1 + n // 512`` frames;
2. 64 mel bands (``librosa.filters.mel``, Slaney) as a matmul; ``power_to_db(ref=1, amin=1e-10,
   top_db=None)``; MFCC 1-20 as the orthonormal DCT-II matrix;
3. ``spectral_contrast`` on the magnitude: per octave band the mean of the ``q`` smallest and
   ``q`` largest bins (``topk``; ``q = max(1, rint(0.02 * band size))``, librosa's band edges),
   each in dB with librosa's default ``top_db=80`` *over the whole track* (a ``reduce_max`` over
   time), peak minus valley;
4. ``chroma_stft(tuning=0)``: librosa's chroma filterbank as a matmul, each frame divided by its
   maximum;
5. ``onset_strength(S=log_mel)``: the mean over bands of the positive first difference, shifted
   right by 3 frames (lag 1 + ``n_fft // (2 * hop)``), zeros first;
6. the autocorrelation tempogram (``win_length=384``, centred: ``linear_ramp`` padding of 192
   frames to 0 at each end), only at each window's centre frame: the Hann-windowed excerpt by a
   strided ``conv1d``, its autocorrelation at the lags of 40-320 BPM as
   ``|DFT_768|**2`` (a matmul) times a cosine matrix, normalised by lag 0, then the maximum over
   each of the 12 log-spaced tempo bands;
7. per window (43 frames every 22 frames, as ``FeatureFrontend(window_s=1, hop_s=0.5)``): the
   frames cut by an identity ``conv2d``, mean and (two-pass) standard deviation, the sorted chroma
   (``topk``), ``log(1 + .)`` of the onset mean, std and maximum.

The whole track goes in at once (the STFT padding, the contrast's ``top_db`` and the tempogram's
end ramps depend on where the track starts and ends): ``forward(samples (1, n_samples)) ->
(n_windows, 202)``, with :func:`n_windows` and :func:`window_times` giving the rows' count and
start times (equal to ``FeatureFrontend.embed``'s timestamps). Any length from
:data:`MIN_SAMPLES` works (the Core ML export states its range).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.errors import ParameterError
from workbench.validate import check_int

#: Input sample rate (Hz), mono.
SAMPLE_RATE_HZ = 22050
N_FFT = 2048
HOP_SAMPLES = 512
N_MELS = 64
N_MFCC = 20
#: Frames per descriptor window (``round(1.0 s * 22050 / 512)``) and between windows (``round(0.5 s ...)``).
FRAMES_PER_WINDOW = 43
FRAMES_PER_HOP = 22
#: Tempogram context (frames; 384 * 512 / 22050 = 8.9 s).
TEMPOGRAM_FRAMES = 384
TEMPO_BANDS = 12
#: Descriptor length.
DIM = 2 * N_MELS + 2 * N_MFCC + 7 + 12 + 3 + TEMPO_BANDS
#: Shortest input: 1 s, as ``FeatureFrontend`` (``window_s``).
MIN_SAMPLES = SAMPLE_RATE_HZ
#: ``power_to_db``'s ``amin``.
AMIN = 1e-10
_DB = 10.0 / math.log(10.0)
_TINY32 = float(np.finfo(np.float32).tiny)


def n_windows(n_samples: int) -> int:
    """Rows the module returns for ``n_samples`` samples (``FeatureFrontend`` with its defaults).

    Parameters
    ----------
    n_samples : int >= MIN_SAMPLES
        Length of the mono input at 22,050 Hz.
    """
    check_int("n_samples", n_samples, min=MIN_SAMPLES)
    n_frames = 1 + n_samples // HOP_SAMPLES
    return (n_frames - FRAMES_PER_WINDOW) // FRAMES_PER_HOP + 1


def window_times(n_samples: int) -> np.ndarray:
    """Start time of each row in seconds (equal to ``FeatureFrontend.embed``'s ``timestamps_s``).

    Row ``i`` describes frames ``22 i .. 22 i + 42``: the audio from ``start_s`` for
    ``43 * 512 / 22050 = 0.998`` s (each frame centred on its sample), its tempo bands the
    8.9 s around the window's centre frame.

    Parameters
    ----------
    n_samples : int >= MIN_SAMPLES
        Length of the mono input at 22,050 Hz.

    Returns
    -------
    np.ndarray [shape=(n_windows,), dtype=float64]
    """
    return np.arange(n_windows(n_samples)) * FRAMES_PER_HOP * HOP_SAMPLES / SAMPLE_RATE_HZ


def _contrast_bands() -> list[tuple[int, int, int]]:
    """``(first_bin, end_bin, q)`` of librosa's 7 spectral-contrast bands (fmin 200 Hz, 6 octaves, quantile 0.02)."""
    import librosa

    freq = librosa.fft_frequencies(sr=SAMPLE_RATE_HZ, n_fft=N_FFT)
    n_bands, fmin, quantile = 6, 200.0, 0.02
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * (2.0 ** np.arange(0, n_bands + 1))
    out = []
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:], strict=True)):
        band = np.logical_and(freq >= f_low, freq <= f_high)
        idx = np.flatnonzero(band)
        if k > 0:
            band[idx[0] - 1] = True
        if k == n_bands:
            band[idx[-1] + 1:] = True
        rows = np.flatnonzero(band)
        if k < n_bands:
            rows = rows[:-1]
        q = int(np.maximum(np.rint(quantile * np.sum(band)), 1))
        out.append((int(rows[0]), int(rows[-1]) + 1, q))
    return out


def _tempo_lags() -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The lags the 12 tempo bands read, and each band's ``(first, end)`` columns among them (empty: (0, 0))."""
    import librosa

    bpms = librosa.tempo_frequencies(TEMPOGRAM_FRAMES, sr=SAMPLE_RATE_HZ, hop_length=HOP_SAMPLES)
    edges = np.geomspace(40.0, 320.0, TEMPO_BANDS + 1)
    rows = [np.flatnonzero((bpms >= edges[k]) & (bpms < edges[k + 1])) for k in range(TEMPO_BANDS)]
    used = np.concatenate([r for r in rows if r.size])
    lags = np.arange(used.min(), used.max() + 1)
    spans = [(int(r[0] - lags[0]), int(r[-1] - lags[0]) + 1) if r.size else (0, 0) for r in rows]
    return lags, spans


class FrameFeatures(nn.Module):
    """Samples ``(1, n)`` -> frame features ``(1, 104, T)`` and tempo bands at the window centres ``(1, 12, n_windows)``.

    The frame features are, in rows: log-mel (64, dB), MFCC (20), spectral contrast (7, dB),
    chroma (12), onset strength (1).
    """

    dft: torch.Tensor
    mel: torch.Tensor
    dct: torch.Tensor
    chroma: torch.Tensor
    ramp_left: torch.Tensor
    ramp_right: torch.Tensor
    excerpt: torch.Tensor
    ac_dft: torch.Tensor
    ac_cos: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        import librosa
        import scipy.fft  # type: ignore[import-untyped]

        n = np.arange(N_FFT)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)  # periodic Hann (librosa's "hann")
        k = np.arange(N_FFT // 2 + 1)[:, None]
        phase = 2 * np.pi * k * n[None, :] / N_FFT
        kernels = np.concatenate([np.cos(phase), -np.sin(phase)]) * window[None, :]
        self.register_buffer("dft", torch.from_numpy(kernels[:, None, :].astype(np.float32)))
        mel = librosa.filters.mel(sr=SAMPLE_RATE_HZ, n_fft=N_FFT, n_mels=N_MELS)
        self.register_buffer("mel", torch.from_numpy(mel.astype(np.float32)))
        dct = scipy.fft.dct(np.eye(N_MELS), axis=0, type=2, norm="ortho")[:N_MFCC]
        self.register_buffer("dct", torch.from_numpy(dct.astype(np.float32)))
        chroma = librosa.filters.chroma(sr=SAMPLE_RATE_HZ, n_fft=N_FFT, tuning=0.0, n_chroma=12)
        self.register_buffer("chroma", torch.from_numpy(chroma.astype(np.float32)))
        self.contrast_bands = _contrast_bands()
        # tempogram: linear_ramp padding coefficients, the Hann-windowed excerpt, DFT and cosine matrices
        half = TEMPOGRAM_FRAMES // 2
        e = np.zeros(3)
        e[0] = 1.0
        left = np.pad(e, half, mode="linear_ramp", end_values=[0, 0])[:half]
        self.register_buffer("ramp_left", torch.from_numpy(left.astype(np.float32)))
        self.register_buffer("ramp_right", torch.from_numpy(left[::-1].copy().astype(np.float32)))
        import scipy.signal  # type: ignore[import-untyped]

        hann = scipy.signal.get_window("hann", TEMPOGRAM_FRAMES, fftbins=True)
        self.register_buffer("excerpt", torch.from_numpy(np.diag(hann)[:, None, :].astype(np.float32)))
        n_pad = 2 * TEMPOGRAM_FRAMES  # >= 2 * 384 - 1: linear, not circular, autocorrelation
        j = np.arange(TEMPOGRAM_FRAMES)[:, None]
        f = np.arange(n_pad // 2 + 1)[None, :]
        ang = 2 * np.pi * j * f / n_pad
        self.register_buffer("ac_dft", torch.from_numpy(np.concatenate([np.cos(ang), np.sin(ang)], axis=1)
                                                        .astype(np.float32)))
        lags, self.tempo_spans = _tempo_lags()
        weight = np.where((f.ravel() == 0) | (f.ravel() == n_pad // 2), 1.0, 2.0)[:, None] / n_pad
        cosine = weight * np.cos(2 * np.pi * f.ravel()[:, None] * lags[None, :] / n_pad)
        self.register_buffer("ac_cos", torch.from_numpy(cosine.astype(np.float32)))

    def forward(self, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame features of the track and its tempo bands at the window centres.

        Parameters
        ----------
        samples : torch.Tensor [shape=(1, n_samples)]
            Mono, 22,050 Hz, full scale +-1 (not normalised).

        Returns
        -------
        frames : torch.Tensor [shape=(1, 104, T)]
        tempo : torch.Tensor [shape=(1, 12, n_windows)]
        """
        x = F.pad(samples.unsqueeze(1), (N_FFT // 2, N_FFT // 2))
        spec = F.conv1d(x, self.dft, stride=HOP_SAMPLES)  # (1, 2050, T)
        bins = N_FFT // 2 + 1
        re, im = spec[:, :bins], spec[:, bins:]
        power = re * re + im * im
        log_mel = _DB * torch.log(torch.clamp(torch.matmul(self.mel, power), min=AMIN))
        mfcc = torch.matmul(self.dct, log_mel)
        contrast = self._contrast(torch.sqrt(power))
        raw = torch.matmul(self.chroma, power)
        chroma = raw / torch.clamp(torch.amax(raw, dim=1, keepdim=True), min=_TINY32)
        rise = torch.relu(log_mel[:, :, 1:] - log_mel[:, :, :-1]).mean(dim=1, keepdim=True)  # (1, 1, T - 1)
        onset = F.pad(rise, (3, 0))[:, :, :-2]  # lag 1 + n_fft // (2 * hop) frames late, T frames
        frames = torch.cat([log_mel, mfcc, contrast, chroma, onset], dim=1)
        return frames, self._tempo(onset)

    def _contrast(self, mag: torch.Tensor) -> torch.Tensor:
        peaks, valleys = [], []
        for lo, hi, q in self.contrast_bands:
            band = mag[:, lo:hi]
            peaks.append(torch.topk(band, q, dim=1).values.mean(dim=1, keepdim=True))
            valleys.append(-torch.topk(-band, q, dim=1).values.mean(dim=1, keepdim=True))
        peak_db = _DB * torch.log(torch.clamp(torch.cat(peaks, dim=1), min=AMIN))
        valley_db = _DB * torch.log(torch.clamp(torch.cat(valleys, dim=1), min=AMIN))
        # power_to_db's default top_db=80, over the whole (bands, frames) array of the track
        peak_db = torch.maximum(peak_db, torch.amax(peak_db, dim=(1, 2), keepdim=True) - 80.0)
        valley_db = torch.maximum(valley_db, torch.amax(valley_db, dim=(1, 2), keepdim=True) - 80.0)
        return peak_db - valley_db

    def _tempo(self, onset: torch.Tensor) -> torch.Tensor:
        env = onset[:, 0]  # (1, T)
        padded = torch.cat([env[:, :1] * self.ramp_left, env, env[:, -1:] * self.ramp_right], dim=1)
        # the excerpt around each window's centre frame (start + 21): padded[c : c + 384]
        half = FRAMES_PER_WINDOW // 2
        cut = padded[:, half:-(FRAMES_PER_WINDOW - half)].unsqueeze(1)
        excerpts = F.conv1d(cut, self.excerpt, stride=FRAMES_PER_HOP)[0].transpose(0, 1)  # (n_windows, 384)
        spec = torch.matmul(excerpts, self.ac_dft)
        n_f = self.ac_cos.shape[0]
        power = spec[:, :n_f] * spec[:, :n_f] + spec[:, n_f:] * spec[:, n_f:]
        ac = torch.matmul(power, self.ac_cos)  # (n_windows, lags)
        energy = torch.sum(excerpts * excerpts, dim=1, keepdim=True)  # lag 0: the normaliser
        ac = ac / torch.clamp(energy, min=_TINY32)
        zero = torch.zeros_like(energy)
        bands = [torch.amax(ac[:, a:b], dim=1, keepdim=True) if b > a else zero for a, b in self.tempo_spans]
        return torch.cat(bands, dim=1).transpose(0, 1).unsqueeze(0)


class WindowStats(nn.Module):
    """Frame features ``(1, 104, T)`` and tempo bands ``(1, 12, n_windows)`` -> descriptors ``(n_windows, 202)``."""

    cut: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        eye = np.eye(FRAMES_PER_WINDOW, dtype=np.float32)[:, None, None, :]
        self.register_buffer("cut", torch.from_numpy(eye))

    def forward(self, frames: torch.Tensor, tempo: torch.Tensor) -> torch.Tensor:
        """The per-window statistics, in ``FeatureFrontend``'s order.

        Parameters
        ----------
        frames : torch.Tensor [shape=(1, 104, T)]
        tempo : torch.Tensor [shape=(1, 12, n_windows)]

        Returns
        -------
        torch.Tensor [shape=(n_windows, 202)]
        """
        u = F.conv2d(frames.unsqueeze(1), self.cut, stride=(1, FRAMES_PER_HOP))  # (1, 43, 104, n_windows)
        mean = u.mean(dim=1)
        std = torch.sqrt(((u - mean.unsqueeze(1)) ** 2).mean(dim=1))
        m, c = N_MELS, N_MELS + N_MFCC
        chroma = torch.topk(mean[:, c + 7:c + 19], 12, dim=1).values
        chroma = chroma / (chroma.sum(dim=1, keepdim=True) + 1e-9)
        onset = torch.cat([mean[:, -1:], std[:, -1:], torch.amax(u[:, :, -1:], dim=1)], dim=1)
        out = torch.cat([mean[:, :m] / 10.0, std[:, :m] / 10.0, mean[:, m:c] / 10.0, std[:, m:c] / 10.0,
                         mean[:, c:c + 7] / 10.0, chroma, torch.log(1.0 + onset), tempo], dim=1)
        return out[0].transpose(0, 1)


class FeaturesModule(nn.Module):
    """``FeatureFrontend`` (``features-v1``, window 1 s, hop 0.5 s) from samples: ``(1, n)`` -> ``(n_windows, 202)``.

    Attributes ``sample_rate`` (22,050), ``dim`` (202), ``hop_s`` and ``window_s`` describe it for
    :func:`workbench.export.audio_in.audio_spec`; its submodule ``frontend`` (everything up to the
    frame features and the tempogram) is the export's float32 island.
    """

    name = "features-v1"
    sample_rate = SAMPLE_RATE_HZ
    dim = DIM
    min_samples = MIN_SAMPLES
    hop_s = FRAMES_PER_HOP * HOP_SAMPLES / SAMPLE_RATE_HZ
    window_s = FRAMES_PER_WINDOW * HOP_SAMPLES / SAMPLE_RATE_HZ
    #: the whole track is one input (a flexible length), not a batch of windows
    whole_track = True

    def __init__(self) -> None:
        super().__init__()
        self.frontend = FrameFeatures()
        self.stats = WindowStats()

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """The descriptors of every window of a track.

        Parameters
        ----------
        samples : torch.Tensor [shape=(1, n_samples)]
            Mono at 22,050 Hz, full scale +-1, ``n_samples >= MIN_SAMPLES``.

        Returns
        -------
        torch.Tensor [shape=(n_windows(n_samples), 202)]
        """
        frames, tempo = self.frontend(samples)
        return self.stats(frames, tempo)

    def embed(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors and window start times of a mono track at 22,050 Hz (``FeatureFrontend.embed``'s outputs).

        Parameters
        ----------
        y : np.ndarray [shape=(n,)]
            Mono samples at 22,050 Hz.

        Returns
        -------
        embeddings : np.ndarray [shape=(n_windows, 202), dtype=float32]
        timestamps_s : np.ndarray [shape=(n_windows,)]

        Raises
        ------
        ParameterError
            ``y`` is not 1-d or shorter than :data:`MIN_SAMPLES`.
        """
        y = np.asarray(y)
        if y.ndim != 1 or y.size < MIN_SAMPLES:
            raise ParameterError(f"y must be mono samples (n,) with n >= {MIN_SAMPLES} (1 s at 22050 Hz); "
                                 f"got shape {y.shape}")
        dtype = next(iter(self.buffers())).dtype
        with torch.no_grad():
            out = self(torch.from_numpy(np.ascontiguousarray(y)).to(dtype)[None, :])
        return out.float().numpy(), window_times(y.size)


def features_module() -> FeaturesModule:
    """The feature frontend as a torch module (eval mode): ``forward(samples (1, n)) -> (n_windows, 202)``.

    Returns
    -------
    FeaturesModule
        Float32; ``.double()`` gives the float64 reference.
    """
    return FeaturesModule().eval()
