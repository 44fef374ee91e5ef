"""Scanning folders into the library: adds, rescans, moves, changes, failures."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
import soundfile as sf

from workbench import library_scan
from workbench.errors import ContentChangedWarning, ParameterError, TrackNotFoundError
from workbench.library import Library, file_sha256


@pytest.fixture
def music(tmp_path, write_audio):
    folder = tmp_path / "music"
    write_audio("a.wav", duration_s=1.0, seed=1, folder=folder)
    write_audio("sub/b.flac", duration_s=2.0, sr=44100, channels=2, seed=2, folder=folder)
    write_audio("sub/deeper/c.ogg", duration_s=1.5, sr=44100, subtype="VORBIS", seed=3, folder=folder)
    (folder / "notes.txt").write_text("not audio, ignored")
    return folder


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "db" / "workbench.db") as library:
        yield library


def test_scan_adds_every_audio_file_recursively(lib, music):
    summary = lib.scan(music, progress=False)
    assert summary.counts() == {"added": 3, "unchanged": 0, "moved": 0, "changed": 0, "missing": 0,
                                "duplicates": 0, "failed": 0}
    tracks = {os.path.relpath(t.path, music): t for t in lib.tracks()}
    assert set(tracks) == {"a.wav", "sub/b.flac", "sub/deeper/c.ogg"}
    b = tracks["sub/b.flac"]
    assert (b.sample_rate_hz, b.channels, b.format) == (44100, 2, "FLAC/PCM_16")
    assert b.duration_s == pytest.approx(2.0)
    assert b.content_hash == hashlib.sha256((music / "sub/b.flac").read_bytes()).hexdigest()
    assert b.size_bytes == (music / "sub/b.flac").stat().st_size
    assert len(lib) == 3


def test_rescan_is_idempotent_and_decodes_nothing(lib, music, monkeypatch):
    lib.scan(music, progress=False)
    before = [(t.id, t.content_hash, t.updated_at) for t in lib.tracks()]

    def forbidden(*args, **kwargs):
        raise AssertionError("an unchanged file was hashed or decoded")

    monkeypatch.setattr(library_scan, "file_sha256", forbidden)
    monkeypatch.setattr(library_scan.audio, "info", forbidden)
    monkeypatch.setattr(library_scan.audio, "load", forbidden)
    monkeypatch.setattr(library_scan.audio, "check_whole", forbidden)
    summary = lib.scan(music, progress=False)
    assert summary.counts()["unchanged"] == 3 and summary.counts()["added"] == 0
    assert [(t.id, t.content_hash, t.updated_at) for t in lib.tracks()] == before


def test_touched_file_is_rehashed_but_unchanged(lib, music):
    lib.scan(music, progress=False)
    path = music / "a.wav"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    summary = lib.scan(music, progress=False)
    assert summary.unchanged.count(str(path)) == 1 and not summary.changed
    assert lib.track(path).mtime_ns == path.stat().st_mtime_ns


def test_moved_and_renamed_files_keep_their_id(lib, music):
    lib.scan(music, progress=False)
    ids = {t.content_hash: t.id for t in lib.tracks()}
    (music / "elsewhere").mkdir()
    shutil.move(music / "sub" / "b.flac", music / "elsewhere" / "renamed.flac")
    summary = lib.scan(music, progress=False)
    assert summary.moved == [(str(music / "sub" / "b.flac"), str(music / "elsewhere" / "renamed.flac"))]
    moved = lib.track(music / "elsewhere" / "renamed.flac")
    assert moved.id == ids[moved.content_hash]
    assert len(lib) == 3 and summary.counts()["missing"] == 0


def test_move_into_the_path_of_a_deleted_file(lib, music):
    lib.scan(music, progress=False)
    old_a = lib.track(music / "a.wav")
    c = lib.track(music / "sub" / "deeper" / "c.ogg")
    os.remove(music / "a.wav")
    shutil.move(music / "sub" / "deeper" / "c.ogg", music / "a.wav")  # c now lives where a was
    summary = lib.scan(music, progress=False)
    assert lib.track(music / "a.wav").id == c.id
    assert len(summary.moved) == 1
    gone = [t for t in lib.tracks(include_missing=True) if t.id == old_a.id][0]
    assert gone.missing_since is not None and len(lib) == 2


def test_changed_file_gets_new_hash_and_a_warning(lib, music, write_audio):
    lib.scan(music, progress=False)
    old = lib.track(music / "a.wav")
    lib.conn.execute("INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, created_at) "
                     "VALUES (?, 'bpm', 's', ?, '{}', 'now')", (old.id, old.content_hash))
    write_audio("a.wav", duration_s=3.0, seed=9, folder=music)
    with pytest.warns(ContentChangedWarning, match=r"1 file changed contents since the last scan: .*a\.wav"):
        summary = lib.scan(music, progress=False)
    assert summary.changed == [str(music / "a.wav")]
    new = lib.track(music / "a.wav")
    assert new.id == old.id and new.content_hash != old.content_hash
    assert new.duration_s == pytest.approx(3.0)
    assert lib.conn.execute("SELECT COUNT(*) FROM analyses WHERE track_id = ?", (old.id,)).fetchone()[0] == 0


def test_deleted_file_is_marked_missing_and_comes_back(lib, music, tmp_path):
    lib.scan(music, progress=False)
    keep = tmp_path / "b.flac"
    shutil.move(music / "sub" / "b.flac", keep)
    summary = lib.scan(music, progress=False)
    assert summary.missing == [str(music / "sub" / "b.flac")]
    assert len(lib) == 2 and len(lib.tracks(include_missing=True)) == 3
    shutil.move(keep, music / "sub" / "b.flac")
    lib.scan(music, progress=False)
    assert len(lib) == 3


def test_duplicate_copy_is_reported_not_added(lib, music):
    shutil.copy(music / "a.wav", music / "copy_of_a.wav")
    summary = lib.scan(music, progress=False)
    assert len(summary.duplicates) == 1 and len(lib) == 3


def test_unreadable_files_do_not_stop_the_scan(lib, music):
    (music / "broken.flac").write_bytes(b"fLaC" + bytes(range(256)) * 10)
    (music / "empty.mp3").write_bytes(b"")
    good = music / "a.wav"
    cut = music / "cut.wav"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    summary = lib.scan(music, progress=False)
    assert summary.counts()["added"] == 3
    reasons = {os.path.basename(f.path): f.reason for f in summary.failed}
    assert set(reasons) == {"broken.flac", "empty.mp3", "cut.wav"}
    assert "corrupt" in reasons["broken.flac"]
    assert "empty" in reasons["empty.mp3"]
    assert "truncated" in reasons["cut.wav"]
    assert "failed: " in str(summary) and "broken.flac" in str(summary)
    row = lib.conn.execute("SELECT failed FROM scans ORDER BY id DESC").fetchone()
    assert row[0] == 3


def _tagged_track(lib, folder, *, title, artist):
    """The one track of ``folder`` once scanned: a short FLAC tagged with ``title`` and ``artist``."""
    folder.mkdir()
    with sf.SoundFile(folder / "t.flac", "w", samplerate=22050, channels=1) as f:
        f.title, f.artist = title, artist
        f.write([0.1, -0.1] * 5000)
    lib.scan(folder, progress=False)
    return lib.tracks()[0]


def test_tags_are_read(lib, tmp_path):
    t = _tagged_track(lib, tmp_path / "tagged", title="Night Drive", artist="Test Artist")
    assert (t.title, t.artist, t.name) == ("Night Drive", "Test Artist", "Night Drive")


def test_tag_whitespace_is_normalised_for_display_only(lib, tmp_path):
    """Runs of spaces in a title (real tags: "Sky Vibe  -  High Frequency") read as one space in
    ``name`` and in the explorer's artist column and groups; the stored tags keep them."""
    from workbench import explore

    t = _tagged_track(lib, tmp_path / "spaced", title="Sky Vibe  -  High Frequency", artist="Sky   Vibe")
    assert t.name == "Sky Vibe - High Frequency"
    assert (t.title, t.artist) == ("Sky Vibe  -  High Frequency", "Sky   Vibe")
    assert explore.track_groups(lib, "artist")[1] == {t.id: "Sky Vibe"}
    assert list(explore.library_table(lib)["artist"]) == ["Sky Vibe"]


