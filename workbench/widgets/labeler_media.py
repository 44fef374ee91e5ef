"""What the browser labeler is sent for a track: waveform peaks, compressed audio, label colours.

Nothing large crosses the kernel-browser connection: the first paint needs only the peaks
(:func:`waveform_peaks`, about 84 kB for 7 minutes), and playback gets a mono Ogg Vorbis buffer
(:func:`ogg_bytes`, about 1 MB a minute at quality 0.3) made in the background instead of a
40 MB WAV.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np

from workbench.errors import ParameterError

#: Peak bins per second of audio sent for the waveform (each bin is a (max, min) int8 pair).
PEAKS_PER_S = 100
#: Sample rate of the audio sent to the browser for playback and the spectrogram, in Hz.
BROWSER_SR = 22050
#: Samples per write call when encoding Ogg Vorbis (libsndfile 1.2.2 crashes on one long write).
OGG_BLOCK = 1 << 16
#: WCAG 2.x AA contrast for normal text.
AA_CONTRAST = 4.5


def read_mono(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """A track's samples, mono float32 at the file's own rate (no resampling: fast).

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
    sr : int
        The file's sample rate in Hz.
    """
    import soundfile as sf

    from workbench import audio

    try:
        data, sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except Exception:  # noqa: BLE001 - audio.load raises the library's AudioError
        y, sr = audio.load(path, sr=None, mono=True)
        return np.asarray(y, dtype=np.float32), int(sr)
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(y), int(sr)


def waveform_peaks(y: np.ndarray, *, sr: int, per_s: int = PEAKS_PER_S) -> bytes:
    """Waveform peaks for wavesurfer's ``peaks`` option: an (max, min) int8 pair per bin.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples in [-1, 1].
    sr : int > 0
        Sample rate of ``y`` in Hz.
    per_s : int > 0
        Bins per second.

    Returns
    -------
    bytes
        ``2 * ceil(n * per_s / sr)`` signed bytes, each ``round(127 * value)``, alternating
        the bin's maximum and minimum (wavesurfer draws the envelope from them).
    """
    if not isinstance(sr, int) or sr <= 0 or not isinstance(per_s, int) or per_s <= 0:
        raise ParameterError(f"sr and per_s must be positive ints; got sr={sr!r}, per_s={per_s!r}")
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if y.size == 0:
        return b""
    hop = max(1, sr // per_s)
    n_bins = math.ceil(y.size / hop)
    padded = np.zeros(n_bins * hop, dtype=np.float32)
    padded[: y.size] = y
    frames = padded.reshape(n_bins, hop)
    pairs = np.empty((n_bins, 2), dtype=np.float32)
    pairs[:, 0] = frames.max(axis=1)
    pairs[:, 1] = frames.min(axis=1)
    return np.clip(np.round(pairs * 127.0), -127, 127).astype(np.int8).tobytes()


def ogg_bytes(y: np.ndarray, *, sr: int, out_sr: int = BROWSER_SR, quality: float = 0.3) -> bytes:
    """Mono samples as an Ogg Vorbis file in memory, resampled to ``out_sr``, written in blocks.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono float samples (clipped to [-1, 1]).
    sr : int > 0
        Sample rate of ``y`` in Hz.
    out_sr : int > 0
        Sample rate of the file in Hz.
    quality : float in [0, 1]
        Vorbis quality (libsndfile's compression level is ``1 - quality``).

    Returns
    -------
    bytes
        The ``.ogg`` file.
    """
    import soundfile as sf
    import soxr

    if not 0.0 <= quality <= 1.0:
        raise ParameterError(f"quality must be in [0, 1]; got {quality!r}")
    x = np.clip(np.asarray(y, dtype=np.float32).reshape(-1), -1.0, 1.0)
    if sr != out_sr:
        x = soxr.resample(x, sr, out_sr, quality="MQ").astype(np.float32, copy=False)
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", samplerate=int(out_sr), channels=1, format="OGG", subtype="VORBIS",
                      compression_level=1.0 - quality) as f:
        for i in range(0, x.size, OGG_BLOCK):
            f.write(x[i:i + OGG_BLOCK])
    return buf.getvalue()


def _luminance(hex_color: str) -> float:
    rgb = [int(hex_color[i:i + 2], 16) / 255.0 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2.x contrast ratio of two ``#rrggbb`` colours (1 to 21).

    Parameters
    ----------
    fg, bg : str
        Colours as ``"#rrggbb"``.
    """
    for name, c in (("fg", fg), ("bg", bg)):
        if not (isinstance(c, str) and len(c) == 7 and c[0] == "#"):
            raise ParameterError(f"{name} must be a colour '#rrggbb'; got {c!r}")
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_color(bg: str) -> str:
    """Black or white, whichever reads better on ``bg`` (meets AA wherever either can).

    Parameters
    ----------
    bg : str
        Background colour ``"#rrggbb"``.
    """
    dark, light = "#000000", "#ffffff"
    return dark if contrast_ratio(dark, bg) >= contrast_ratio(light, bg) else light


class MediaCache:
    """Peaks and Ogg audio of tracks for the browser labeler: each file decoded once, kept for a few tracks.

    Peaks are also kept on disk (``folder/<content hash>.peaks``, about 84 kB for 7 minutes) so a
    track is painted without decoding it next time. Safe to call from the kernel's thread and a
    background thread at once: a track being decoded by one is waited for by the other.

    Parameters
    ----------
    folder : Path or None
        Where peak files go (made when first written); None keeps peaks in memory only.
    keep : int
        Tracks whose peaks and audio stay in memory.
    """

    def __init__(self, folder: os.PathLike[str] | None, *, keep: int = 8) -> None:
        import threading
        from collections import OrderedDict
        from pathlib import Path

        self.folder = None if folder is None else Path(folder)
        self.keep = keep
        self._peaks: OrderedDict[int, tuple[bytes, float]] = OrderedDict()
        self._ogg: OrderedDict[int, bytes] = OrderedDict()
        self._decoded: tuple[int, np.ndarray, int] | None = None
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, track_id: int):  # noqa: ANN202 - a threading.Lock
        import threading

        with self._guard:
            return self._locks.setdefault(track_id, threading.Lock())

    def _file(self, content_hash: str):  # noqa: ANN202 - a Path or None
        return None if self.folder is None else self.folder / f"{content_hash}.{PEAKS_PER_S}.peaks"

    def _remember(self, store: dict, key: int, value: object) -> None:
        store[key] = value
        while len(store) > self.keep:
            store.popitem(last=False)  # type: ignore[attr-defined]

    def peaks(self, track_id: int, path: str, content_hash: str) -> tuple[bytes, float]:
        """The track's waveform peaks (:func:`waveform_peaks`) and its duration in seconds.

        Parameters
        ----------
        track_id : int
            The track's id (the memory key).
        path : str
            Its audio file.
        content_hash : str
            Its content hash (the disk key).
        """
        with self._lock(track_id):
            if track_id in self._peaks:
                return self._peaks[track_id]
            f = self._file(content_hash)
            if f is not None and f.is_file():
                raw = f.read_bytes()
                found = (raw[8:], float(np.frombuffer(raw[:8], dtype="<f8")[0]))
            else:
                y, sr = read_mono(path)
                found = (waveform_peaks(y, sr=sr), y.size / sr)
                self._decoded = (track_id, y, sr)  # the audio step that follows needs it
                if f is not None:
                    self._write(f, found)
            self._remember(self._peaks, track_id, found)
            return found

    @staticmethod
    def _write(f: os.PathLike[str], found: tuple[bytes, float]) -> None:
        from pathlib import Path

        f = Path(f)
        try:
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(np.array([found[1]], dtype="<f8").tobytes() + found[0])
            tmp.replace(f)
        except OSError:
            pass  # a read-only workspace: peaks stay in memory

    def cached_audio(self, track_id: int) -> bytes | None:
        """The track's Ogg bytes when already made, else None (never blocks).

        Parameters
        ----------
        track_id : int
            The track's id.
        """
        return self._ogg.get(track_id)

    def audio(self, track_id: int, path: str, content_hash: str) -> bytes:
        """The track as mono Ogg Vorbis (:func:`ogg_bytes`), made on first call (seconds for 7 minutes).

        Parameters
        ----------
        track_id : int
            The track's id.
        path : str
            Its audio file.
        content_hash : str
            Its content hash.
        """
        self.peaks(track_id, path, content_hash)
        with self._lock(track_id):
            if track_id in self._ogg:
                return self._ogg[track_id]
            held, self._decoded = self._decoded, None
            y, sr = (held[1], held[2]) if held is not None and held[0] == track_id else read_mono(path)
            data = ogg_bytes(y, sr=sr)
            self._remember(self._ogg, track_id, data)
            return data
