"""The SQLite store: settings, migrations, transactions, concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pytest

from workbench import store
from workbench.errors import ParameterError, SchemaVersionError, StoreError


def test_new_database_settings(tmp_path):
    with store.Store(tmp_path / "sub" / "w.db") as s:
        assert s.version == store.SCHEMA_VERSION
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        tables = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"tracks", "analyses", "scans", "scan_failures"} <= tables


def _insert_track(conn, content_hash="ab" * 32, path="/music/a.flac"):
    conn.execute(
        "INSERT INTO tracks (content_hash, path, size_bytes, mtime_ns, duration_s, sample_rate_hz, channels, "
        "format, title, artist, added_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (content_hash, path, 1000, 1, 90.0, 44100, 2, "FLAC/PCM_16", "T", "A", "2026-01-01", "2026-01-01"),
    )


def test_upgrade_from_version_1_keeps_data(tmp_path):
    path = tmp_path / "old.db"
    conn = store.connect(path)
    store.migrate(conn, target=1)  # a database as version 1 of the workbench made it
    assert store.schema_version(conn) == 1
    with store.transaction(conn):
        _insert_track(conn)
        conn.execute("INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, created_at) "
                     "VALUES (1, 'bpm', 's', 'h', '{\"bpm\": 128}', 'now')")
    cols_v1 = {r[1] for r in conn.execute("PRAGMA table_info(tracks)")}
    assert "missing_since" not in cols_v1
    conn.close()

    with store.Store(path) as s:
        assert s.version == store.SCHEMA_VERSION == 8
        assert {"labels", "jobs", "model_versions", "crates", "crate_tracks", "analysis_settings",
                "track_corrections", "model_version_numbers"} <= {
            r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        cols = {r[1] for r in s.conn.execute("PRAGMA table_info(tracks)")}
        assert "missing_since" in cols
        row = s.conn.execute("SELECT title, missing_since FROM tracks").fetchone()
        assert tuple(row) == ("T", None)
        assert s.conn.execute("SELECT result_json FROM analyses").fetchone()[0] == '{"bpm": 128}'


def test_migrate_is_idempotent(tmp_path):
    conn = store.connect(tmp_path / "w.db")
    assert store.migrate(conn) == 0
    assert store.migrate(conn) == store.SCHEMA_VERSION
    conn.close()


def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(SchemaVersionError, match=f"schema version 99 but this workbench knows up to {store.SCHEMA_VERSION}"):
        store.Store(path)


def test_unknown_migration_target(tmp_path):
    conn = store.connect(tmp_path / "w.db")
    newest = store.SCHEMA_VERSION
    with pytest.raises(ParameterError, match=f"target must be a schema version in 1..{newest}; got {newest + 1}"):
        store.migrate(conn, target=newest + 1)


def test_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open as a SQLite database"):
        store.Store(path)


def test_bad_timeout(tmp_path):
    with pytest.raises(ParameterError, match="timeout_s must be a float >= 0"):
        store.connect(tmp_path / "w.db", timeout_s=-1)


def test_crash_mid_transaction_rolls_back_whole(tmp_path):
    with store.Store(tmp_path / "w.db") as s:
        with s.transaction():
            _insert_track(s.conn, "aa" * 32, "/m/keep.flac")
        with pytest.raises(RuntimeError, match="power cut"):
            with s.transaction():
                _insert_track(s.conn, "bb" * 32, "/m/lost.flac")
                raise RuntimeError("power cut")
        paths = [r[0] for r in s.conn.execute("SELECT path FROM tracks")]
        assert paths == ["/m/keep.flac"]


def test_constraints_hold(tmp_path):
    with store.Store(tmp_path / "w.db") as s:
        with pytest.raises(sqlite3.IntegrityError):
            with s.transaction():
                s.conn.execute("INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, "
                               "created_at) VALUES (42, 'bpm', 's', 'h', '{}', 'now')")


def _writer(path: str, prefix: str, n: int) -> None:
    s = store.Store(path, timeout_s=60)
    for i in range(n):
        with s.transaction():
            _insert_track(s.conn, f"{prefix}{i:062d}", f"/m/{prefix}{i}.flac")
    s.close()


def test_two_processes_write_at_once(tmp_path):
    """Two kernels writing the same library: every write lands, none fails with 'locked'."""
    path = str(tmp_path / "w.db")
    store.Store(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, p, 150)) for p in ("aa", "bb")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with store.Store(path) as s:
        assert s.conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 300


def test_v3_constraints_refuse_bad_rows(tmp_path):
    with store.Store(tmp_path / "w.db") as s:
        with s.transaction() as conn:
            _insert_track(conn)
        bad = [
            ("solo", 0, 8, 0.0, 4.0, "user", None),     # unknown label
            ("drop", 8, 8, 4.0, 4.0, "user", None),     # end not after start
            ("drop", 0, 8, 0.0, 4.0, "robot", None),    # unknown source
            ("drop", 0, 8, 0.0, 4.0, "model", 1.5),     # confidence out of range
        ]
        for row in bad:
            with pytest.raises(sqlite3.IntegrityError), s.transaction() as conn:
                conn.execute(
                    "INSERT INTO labels (track_id, label, start_beat, end_beat, start_s, end_s, source, confidence, "
                    "created_at, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, 'now', 'now')", row)
        with s.transaction() as conn:
            for version, active in ((1, 1), (2, 0)):
                conn.execute("INSERT INTO model_versions (model_type, version, path, active, metadata, created_at) "
                             "VALUES ('dj_section', ?, 'p', ?, '{}', 'now')", (version, active))
        with pytest.raises(sqlite3.IntegrityError), s.transaction() as conn:
            conn.execute("UPDATE model_versions SET active = 1 WHERE version = 2")


def _old_database(path, version: int, duration_s: float) -> sqlite3.Connection:
    """A database at schema ``version`` with one track of ``duration_s`` seconds (id 1)."""
    conn = store.connect(path)
    store.migrate(conn, target=version)
    conn.execute("INSERT INTO tracks (content_hash, path, size_bytes, mtime_ns, duration_s, sample_rate_hz, channels, "
                 "format, added_at, updated_at) VALUES ('h', 'a.wav', 1, 1, ?, 8000, 1, 'WAV', 't', 't')", (duration_s,))
    return conn


def test_upgrade_from_version_5_keeps_labels_and_adds_v6(tmp_path):
    path = tmp_path / "w.db"
    conn = _old_database(path, 5, 10.0)
    conn.execute("INSERT INTO labels (track_id, label, start_beat, end_beat, start_s, end_s, source, confidence, "
                 "created_at, updated_at) VALUES (1, 'drop', 0, 8, 0.0, 4.0, 'user', NULL, 't', 't')")
    conn.close()
    with store.Store(path) as s:
        assert s.version == store.SCHEMA_VERSION
        row = s.conn.execute("SELECT label, model_name, model_version, accepted_at FROM labels").fetchone()
        assert tuple(row) == ("drop", None, None, None)
        assert {"label_rejections", "track_status"} <= {
            r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "grid_offset_s" in {r[1] for r in s.conn.execute("PRAGMA table_info(track_corrections)")}
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            s.conn.execute("INSERT INTO track_status (track_id, status, updated_at) VALUES (1, 'finished', 't')")


def test_upgrade_to_v7_starts_beat_0_labels_at_0_s(tmp_path):
    """v6 stored a label from beat 0 at the first beat's time; v7 moves it to the track's start only."""
    path = tmp_path / "w.db"
    conn = _old_database(path, 6, 60.0)
    for start_beat, end_beat, start_s, end_s in ((0, 8, 5.6, 9.6), (8, 16, 9.6, 13.6)):
        conn.execute("INSERT INTO labels (track_id, label, start_beat, end_beat, start_s, end_s, source, confidence, "
                     "created_at, updated_at) VALUES (1, 'intro', ?, ?, ?, ?, 'user', NULL, 't', 't')",
                     (start_beat, end_beat, start_s, end_s))
        conn.execute("INSERT INTO label_rejections (track_id, label, start_beat, end_beat, start_s, end_s, confidence, "
                     "model_name, model_version, rejected_at) VALUES (1, 'drop', ?, ?, ?, ?, 0.5, 'm', 'v', 't')",
                     (start_beat, end_beat, start_s, end_s))
    conn.commit()
    conn.close()
    with store.Store(path) as s:
        assert s.version == store.SCHEMA_VERSION
        for table in ("labels", "label_rejections"):
            got = [tuple(r) for r in s.conn.execute(f"SELECT start_beat, start_s, end_s FROM {table} ORDER BY start_beat")]
            assert got == [(0, 0.0, 9.6), (8, 9.6, 13.6)]