def test_track_lookup(lib, music):
    lib.scan(music, progress=False)
    t = lib.track(music / "a.wav")
    assert lib.track(t.id) == t
    assert lib.track(str(t.id)) == t
    assert lib.track(t.content_hash) == t
    assert lib.track(t.content_hash[:10]) == t
    with pytest.raises(TrackNotFoundError, match="no track in .* has id, hash or path 'nope'"):
        lib.track("nope")
    with pytest.raises(TrackNotFoundError):
        lib.track(999)
    with pytest.raises(ParameterError, match="key must be a track id"):
        lib.track(1.5)  # type: ignore[arg-type]


def test_scan_of_a_missing_folder(lib, tmp_path):
    with pytest.raises(ParameterError, match="folder must be an existing folder of audio files; got"):
        lib.scan(tmp_path / "nowhere")


def test_crash_mid_scan_loses_nothing_already_there(lib, music, write_audio, monkeypatch):
    lib.scan(music, progress=False)
    before = lib.tracks()
    write_audio("new1.wav", seed=11, folder=music)
    write_audio("new2.wav", seed=12, folder=music)
    real = library_scan._scan_one
    calls = {"n": 0}

    def crashing(lib, p, summary, *rest):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the user interrupts the kernel mid-scan
        return real(lib, p, summary, *rest)

    monkeypatch.setattr(library_scan, "_scan_one", crashing)
    with pytest.raises(KeyboardInterrupt):
        lib.scan(music, progress=False)
    monkeypatch.setattr(library_scan, "_scan_one", real)
    after = lib.tracks()
    assert all(t in after for t in before)  # nothing that was there is lost
    assert len(after) == 4  # the file finished before the interrupt is kept (a.wav, then new1.wav)
    summary = lib.scan(music, progress=False)  # and a rescan resumes
    assert summary.counts()["added"] == 1 and len(lib) == 5


