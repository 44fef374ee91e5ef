"""Audio fingerprints for duplicates: the same recording in two files, whatever the encoding.

A Haitsma-Kalker style sub-fingerprint: 16 bits per frame, each the sign of the change over
time of the energy difference between two adjacent bands (17 log-spaced bands, 300-2000 Hz,
at 5512 Hz). It survives re-encoding, gain changes and resampling; two unrelated recordings
differ in about half their bits, the same recording in well under a quarter. Only the first
:data:`FINGERPRINT_S` seconds are kept, so a fingerprint stays a few kilobytes.
"""

from __future__ import annotations

import numpy as np

FINGERPRINT_SR = 5512
_N_FFT = 2048
_HOP = 512  # 93 ms
#: Seconds of audio a fingerprint covers (from the start).
FINGERPRINT_S = 120.0
#: Frames a duplicate may be shifted by (a trimmed or padded lead-in), about 10 s.
MAX_LAG_FRAMES = 108
#: Fewest overlapping frames for a comparison to count (about 10 s).
MIN_OVERLAP_FRAMES = 108


def fingerprint(mono: np.ndarray, *, sr: int) -> np.ndarray:
    """16-bit sub-fingerprints of the first :data:`FINGERPRINT_S` seconds.

    Parameters
    ----------
    mono : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    np.ndarray [shape=(frames,), dtype=uint16]
        One sub-fingerprint per 93 ms frame (empty for audio shorter than two frames).
    """
    import librosa

    y = np.asarray(mono[: int(FINGERPRINT_S * sr)], dtype=np.float32)
    y = librosa.resample(y, orig_sr=sr, target_sr=FINGERPRINT_SR) if sr != FINGERPRINT_SR else y
    if y.size < 2 * _N_FFT:
        return np.zeros(0, dtype=np.uint16)
    power = np.abs(librosa.stft(y, n_fft=_N_FFT, hop_length=_HOP, center=False)) ** 2
    freqs = librosa.fft_frequencies(sr=FINGERPRINT_SR, n_fft=_N_FFT)
    edges = np.geomspace(300.0, 2000.0, 18)
    bands = np.stack([power[(freqs >= lo) & (freqs < hi)].sum(axis=0) for lo, hi in zip(edges[:-1], edges[1:],
                                                                                         strict=True)])
    energy = np.log(bands + 1e-12)
    diff = energy[:-1] - energy[1:]  # (16, frames)
    bits = (diff[:, 1:] - diff[:, :-1]) > 0  # (16, frames - 1)
    weights = (1 << np.arange(16)).astype(np.uint32)
    return (weights @ bits.astype(np.uint32)).astype(np.uint16)


def bit_error_rate(a: np.ndarray, b: np.ndarray, *, max_lag: int = MAX_LAG_FRAMES) -> float:
    """Smallest share of differing bits between two fingerprints over shifts of up to ``max_lag`` frames.

    Parameters
    ----------
    a, b : np.ndarray [shape=(frames,), dtype=uint16]
        Fingerprints from :func:`fingerprint`.
    max_lag : int >= 0
        Largest shift tried, in frames, either way.

    Returns
    -------
    float in [0, 1]
        1.0 when no shift leaves :data:`MIN_OVERLAP_FRAMES` frames (or the shorter print) overlapping.
    """
    a, b = np.asarray(a, dtype=np.uint16), np.asarray(b, dtype=np.uint16)
    need = min(MIN_OVERLAP_FRAMES, a.size, b.size)
    if need < 8:
        return 1.0
    best = 1.0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        n = min(x.size, y.size)
        if n < need:
            continue
        xor = np.bitwise_xor(x[:n], y[:n])
        ber = float(np.unpackbits(xor.view(np.uint8)).sum()) / (16 * n)
        best = min(best, ber)
    return best


def to_hex(fp: np.ndarray) -> str:
    """A fingerprint as a hex string (for the JSON store).

    Parameters
    ----------
    fp : np.ndarray [dtype=uint16]

    Returns
    -------
    str
    """
    return np.asarray(fp, dtype="<u2").tobytes().hex()


def from_hex(text: str) -> np.ndarray:
    """The fingerprint :func:`to_hex` wrote.

    Parameters
    ----------
    text : str

    Returns
    -------
    np.ndarray [dtype=uint16]
    """
    return np.frombuffer(bytes.fromhex(text), dtype="<u2").astype(np.uint16)
