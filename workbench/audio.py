"""Decoding, resampling and validation of audio.

Samples are float32 and are never assumed to lie within [-1, 1]: real masters decode with
peaks near 2.0 and some are very quiet. Every failure raises one of the
:mod:`workbench.errors` audio errors, naming the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.audio_checks import (  # noqa: F401  (re-exported: were defined here)
    _check_container_size,
    _check_min_duration,
    _check_ogg_pages,
    _check_rate,
    looks_like_mp3,
    quiet_mpg123,
)
from workbench.errors import (
    AudioFileNotFoundError,
    AudioReadError,
    AudioTooShortError,
    CorruptAudioError,
    EmptyAudioError,
    NonFiniteAudioError,
    NotRegularFileError,
    ParameterError,
    SampleRangeError,
    UnsupportedFormatError,
    os_cause,
)
from workbench.fileio import file_kind  # noqa: F401  (re-exported: was defined here)

#: File extensions the workbench decodes (lower case, with the dot).
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif")

# MP3 frame counts in the header are estimates (from the Xing/LAME header or the bit rate):
# real files decode up to a few tenths of a percent short of them. Short by more than this
# fraction is a truncated file.
_MP3_FRAME_COUNT_SLACK = 0.05

#: Largest absolute sample value accepted from a float file (or a float array): decoded audio
#: lies near +-1 (masters peak near 2); values beyond this are damage, and they overflow the
#: float32 spectra every analysis computes.
MAX_ABS_SAMPLE: float = 1e6

# Frames per block when decoding: libsndfile's one-shot read of a whole Ogg Vorbis file can
# come up short of the frames it has; reading block by block until the decoder returns none
# gets every frame.
_BLOCK_FRAMES = 1 << 16


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding the samples.

    Attributes
    ----------
    path : str
        The file.
    duration_s : float >= 0
        Length in seconds.
    sample_rate_hz : int > 0
        Native sample rate.
    channels : int > 0
        Number of channels.
    frames : int >= 0
        Samples per channel.
    format : str
        Container as libsndfile names it (``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"``, ...).
    subtype : str
        Encoding within the container (``"PCM_16"``, ``"VORBIS"``, ``"OPUS"``, ...).
    """

    path: str
    duration_s: float
    sample_rate_hz: int
    channels: int
    frames: int
    format: str
    subtype: str


def is_audio_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name ends with one of :data:`SUPPORTED_EXTENSIONS` (any case).

    Parameters
    ----------
    path : str or os.PathLike
        A file name; the file need not exist.

    Returns
    -------
    bool
    """
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def info(path: str | os.PathLike[str]) -> AudioInfo:
    """Read a file's header: duration, rate, channels, format. Decodes no samples.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file.

    Returns
    -------
    AudioInfo
        Duration in seconds, sample rate in Hz, channels, frames, format and subtype, as the header says.

    Raises
    ------
    AudioFileNotFoundError, EmptyAudioError, UnsupportedFormatError, CorruptAudioError
    """
    import soundfile as sf

    p = _check_file(path)
    try:
        i = sf.info(_sf_name(p))
    except Exception as exc:  # libsndfile's errors carry no useful type
        raise _open_error(p, exc) from exc
    if i.frames <= 0 or i.samplerate <= 0:
        raise EmptyAudioError(f"{p}: the file holds no audio samples (0 frames)", path=str(p))
    _check_container_size(p)
    return AudioInfo(
        path=str(p),
        duration_s=float(i.frames) / float(i.samplerate),
        sample_rate_hz=int(i.samplerate),
        channels=int(i.channels),
        frames=int(i.frames),
        format=str(i.format),
        subtype=str(i.subtype),
    )


def load(
    path: str | os.PathLike[str],
    *,
    sr: int | None = None,
    mono: bool = True,
    min_duration_s: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 samples.

    Parameters
    ----------
    path : path-like
        A WAV, FLAC, Ogg (Vorbis or Opus), MP3 or AIFF file.
    sr : int > 0 or None
        Target sample rate in Hz; ``None`` keeps the file's own. Resampling uses soxr (HQ).
    mono : bool
        Mix channels down by their mean.
    min_duration_s : float >= 0
        Raise :class:`AudioTooShortError` when the audio is shorter than this.

    Returns
    -------
    y : np.ndarray [shape=(n,) if mono else (channels, n), dtype=float32]
        Samples, not clipped or rescaled.
    sr : int > 0
        Their sample rate in Hz.

    Raises
    ------
    AudioFileNotFoundError, NotRegularFileError, AudioReadError, EmptyAudioError,
    CorruptAudioError, UnsupportedFormatError, NonFiniteAudioError, SampleRangeError,
    AudioTooShortError, ParameterError

    Notes
    -----
    The file is decoded block by block until the decoder returns no more frames; it is
    judged truncated when fewer frames decode than its header promises (MP3 headers are
    estimates, so a few percent short is allowed there).
    """
    _check_rate(sr, "sr", allow_none=True)
    _check_min_duration(min_duration_s)
    p = _check_file(path)
    decoded = _decode(p, keep=True)
    data = np.concatenate(decoded.blocks, axis=0) if len(decoded.blocks) > 1 else decoded.blocks[0]
    native_sr = decoded.sample_rate_hz
    y = np.ascontiguousarray(data.T)  # (channels, n)
    try:
        y = validate(y, sr=native_sr, min_duration_s=min_duration_s, name=str(p))
    except (NonFiniteAudioError, AudioTooShortError) as exc:  # SampleRangeError is one too
        exc.path = str(p)
        raise
    if mono:
        y = to_mono(y)
    if sr is not None and sr != native_sr:
        y = resample(y, orig_sr=native_sr, target_sr=sr)
    return y, (sr if sr is not None else native_sr)