def test_a_scan_does_not_hold_the_write_lock(lib, music, tmp_path, monkeypatch):
    """While the scan hashes a file, another connection can write (WAL + short transactions)."""
    other = Library(lib.path, timeout_s=0.1)
    real = library_scan.file_sha256
    wrote = []

    def hash_and_let_another_kernel_write(path):
        with other.store.transaction():
            other.conn.execute("INSERT INTO scans (folder, started_at, finished_at, added, unchanged, moved, "
                               "changed, missing, failed) VALUES ('x', 'a', 'b', 0, 0, 0, 0, 0, 0)")
        wrote.append(path)
        return real(path)

    monkeypatch.setattr(library_scan, "file_sha256", hash_and_let_another_kernel_write)
    lib.scan(music, progress=False)
    assert len(wrote) == 3
    other.close()


def test_two_libraries_scan_the_same_database(tmp_path, music):
    db = tmp_path / "shared.db"
    with Library(db) as one, Library(db) as two:
        one.scan(music, progress=False)
        assert two.scan(music, progress=False).counts()["unchanged"] == 3
        assert len(one) == len(two) == 3


def test_file_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 9000)  # spans several read chunks
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_replaced_by_a_copy_of_another(lib, music):
    lib.scan(music, progress=False)
    old = lib.track(music / "a.wav")
    shutil.copy(music / "sub" / "b.flac", music / "a.wav")  # a.wav now holds b's bytes
    summary = lib.scan(music, progress=False)
    assert summary.duplicates == [(str(music / "a.wav"), str(music / "sub" / "b.flac"))]
    gone = [t for t in lib.tracks(include_missing=True) if t.id == old.id][0]
    assert gone.missing_since is not None  # a's old contents are no longer anywhere
    assert len(lib) == 2
