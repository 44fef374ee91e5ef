"""One bad file never stops a run: scan, analyze, embed and similar-FILE on damaged input.

Every bad file is made here (FIFOs, links to devices, names that are not UTF-8, cut files,
huge samples, damaged cache entries); permission errors are simulated by monkeypatching,
because these tests may run as root, where ``chmod 000`` stops nothing.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sqlite3
import stat
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import tone

from workbench import audio, store
from workbench import library as library_module
from workbench.errors import (
    AudioError,
    AudioReadError,
    CorruptAudioError,
    NotRegularFileError,
    ParameterError,
    SampleRangeError,
    StoreError,
    WriteError,
)
from workbench.library import Library, path_from_stored, stored_path_text

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``."""

    def boom(signum, frame):
        raise AssertionError(f"took longer than {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def ws(tmp_path):
    """A workspace: ``<root>/data/workbench.db`` and ``<root>/music`` with two good files."""
    root = tmp_path / "ws"
    music = root / "music"
    music.mkdir(parents=True)
    sf.write(music / "good1.wav", tone(4.0, seed=1), 22050)
    sf.write(music / "good2.flac", tone(4.0, seed=2, freq_hz=330.0), 22050)
    return root


@pytest.fixture
def lib(ws):
    with Library(ws / "data" / "workbench.db") as library:
        yield library


def _reasons(summary) -> dict[str, str]:
    return {os.path.basename(f.path): f.reason for f in summary.failed}


# -- scan: what is a file ------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_and_link_to_dev_zero_are_skipped_not_read(lib, ws):
    music = ws / "music"
    os.mkfifo(music / "pipe.wav")
    os.symlink("/dev/zero", music / "zero.flac")
    with deadline(30):
        summary = lib.scan(music, progress=False)
    reasons = _reasons(summary)
    assert "not a regular file (FIFO)" in reasons["pipe.wav"]
    assert "symbolic link to a character device" in reasons["zero.flac"]
    assert len(summary.added) == 2 and len(lib) == 2
    with pytest.raises(NotRegularFileError, match="not a regular file"):
        audio.load(music / "pipe.wav")
    with pytest.raises(OSError, match="not a regular file"):
        library_module.file_sha256(music / "pipe.wav")


def test_links_are_followed_only_into_scanned_folders(lib, ws, tmp_path):
    music = ws / "music"
    outside = tmp_path / "outside"
    outside.mkdir()
    sf.write(outside / "far.wav", tone(4.0, seed=7), 22050)
    (music / ".stash").mkdir()  # hidden: not walked, but inside the scanned folder
    sf.write(music / ".stash" / "near.wav", tone(4.0, seed=8), 22050)
    os.symlink(outside / "far.wav", music / "far-link.wav")
    os.symlink(music / ".stash" / "near.wav", music / "near-link.wav")
    summary = lib.scan(music, progress=False)
    assert "outside the scanned folders" in _reasons(summary)["far-link.wav"]
    assert str(music / "near-link.wav") in summary.added
    # once the outside folder is scanned too, a link into it is followed (a copy of a known track)
    lib.scan(outside, progress=False)
    os.symlink(outside / "far.wav", music / "far-link2.wav")
    summary = lib.scan(music, progress=False)
    assert (str(music / "far-link2.wav"), str(outside / "far.wav")) in summary.duplicates


def test_name_that_is_not_utf8_is_stored_reversibly_and_opens(lib, ws):
    music = ws / "music"
    raw = os.path.join(os.fsencode(music), b"caf\xe9 \xff.wav")
    sf.write(raw, tone(4.0, seed=3), 22050)
    with open(os.path.join(os.fsencode(music), b"bad\xfe.wav"), "wb") as fh:
        fh.write(b"not audio at all" * 64)
    summary = lib.scan(music, progress=False)
    assert len(summary.added) == 3 and len(summary.failed) == 1
    text = str(summary)
    text.encode("utf-8")  # printable: no lone surrogates reach the report
    assert "bad\\xfe.wav: corrupt or truncated .wav file" in text
    assert "caf\\xe9 \\xff.wav" in audio.display_path(summary.added[0])
    track = [t for t in lib.tracks() if "caf" in t.path][0]
    assert os.fsencode(track.path) == raw
    y, sr = audio.load(track.path)
    assert sr == 22050 and y.size == 4 * 22050
    stored = lib.conn.execute("SELECT path FROM tracks WHERE id = ?", (track.id,)).fetchone()[0]
    assert stored.startswith("fsenc:music/")
    assert lib.track(track.path).id == track.id
    assert lib.scan(music, progress=False).counts()["unchanged"] == 3  # a rescan finds it again


@pytest.mark.parametrize("name", ["plain/ä b.wav", "fsenc:odd.wav", "x/\udce9\udcff.wav", "100%25.wav"])
def test_stored_path_text_round_trips(name):
    text = stored_path_text(name)
    text.encode("utf-8")
    assert path_from_stored(text) == name


def test_too_long_name_says_so(tmp_path):
    with pytest.raises(AudioReadError, match="file name too long"):
        audio.load(tmp_path / ("x" * 300 + ".wav"))


# -- scan: whole files only ----------------------------------------------------------------------
@pytest.mark.parametrize("suffix,kw", [(".flac", {}), (".ogg", {"subtype": "VORBIS"}),
                                       (".mp3", {"format": "MP3"}), (".opus", {"format": "OGG", "subtype": "OPUS"})])
def test_truncated_files_are_refused_by_name(lib, ws, suffix, kw):
    music = ws / "music"
    sr = 48000 if suffix == ".opus" else 44100
    whole = music / f"whole{suffix}"
    sf.write(whole, tone(5.0, sr=sr, channels=2, seed=4), sr, **kw)
    data = whole.read_bytes()
    (music / f"cut{suffix}").write_bytes(data[: int(len(data) * 0.6)])
    summary = lib.scan(music, progress=False)
    assert str(whole) in summary.added
    assert str(music / f"cut{suffix}") not in summary.added
    reason = _reasons(summary)[f"cut{suffix}"]
    assert "truncated" in reason or "corrupt" in reason
    with pytest.raises(CorruptAudioError):
        audio.load(music / f"cut{suffix}")
    assert lib.track(whole).duration_s == pytest.approx(5.0, abs=0.05)


def test_load_reads_by_blocks_until_the_decoder_ends(tmp_path, monkeypatch):
    """A decoder that hands back fewer frames per call than asked (as libsndfile's Vorbis reader
    does for a one-shot read) still yields every frame."""
    path = tmp_path / "v.ogg"
    sf.write(path, tone(5.0, sr=44100, seed=5), 44100, subtype="VORBIS")
    real_read = sf.SoundFile.read

    def short_read(self, frames=-1, *args, **kwargs):
        return real_read(self, min(frames, 1000) if frames >= 0 else 1000, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", short_read)
    y, sr = audio.load(path)
    assert y.size == sf.info(path).frames == 5 * 44100


def test_huge_float_sample_is_a_named_error(lib, ws):
    y = tone(4.0, seed=6)
    y[1000, 0] = 3e18
    sf.write(ws / "music" / "huge.wav", y, 22050, subtype="FLOAT")
    with pytest.raises(SampleRangeError, match=r"a sample reaches 3e\+18"):
        audio.load(ws / "music" / "huge.wav")
    summary = lib.scan(ws / "music", progress=False)
    assert "a sample reaches 3e+18" in _reasons(summary)["huge.wav"] and len(summary.added) == 2


# -- unreadable folders and files ---------------------------------------------------------------
def _deny_scandir(monkeypatch, folder: Path):
    real = os.scandir

    def scandir(path="."):
        if Path(os.fsdecode(path)) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_unreadable_folder_is_a_failure_and_its_tracks_are_not_missing(lib, ws, monkeypatch):
    locked = ws / "music" / "locked"
    locked.mkdir()
    sf.write(locked / "inside.wav", tone(4.0, seed=9), 22050)
    assert len(lib.scan(ws / "music", progress=False).added) == 3
    _deny_scandir(monkeypatch, locked)
    summary = lib.scan(ws / "music", progress=False)  # the rescan must not crash
    assert _reasons(summary)["locked"] == "cannot read folder: permission denied"
    assert summary.missing == [] and len(lib) == 3
    row = lib.conn.execute("SELECT path, reason FROM scan_failures ORDER BY rowid DESC").fetchone()
    assert row["reason"] == "cannot read folder: permission denied"


def test_file_that_cannot_be_stat_is_not_missing(lib, ws, monkeypatch):
    lib.scan(ws / "music", progress=False)
    victim = str(ws / "music" / "good1.wav")
    real = os.lstat

    def lstat(path, *a, **k):
        if os.fspath(path) == victim:
            raise PermissionError(errno.EACCES, "Permission denied", victim)
        return real(path, *a, **k)

    monkeypatch.setattr(os, "lstat", lstat)
    summary = lib.scan(ws / "music", progress=False)
    assert _reasons(summary)["good1.wav"] == "cannot stat: permission denied"
    assert summary.missing == [] and len(lib) == 2


def test_permission_denied_is_not_called_corrupt(lib, ws, monkeypatch):
    from workbench.analysis import analyze_library

    lib.scan(ws / "music", progress=False)
    victim = ws / "music" / "good1.wav"
    real_open = open

    def guarded(path, *a, **k):
        if os.fspath(path) == str(victim):
            raise PermissionError(errno.EACCES, "Permission denied", str(victim))
        return real_open(path, *a, **k)

    monkeypatch.setattr(audio, "open", guarded, raising=False)
    with pytest.raises(AudioReadError, match="cannot read: permission denied"):
        audio.load(victim)
    summary = analyze_library(lib, progress=False, workers=1)  # in this process, where the patch is
    assert summary.failed == [(str(victim), "cannot read: permission denied")]
    assert len(summary.analysed) == 1


@pytest.mark.skipif(IS_ROOT, reason="root ignores chmod 000; the monkeypatched tests above cover it")
def test_chmod_000_folder_for_real(lib, ws):
    locked = ws / "music" / "locked"
    locked.mkdir()
    sf.write(locked / "inside.wav", tone(4.0, seed=9), 22050)
    lib.scan(ws / "music", progress=False)
    locked.chmod(0)
    try:
        summary = lib.scan(ws / "music", progress=False)
    finally:
        locked.chmod(stat.S_IRWXU)
    assert "permission denied" in _reasons(summary)["locked"] and not summary.missing


# -- analyze, embed, similar: per-track failures --------------------------------------------------
def test_six_channel_file_is_analysed(lib, ws):
    from workbench.analysis import analyze_library, stored_analysis
    from workbench.analysis.loudness import integrated_lufs

    sf.write(ws / "music" / "surround.wav", tone(4.0, seed=10, channels=6), 22050)
    lib.scan(ws / "music", progress=False)
    summary = analyze_library(lib, progress=False)
    assert summary.failed == [] and len(summary.analysed) == 3
    six = lib.track(ws / "music" / "surround.wav")
    a = stored_analysis(lib, six)
    mono = tone(4.0, seed=10)[:, 0]
    assert a.loudness_lufs == pytest.approx(integrated_lufs(mono, sr=22050), abs=0.05)


def test_any_error_of_one_track_is_recorded_and_the_batch_goes_on(lib, ws, monkeypatch):
    from workbench.analysis import analyze_library
    from workbench.analysis import core as analysis_core

    lib.scan(ws / "music", progress=False)
    real = analysis_core.analyze
    calls = {"n": 0}

    def flaky(y, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("Audio must have five channels or less.")  # as pyloudnorm says it
        return real(y, **kw)

    monkeypatch.setattr(analysis_core, "analyze", flaky)
    summary = analyze_library(lib, progress=False, workers=1)  # in this process, where the patch is
    assert len(summary.failed) == 1 and len(summary.analysed) == 1
    assert summary.failed[0][1] == "ValueError: Audio must have five channels or less."


class _Backbone:
    """A tiny backbone: 4-d frame means; raises librosa's error on a marked file."""

    name = "stub-v1"
    settings: dict = {}
    dim = 4

    def embed(self, y, *, sr):
        import librosa

        x = audio.to_mono(np.asarray(y))
        if abs(float(x[0])) > 0.9:
            raise librosa.util.exceptions.ParameterError("Audio buffer is not finite everywhere")
        frames = x[: (x.size // 1024) * 1024].reshape(-1, 1024)
        emb = np.stack([frames.mean(1), frames.std(1), frames.max(1), frames.min(1)], axis=1)
        return emb.astype(np.float32), np.arange(len(emb)) * 1024 / sr


def test_embed_records_a_librosa_error_and_goes_on(lib, ws):
    from workbench.embed.batch import embed_library

    y = tone(4.0, seed=11)
    y[0, 0] = 0.95
    sf.write(ws / "music" / "marked.wav", y, 22050)
    lib.scan(ws / "music", progress=False)
    summary = embed_library(lib, backbone=_Backbone(), progress=False)
    assert len(summary.embedded) == 2
    assert summary.failed == [(str(ws / "music" / "marked.wav"), "ParameterError: Audio buffer is not finite everywhere")]


def test_embed_after_a_file_was_damaged_since_the_scan(lib, ws):
    from workbench.embed.batch import embed_library

    lib.scan(ws / "music", progress=False)
    y = tone(4.0, seed=1)
    y[5, 0] = 1e19
    sf.write(ws / "music" / "good1.wav", y, 22050, subtype="FLOAT")
    summary = embed_library(lib, backbone=_Backbone(), progress=False)
    assert len(summary.embedded) == 1 and "a sample reaches 1e+19" in summary.failed[0][1]


def test_embed_hop_must_be_positive(lib, ws):
    from workbench.embed.batch import embed_library, with_hop
    from workbench.embed.features import FeatureFrontend

    for hop in (0, -0.5, float("nan")):
        with pytest.raises(ParameterError, match="hop_s must be a number > 0"):
            embed_library(lib, hop_s=hop, progress=False)
    assert with_hop(FeatureFrontend(), 1.0).hop_s == 1.0


def test_similar_file_failure_is_a_named_error(lib, ws, monkeypatch):
    from workbench import search as search_module
    from workbench.embed.features import FeatureFrontend

    def refuse(y, **kw):
        raise ValueError("Audio must have five channels or less.")

    monkeypatch.setattr(search_module, "analyze", refuse)
    s = search_module.LibrarySearch(lib, backbone=FeatureFrontend(), progress=False)
    with pytest.raises(AudioError, match=r"good1.wav: cannot analyse or embed this file: ValueError: Audio must"):
        s._query(str(ws / "music" / "good1.wav"))


def test_query_vector_of_the_wrong_length(lib):
    from workbench import search as search_module
    from workbench.embed.features import FeatureFrontend
    from workbench.similarity import SimilarityIndex

    rng = np.random.default_rng(0)
    s = search_module.LibrarySearch(lib, backbone=FeatureFrontend(), progress=False)
    s.index = SimilarityIndex([1, 2, 3], rng.standard_normal((3, 8)).astype(np.float32), [120.0, 121.0, 122.0],
                              ["8A", "8A", "9A"], [5, 6, 7])
    with pytest.raises(ParameterError, match=r"query vector must be a 1-D vector of length 8 .*got shape \(5,\)"):
        s._query(np.zeros(5, dtype=np.float32))


# -- embedding cache --------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncate", "flip", "shapes", "garbage"])
def test_damaged_cache_entry_reads_as_missing_and_is_rebuilt(lib, ws, damage):
    from workbench.embed.batch import cache_for, embed_library

    lib.scan(ws / "music", progress=False)
    b = _Backbone()
    embed_library(lib, backbone=b, progress=False)
    cache = cache_for(lib, b)
    t = lib.tracks()[0]
    p = cache.path(t.content_hash)
    data = p.read_bytes()
    if damage == "truncate":
        p.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        i = len(data) // 3
        p.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif damage == "shapes":
        with open(p, "wb") as fh:
            np.savez(fh, embeddings=np.zeros((3, 4), np.float32), timestamps_s=np.zeros(5))
    else:
        p.write_bytes(b"PK\x03\x04" + os.urandom(200))
    assert cache.get(t.content_hash) is None
    summary = embed_library(lib, backbone=b, progress=False)
    assert summary.embedded == [t.id] and len(summary.cached) == 1
    emb, ts = cache.get(t.content_hash)
    assert emb.shape[1] == 4 and ts.shape == (emb.shape[0],)


def test_cache_write_on_a_full_disk_names_path_and_cause(lib, ws, monkeypatch):
    from workbench.embed import cache as cache_module
    from workbench.embed.batch import embed_library

    lib.scan(ws / "music", progress=False)

    def full(path, write):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(cache_module, "atomic_write", full)
    with pytest.raises(WriteError, match=r"\.npz: cannot write the embedding cache: disk full"):
        embed_library(lib, backbone=_Backbone(), progress=False)


# -- the database: read-only, disk full ----------------------------------------------------------
def test_read_only_database_lists_tracks_and_refuses_writes(lib, ws, tmp_path):
    from workbench.analysis import analyze_library

    lib.scan(ws / "music", progress=False)
    lib.close()
    with Library(ws / "data" / "workbench.db", read_only=True) as ro:
        assert ro.store.read_only and len(ro.tracks()) == 2
        with pytest.raises(StoreError, match="read-only, so it cannot scan"):
            ro.scan(ws / "music", progress=False)
        with pytest.raises(StoreError, match=r"workbench\.db: cannot write: the database is read-only"):
            analyze_library(ro, progress=False)


def test_unwritable_database_opens_read_only_by_itself(lib, ws, monkeypatch):
    lib.scan(ws / "music", progress=False)
    lib.close()
    monkeypatch.setattr(store, "_writable", lambda p: False)  # what os.access says of a chmod 444 file
    with Library(ws / "data" / "workbench.db") as ro:
        assert ro.store.read_only and [Path(t.path).name for t in ro.tracks()] == ["good1.wav", "good2.flac"]


@pytest.mark.skipif(IS_ROOT, reason="root writes through chmod 444; the monkeypatched test above covers it")
def test_chmod_444_database_for_real(lib, ws):
    lib.scan(ws / "music", progress=False)
    lib.close()
    db = ws / "data" / "workbench.db"
    db.chmod(0o444)
    (ws / "data").chmod(0o555)
    try:
        with Library(db) as ro:
            assert len(ro.tracks()) == 2
    finally:
        (ws / "data").chmod(0o755)
        db.chmod(0o644)


def test_old_read_only_database_is_a_clear_error(tmp_path):
    path = tmp_path / "old.db"
    conn = store.connect(path)
    store.migrate(conn, target=3)
    conn.close()
    with pytest.raises(StoreError, match=f"schema version 3, older than {store.SCHEMA_VERSION}, and is opened read-only"):
        store.Store(path, read_only=True)
    assert store.Store(path).version == store.SCHEMA_VERSION  # writable: upgraded as before


def test_current_database_takes_no_write_lock_on_open(lib, ws):
    other = sqlite3.connect(ws / "data" / "workbench.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        with Library(ws / "data" / "workbench.db", timeout_s=0) as second:
            assert len(second) == 0
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_database_disk_full_is_a_store_error(lib, ws):
    pages = lib.conn.execute("PRAGMA page_count").fetchone()[0]
    lib.conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    with pytest.raises(StoreError, match=r"workbench\.db: cannot write: disk full"):
        for _ in range(200):
            with store.transaction(lib.conn):
                lib.conn.execute("INSERT INTO scans (folder, started_at, finished_at, added, unchanged, moved, "
                                 "changed, missing, failed) VALUES (?, 'a', 'b', 0, 0, 0, 0, 0, 0)", ("x" * 2000,))


# -- a copied workspace ---------------------------------------------------------------------------
def test_copied_workspace_resolves_tracks_to_its_own_files(lib, ws, tmp_path):
    lib.scan(ws / "music", progress=False)
    stored = [r[0] for r in lib.conn.execute("SELECT path FROM tracks ORDER BY path")]
    assert stored == ["music/good1.wav", "music/good2.flac"]
    lib.close()
    copy = tmp_path / "moved" / "ws2"
    shutil.copytree(ws, copy)
    shutil.rmtree(ws)  # the original is gone
    with Library(copy / "data" / "workbench.db") as moved:
        tracks = moved.tracks()
        assert [t.path for t in tracks] == [str(copy / "music" / "good1.wav"), str(copy / "music" / "good2.flac")]
        assert all(t.folder is None for t in tracks)
        assert audio.load(tracks[0].path)[0].size == 4 * 22050
        assert moved.track(copy / "music" / "good2.flac").id == tracks[1].id
        assert moved.scan(copy / "music", progress=False).counts()["unchanged"] == 2
        from workbench.crates import Crates

        crates = Crates(moved)
        crates.add("set", [tracks[0].id])
        assert [t.path for t in crates.tracks("set")] == [str(copy / "music" / "good1.wav")]


def test_older_absolute_rows_keep_working_and_move_to_relative(lib, ws):
    lib.scan(ws / "music", progress=False)
    for t in lib.tracks():  # as an older workbench stored them
        lib.conn.execute("UPDATE tracks SET path = ?, scan_root = ? WHERE id = ?", (t.path, str(ws / "music"), t.id))
    assert lib.track(ws / "music" / "good1.wav").path == str(ws / "music" / "good1.wav")
    summary = lib.scan(ws / "music", progress=False)
    assert summary.counts()["unchanged"] == 2 and summary.counts()["added"] == 0
    assert {r[0] for r in lib.conn.execute("SELECT path FROM tracks")} == {"music/good1.wav", "music/good2.flac"}


def test_tracks_outside_the_workspace_stay_absolute(lib, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sf.write(elsewhere / "far.wav", tone(4.0, seed=12), 22050)
    lib.scan(elsewhere, progress=False)
    assert lib.conn.execute("SELECT path FROM tracks").fetchone()[0] == str(elsewhere / "far.wav")


# -- fuzzing -------------------------------------------------------------------------------------
_SEEDS: dict[str, bytes] = {}


def _valid_bytes(suffix: str) -> bytes:
    """A small valid file of each kind, made once."""
    if suffix not in _SEEDS:
        import io

        fmt, sub = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
                    ".mp3": ("MP3", None), ".aiff": ("AIFF", "PCM_16")}[suffix]
        buf = io.BytesIO()
        sf.write(buf, tone(0.5, sr=8000, seed=13), 8000, format=fmt, subtype=sub)
        _SEEDS[suffix] = buf.getvalue()
    return _SEEDS[suffix]


def _mutate(data: bytes, ops: list[tuple[str, float, int]]) -> bytes:
    out = bytearray(data)
    for op, where, value in ops:
        i = int(where * max(len(out) - 1, 0))
        if op == "flip" and out:
            out[i] ^= value or 1
        elif op == "cut":
            del out[i:]
        elif op == "insert":
            out[i:i] = bytes([value]) * 16
        elif op == "zero" and out:
            out[i:i + 64] = bytes(len(out[i:i + 64]))
    return bytes(out)


def _file_bytes():
    from hypothesis import strategies as st

    suffixes = st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".aiff"])
    ops = st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert", "zero"]), st.floats(0, 1),
                             st.integers(0, 255)), min_size=1, max_size=4)
    mutated = st.tuples(suffixes, ops).map(lambda t: (t[0], _mutate(_valid_bytes(t[0]), t[1])))
    random = st.tuples(suffixes, st.binary(min_size=0, max_size=2048))
    return st.one_of(mutated, random)


def _load_or_named_error(path: Path) -> None:
    try:
        y, sr = audio.load(path, mono=False)
    except AudioError:
        return
    assert y.dtype == np.float32 and y.ndim == 2 and y.shape[1] > 0 and sr > 0
    assert np.isfinite(y).all() and np.abs(y).max() <= audio.MAX_ABS_SAMPLE


def test_fuzz_load_gives_audio_or_a_named_error(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings

    folder = tmp_path_factory.mktemp("fuzzload")

    @settings(max_examples=int(os.environ.get('FUZZ_LOAD_EXAMPLES', 60)), deadline=None, derandomize=not os.environ.get('FUZZ_RANDOM'),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_file_bytes())
    def check(case):
        suffix, data = case
        path = folder / f"f{suffix}"
        path.write_bytes(data)
        with deadline(20):
            _load_or_named_error(path)

    check()


def test_fuzz_scan_never_stops_and_loses_no_good_file(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=int(os.environ.get('FUZZ_SCAN_EXAMPLES', 8)), deadline=None, derandomize=not os.environ.get('FUZZ_RANDOM'),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(_file_bytes(), min_size=1, max_size=6))
    def check(cases):
        root = tmp_path_factory.mktemp("fuzzscan")
        music = root / "music"
        music.mkdir()
        sf.write(music / "good.wav", tone(1.0, seed=14), 8000)
        for i, (suffix, data) in enumerate(cases):
            (music / f"bad{i}{suffix}").write_bytes(data)
        with Library(root / "data" / "workbench.db") as library, deadline(60):
            summary = library.scan(music, progress=False)
            c = summary.counts()
            assert c["added"] + c["duplicates"] + c["failed"] == len(cases) + 1
            assert str(music / "good.wav") in summary.added or any(
                d[0] == str(music / "good.wav") or d[1] == str(music / "good.wav") for d in summary.duplicates)
            for t in library.tracks():  # whatever was added decodes whole, as long as the scan said
                y, sr = audio.load(t.path, mono=False)
                assert y.shape[1] == round(t.duration_s * sr) and np.isfinite(y).all()

    check()


# -- augmented views, section training data and suggestions: one track's failure is recorded -----
def test_augmented_views_record_any_error_of_one_track_and_go_on(lib, ws, monkeypatch):
    from workbench import augment

    sf.write(ws / "music" / "marked.wav", tone(4.0, seed=12), 22050)
    lib.scan(ws / "music", progress=False)
    real = audio.load

    def load(path, **kw):  # a decoder or librosa error that is no AudioError, on one file
        if str(path).endswith("marked.wav"):
            raise ValueError("Input signal length=0 is too small to resample")
        return real(path, **kw)

    monkeypatch.setattr(audio, "load", load)
    summary = augment.embed_views(lib, backbone=_Backbone(), n_views=1, seed=0, progress=False)
    assert {v.track_id for v in summary.views} == {t.id for t in lib.tracks() if t.name != "marked"}
    assert [(os.path.basename(p), why) for p, why in summary.failed] == [
        ("marked.wav", "ValueError: Input signal length=0 is too small to resample")]


def test_section_data_leaves_out_a_labelled_track_it_cannot_read(lib, ws, monkeypatch):
    from workbench.train.sections import library_data as F

    lib.scan(ws / "music", progress=False)
    good, bad = lib.tracks()[:2]
    real = F.track_frames

    def frames(library, track, **kw):
        if int(track) == bad.id:
            raise CorruptAudioError("cut short since the scan", path=bad.path)
        return real(library, track, **kw)

    monkeypatch.setattr(F, "track_frames", frames)
    sections = [{"track_id": t.id, "label": "drop", "start_s": 0.0, "end_s": 2.0} for t in (good, bad)]
    data = F.section_dataset(lib, sections, progress=False)
    assert [t.track_id for t in data.tracks] == [good.id]
    assert data.failed == [(bad.id, "cut short since the scan")]
