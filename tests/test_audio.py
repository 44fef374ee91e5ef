"""Decoding, resampling and every bad-input branch of workbench.audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import tone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import audio
from workbench.errors import (
    AudioError,
    AudioFileNotFoundError,
    AudioTooShortError,
    CorruptAudioError,
    EmptyAudioError,
    NonFiniteAudioError,
    ParameterError,
    UnsupportedFormatError,
    WorkbenchError,
)

FORMATS = [
    ("a.wav", None, 22050),
    ("a.flac", None, 44100),
    ("a.ogg", "VORBIS", 44100),
    ("a.opus", "OPUS", 48000),
    ("a.mp3", "MPEG_LAYER_III", 22050),
    ("a.aiff", None, 32000),
]


@pytest.mark.parametrize(("name", "subtype", "sr"), FORMATS)
def test_load_every_format(write_audio, name, subtype, sr):
    path = write_audio(name, duration_s=1.0, sr=sr, channels=2, subtype=subtype)
    y, rate = audio.load(path)
    assert rate == sr
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - sr) <= 0.06 * sr  # lossy codecs pad a little
    # the 440 Hz tone survives decoding: its FFT peak is at 440 Hz
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * rate / y.size - 440) < 3


def test_stereo_kept_and_mixed_by_mean(tmp_path):
    sr = 8000
    left = np.full(sr, 0.5, dtype=np.float32)
    right = np.full(sr, -0.1, dtype=np.float32)
    path = tmp_path / "lr.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="FLOAT")
    y2, _ = audio.load(path, mono=False)
    assert y2.shape == (2, sr)
    np.testing.assert_allclose(y2[0], 0.5)
    y1, _ = audio.load(path)
    np.testing.assert_allclose(y1, 0.2, rtol=1e-6)


def test_peaks_above_one_are_not_clipped(tmp_path):
    path = tmp_path / "hot.wav"
    y = np.array([0.0, 2.0, -1.5, 0.25] * 100, dtype=np.float32)
    sf.write(path, y, 8000, subtype="FLOAT")
    out, _ = audio.load(path)
    assert out.max() == pytest.approx(2.0) and out.min() == pytest.approx(-1.5)


def test_resample_with_soxr(write_audio):
    path = write_audio("a.wav", duration_s=2.0, sr=44100)
    y, sr = audio.load(path, sr=16000)
    assert sr == 16000 and abs(y.size - 32000) <= 1
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * sr / y.size - 440) < 1


def test_min_duration(write_audio):
    path = write_audio("short.wav", duration_s=0.5)
    y, _ = audio.load(path, min_duration_s=0.4)
    assert y.size > 0
    with pytest.raises(AudioTooShortError, match=r"0\.500 s of audio is shorter than the minimum 1 s") as e:
        audio.load(path, min_duration_s=1.0)
    assert e.value.path == str(path)


def test_info_reads_header(write_audio):
    path = write_audio("a.flac", duration_s=1.5, sr=32000, channels=2)
    i = audio.info(path)
    assert (i.sample_rate_hz, i.channels, i.frames, i.format) == (32000, 2, 48000, "FLAC")
    assert i.duration_s == pytest.approx(1.5)


# -- bad input -------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(AudioFileNotFoundError, match="no such audio file") as e:
        audio.load(tmp_path / "nope.wav")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, WorkbenchError)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AudioFileNotFoundError, match="not a regular file"):
        audio.load(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match=r"empty \(0 bytes\)"):
        audio.load(path)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros((0, 1), dtype=np.float32), 22050)
    with pytest.raises(EmptyAudioError, match="no audio samples|zero samples"):
        audio.load(path)
    with pytest.raises(EmptyAudioError):
        audio.info(path)


@pytest.mark.parametrize(("name", "subtype"), [("t.wav", None), ("t.aiff", None), ("t.flac", None),
                                               ("t.mp3", "MPEG_LAYER_III"), ("t.opus", "OPUS")])
def test_truncated_file(write_audio, name, subtype):
    path = write_audio(name, duration_s=2.0, sr=48000 if name.endswith("opus") else 22050, subtype=subtype)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptAudioError, match="truncated|corrupt") as e:
        audio.load(path)
    assert e.value.path == str(path)


def test_corrupt_bytes_with_audio_suffix(tmp_path):
    path = tmp_path / "noise.flac"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(CorruptAudioError, match=r"corrupt or truncated \.flac file"):
        audio.load(path)


def test_unsupported_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(UnsupportedFormatError, match=r"suffix '\.txt'.*supported: \.wav"):
        audio.load(path)


def test_nan_and_inf_samples(tmp_path):
    path = tmp_path / "nan.wav"
    y = tone(0.2, sr=8000)[:, 0]
    y[10] = np.nan
    y[20] = np.inf
    sf.write(path, y, 8000, subtype="FLOAT")
    with pytest.raises(NonFiniteAudioError, match="2 of 1600 samples are NaN or infinite") as e:
        audio.load(path)
    assert e.value.path == str(path)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sr": 0}, r"sr must be a positive int \(Hz\) or None; got 0"),
    ({"sr": 44100.5}, "sr must be a positive int"),
    ({"min_duration_s": -1}, "min_duration_s must be a finite float >= 0; got -1"),
])
def test_bad_parameters(write_audio, kwargs, match):
    path = write_audio("a.wav")
    with pytest.raises(ParameterError, match=match):
        audio.load(path, **kwargs)


def test_path_must_be_path_like():
    with pytest.raises(ParameterError, match="path must be a str or os.PathLike; got int"):
        audio.load(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("y", "match", "error"), [
    (np.zeros((2, 3, 4)), "must be a real 1-d array", ParameterError),
    (np.array(["a", "b"]), "must be a real 1-d array", ParameterError),
    (np.zeros(0), "zero samples", EmptyAudioError),
    (np.array([0.0, np.nan]), "1 of 2 samples are NaN", NonFiniteAudioError),
])
def test_validate_arrays(y, match, error):
    with pytest.raises(error, match=match):
        audio.validate(y, sr=22050)


def test_validate_accepts_ints_and_loud_audio():
    out = audio.validate(np.array([1, -3, 2], dtype=np.int16), sr=8000)
    assert out.dtype == np.float32
    loud = audio.validate(np.array([5.0, -7.0]), sr=8000)
    assert loud.max() == 5.0


def test_errors_are_builtin_exceptions():
    assert issubclass(CorruptAudioError, ValueError)
    assert issubclass(ParameterError, ValueError)
    assert issubclass(AudioFileNotFoundError, FileNotFoundError)


# -- properties: random input gives audio or one of our errors, never a crash -----------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=3000),
       suffix=st.sampled_from([".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".bin"]),
       header=st.sampled_from([b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC", b"OggS", b"ID3", b"FORM"]))
def test_random_bytes_never_crash(tmp_path, data, suffix, header):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(header + data)
    try:
        y, sr = audio.load(path)
    except AudioError:
        return
    assert y.dtype == np.float32 and y.size > 0 and sr > 0 and np.isfinite(y).all()


@settings(max_examples=100, deadline=None)
@given(y=st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=50).map(np.array),
    st.lists(st.lists(st.floats(width=32), min_size=3, max_size=3), max_size=4).map(np.array),
    st.integers(0, 3).map(lambda n: np.zeros((n,) * n)),
), sr=st.integers(1, 96000), min_duration_s=st.floats(0, 0.01))
def test_random_arrays_give_audio_or_clear_error(y, sr, min_duration_s):
    try:
        out = audio.validate(y, sr=sr, min_duration_s=min_duration_s)
    except (ParameterError, AudioError):
        return
    assert out.dtype == np.float32 and np.isfinite(out).all() and out.shape[-1] / sr >= min_duration_s


def test_random_bytes_example_saved_in_repo_stays_clean(tmp_path):
    """A fixed regression input: a RIFF header that promises more than the file holds."""
    path = tmp_path / "liar.wav"
    path.write_bytes(b"RIFF" + (10_000).to_bytes(4, "little") + b"WAVE" + bytes(range(16)))
    with pytest.raises(CorruptAudioError):
        audio.load(path)