def validate(
    y: np.ndarray, *, sr: int, min_duration_s: float = 0.0, name: str = "y"
) -> np.ndarray:
    """Check samples a caller hands in; return them as float32.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Real-valued samples.
    sr : int > 0
        Sample rate in Hz.
    min_duration_s : float >= 0
        Shortest duration allowed.
    name : str
        What to call the samples in error messages (a path, for files).

    Raises
    ------
    ParameterError
        ``y`` is not a real 1-d or 2-d array, or ``sr`` is not a positive int.
    EmptyAudioError, NonFiniteAudioError, AudioTooShortError
    SampleRangeError
        A float sample beyond +-:data:`MAX_ABS_SAMPLE`.
    """
    _check_rate(sr, "sr")
    _check_min_duration(min_duration_s)
    arr = np.asarray(y)
    if arr.dtype.kind not in "fiu" or arr.ndim not in (1, 2):
        raise ParameterError(
            f"{name} must be a real 1-d array (n,) or 2-d array (channels, n); "
            f"got dtype {arr.dtype} with shape {arr.shape}"
        )
    if arr.shape[-1] == 0 or arr.size == 0:
        raise EmptyAudioError(f"{name}: zero samples (shape {arr.shape})")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        n_bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise NonFiniteAudioError(f"{name}: {n_bad} of {arr.size} samples are NaN or infinite")
    if np.asarray(y).dtype.kind == "f":
        peak = float(np.abs(arr).max())
        if peak > MAX_ABS_SAMPLE:
            raise SampleRangeError(
                f"{name}: a sample reaches {peak:.3g}; float samples must lie within "
                f"+-{MAX_ABS_SAMPLE:g} (audio decodes near +-1): the file is damaged or wrongly encoded"
            )
    duration_s = arr.shape[-1] / sr
    if duration_s < min_duration_s:
        raise AudioTooShortError(
            f"{name}: {duration_s:.3f} s of audio is shorter than the minimum {min_duration_s:g} s"
        )
    return arr


def to_mono(y: np.ndarray) -> np.ndarray:
    """Mean over channels: ``(channels, n) -> (n,)``; a 1-d input is returned as is.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Samples.

    Returns
    -------
    np.ndarray [shape=(n,)]
        ``y`` itself when 1-d, else the channel mean as float32.
    """
    return y if y.ndim == 1 else y.mean(axis=0, dtype=np.float32)


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with soxr (HQ).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
    orig_sr, target_sr : int > 0
        Rates in Hz.

    Returns
    -------
    np.ndarray [shape=(m,) or (channels, m), dtype=float32], ``m ~= n * target_sr / orig_sr``
    """
    import soxr

    _check_rate(orig_sr, "orig_sr")
    _check_rate(target_sr, "target_sr")
    if orig_sr == target_sr:
        return y.astype(np.float32, copy=False)
    out = soxr.resample(np.ascontiguousarray(y.T), orig_sr, target_sr, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


def _check_file(path: str | os.PathLike[str] | bytes) -> Path:
    """The path as a :class:`Path` once it names a readable, non-empty regular file.

    Raises a named error for each other case: missing, a FIFO/device/socket/folder,
    unreadable (permission denied, name too long, ...), empty.
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    p = Path(path)
    shown = display_path(p)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise AudioFileNotFoundError(f"{p}: no such audio file", path=str(p)) from exc
    except OSError as exc:
        raise AudioReadError(f"{p}: cannot read: {os_cause(exc)}", path=str(p)) from exc
    except ValueError as exc:  # an embedded NUL byte
        raise AudioFileNotFoundError(f"{shown}: not a valid file name ({exc})", path=str(p)) from exc
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFileError(f"{p}: not a regular file ({file_kind(st.st_mode)})", path=str(p))
    if st.st_size == 0:
        raise EmptyAudioError(f"{p}: the file is empty (0 bytes)", path=str(p))
    try:
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise AudioReadError(f"{p}: cannot read: {os_cause(exc)}", path=str(p)) from exc
    return p


def display_path(path: str | os.PathLike[str] | bytes) -> str:
    """A path as printable text: bytes that are not UTF-8 are shown as ``\\xNN`` escapes.

    For messages only; the path itself (with its undecodable bytes) still opens the file.

    Parameters
    ----------
    path : str, os.PathLike or bytes
        The path as the file system gave it.

    Returns
    -------
    str
    """
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def _sf_name(p: Path) -> bytes:
    """The file name for libsndfile: bytes, so names that are not UTF-8 open too."""
    return os.fsencode(p)


@dataclass
class _Decoded:
    blocks: list[np.ndarray]
    frames: int
    header_frames: int
    sample_rate_hz: int
    channels: int
    format: str
    subtype: str
    peak: float


def _decode(p: Path, *, keep: bool) -> _Decoded:
    """Decode a whole file block by block, keeping the blocks when asked; check it is whole.

    Raises
    ------
    CorruptAudioError
        The decoder fails, or fewer frames decode than the header promises (truncated).
    EmptyAudioError, NonFiniteAudioError, SampleRangeError
    """
    import soundfile as sf

    blocks: list[np.ndarray] = []
    n, peak, n_bad = 0, 0.0, 0
    try:
        with quiet_mpg123() if looks_like_mp3(p) else contextlib.nullcontext(), sf.SoundFile(_sf_name(p)) as f:
            header_frames, native_sr, channels = int(f.frames), int(f.samplerate), int(f.channels)
            fmt, subtype = str(f.format), str(f.subtype)
            if native_sr <= 0 or channels <= 0:
                raise CorruptAudioError(f"{p}: the header gives {native_sr} Hz and {channels} channels",
                                        path=str(p))
            while True:
                block = f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                n += block.shape[0]
                finite = np.isfinite(block)
                if not finite.all():
                    n_bad += int(block.size - np.count_nonzero(finite))
                else:
                    peak = max(peak, float(np.abs(block).max()))
                if keep:
                    blocks.append(block)
    except (CorruptAudioError, MemoryError):
        raise
    except Exception as exc:  # libsndfile's errors carry no useful type
        raise _open_error(p, exc) from exc
    if n == 0:
        raise EmptyAudioError(f"{p}: the file decodes to zero samples", path=str(p))
    _check_container_size(p)
    if fmt == "OGG":
        _check_ogg_pages(p)
    slack = int(_MP3_FRAME_COUNT_SLACK * header_frames) + 2 * 1152 if fmt == "MP3" else 0
    if n + slack < header_frames:
        raise CorruptAudioError(
            f"{p}: truncated: the header promises {header_frames} frames but only {n} decode", path=str(p)
        )
    if n_bad:
        raise NonFiniteAudioError(f"{p}: {n_bad} of {n * channels} samples are NaN or infinite", path=str(p))
    if peak > MAX_ABS_SAMPLE:
        raise SampleRangeError(
            f"{p}: a sample reaches {peak:.3g}; float samples must lie within +-{MAX_ABS_SAMPLE:g} "
            "(audio decodes near +-1): the file is damaged or wrongly encoded", path=str(p))
    return _Decoded(blocks, n, header_frames, native_sr, channels, fmt, subtype, peak)


def check_whole(path: str | os.PathLike[str]) -> AudioInfo:
    """Decode a whole file by blocks (keeping no samples) and say what it holds.

    Unlike :func:`info`, the frame count and duration are what decodes, not what the header
    claims, so a truncated file, or one whose header promises 18 days, is caught here.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file.

    Returns
    -------
    AudioInfo
        Frames and duration (seconds) as decoded; rate in Hz, channels, format, subtype.

    Raises
    ------
    AudioFileNotFoundError, NotRegularFileError, AudioReadError, EmptyAudioError,
    UnsupportedFormatError, CorruptAudioError, NonFiniteAudioError, SampleRangeError
    """
    p = _check_file(path)
    d = _decode(p, keep=False)
    return AudioInfo(path=str(p), duration_s=d.frames / d.sample_rate_hz, sample_rate_hz=d.sample_rate_hz,
                     channels=d.channels, frames=d.frames, format=d.format, subtype=d.subtype)


def _open_error(p: Path, exc: Exception) -> Exception:
    reason = str(exc)
    for name in (repr(_sf_name(p)), repr(str(p)), f"'{p}'"):
        reason = reason.replace(name, "")
    reason = reason.replace("Error opening :", "cannot open:").strip() or type(exc).__name__
    # the file was checked to be a readable regular file, so libsndfile's generic open error
    # means the decoder found no audio it recognises in it
    reason = reason.replace("File does not exist or is not a regular file (possibly a pipe?).",
                            "no audio stream the decoder recognises")
    if not is_audio_path(p):
        allowed = ", ".join(SUPPORTED_EXTENSIONS)
        return UnsupportedFormatError(
            f"{p}: unsupported or unrecognised format (suffix {p.suffix!r}; supported: {allowed}); "
            f"decoder said: {reason}",
            path=str(p),
        )
    return CorruptAudioError(f"{p}: corrupt or truncated {p.suffix} file; decoder said: {reason}", path=str(p))
