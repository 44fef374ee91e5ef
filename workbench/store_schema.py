"""The schema of the workbench database: every migration step, oldest first.

:data:`MIGRATIONS` maps each schema version (SQLite's ``user_version``) to the SQL that brings
the version before it up; :data:`SCHEMA_VERSION` is the newest, the one this code writes. The
steps are data only: :func:`workbench.store.migrate` runs the missing ones in order, inside one
transaction. A new table or column is a new step here, never an edit of an old one (a database
already at that version would never see it).
"""

from __future__ import annotations

MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE tracks (
            id             INTEGER PRIMARY KEY,
            content_hash   TEXT    NOT NULL UNIQUE,
            path           TEXT    NOT NULL UNIQUE,
            size_bytes     INTEGER NOT NULL CHECK (size_bytes > 0),
            mtime_ns       INTEGER NOT NULL,
            duration_s     REAL    NOT NULL CHECK (duration_s > 0),
            sample_rate_hz INTEGER NOT NULL CHECK (sample_rate_hz > 0),
            channels       INTEGER NOT NULL CHECK (channels > 0),
            format         TEXT    NOT NULL,
            title          TEXT,
            artist         TEXT,
            added_at       TEXT    NOT NULL,
            updated_at     TEXT    NOT NULL
        );
        CREATE TABLE analyses (
            id            INTEGER PRIMARY KEY,
            track_id      INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            kind          TEXT    NOT NULL,
            settings_hash TEXT    NOT NULL,
            content_hash  TEXT    NOT NULL,
            result_json   TEXT    NOT NULL,
            created_at    TEXT    NOT NULL,
            UNIQUE (track_id, kind, settings_hash)
        );
        CREATE INDEX analyses_track ON analyses(track_id);
    """,
    2: """
        ALTER TABLE tracks ADD COLUMN missing_since TEXT;
        CREATE TABLE scans (
            id          INTEGER PRIMARY KEY,
            folder      TEXT    NOT NULL,
            started_at  TEXT    NOT NULL,
            finished_at TEXT    NOT NULL,
            added       INTEGER NOT NULL,
            unchanged   INTEGER NOT NULL,
            moved       INTEGER NOT NULL,
            changed     INTEGER NOT NULL,
            missing     INTEGER NOT NULL,
            failed      INTEGER NOT NULL
        );
        CREATE TABLE scan_failures (
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            path    TEXT    NOT NULL,
            reason  TEXT    NOT NULL
        );
    """,
    3: """
        CREATE TABLE labels (
            id          INTEGER PRIMARY KEY,
            track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            label       TEXT    NOT NULL
                        CHECK (label IN ('intro', 'build', 'drop', 'break', 'outro', 'verse', 'chorus')),
            start_beat  INTEGER NOT NULL CHECK (start_beat >= 0),
            end_beat    INTEGER NOT NULL,
            start_s     REAL    NOT NULL CHECK (start_s >= 0),
            end_s       REAL    NOT NULL,
            source      TEXT    NOT NULL CHECK (source IN ('user', 'model', 'import')),
            confidence  REAL    CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
            created_at  TEXT    NOT NULL,
            updated_at  TEXT    NOT NULL,
            CHECK (end_beat > start_beat),
            CHECK (end_s > start_s)
        );
        CREATE INDEX labels_track ON labels(track_id, start_beat);
        CREATE TABLE jobs (
            id           INTEGER PRIMARY KEY,
            kind         TEXT    NOT NULL,
            state        TEXT    NOT NULL CHECK (state IN
                         ('pending', 'preparing', 'training', 'evaluating', 'completed', 'failed')),
            progress     REAL    NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
            epoch        INTEGER,
            total_epochs INTEGER,
            loss         REAL,
            label_counts TEXT,
            metrics      TEXT,
            config       TEXT,
            error        TEXT,
            run_id       TEXT    UNIQUE,
            pid          INTEGER,
            created_at   TEXT    NOT NULL,
            started_at   TEXT,
            updated_at   TEXT    NOT NULL,
            finished_at  TEXT
        );
        CREATE TABLE model_versions (
            id          INTEGER PRIMARY KEY,
            model_type  TEXT    NOT NULL,
            version     INTEGER NOT NULL CHECK (version >= 1),
            path        TEXT    NOT NULL,
            active      INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
            job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            run_id      TEXT,
            metadata    TEXT    NOT NULL,
            created_at  TEXT    NOT NULL,
            UNIQUE (model_type, version)
        );
        CREATE UNIQUE INDEX model_versions_one_active ON model_versions(model_type) WHERE active = 1;
    """,
    4: """
        ALTER TABLE tracks ADD COLUMN scan_root TEXT;
        ALTER TABLE tracks ADD COLUMN partial_reason TEXT;
        CREATE TABLE crates (
            id          INTEGER PRIMARY KEY,
            name        TEXT    NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
            created_at  TEXT    NOT NULL
        );
        CREATE TABLE crate_tracks (
            crate_id    INTEGER NOT NULL REFERENCES crates(id) ON DELETE CASCADE,
            track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            added_at    TEXT    NOT NULL,
            PRIMARY KEY (crate_id, track_id)
        );
        CREATE INDEX crate_tracks_track ON crate_tracks(track_id);
        CREATE TABLE analysis_settings (
            scope       TEXT    NOT NULL CHECK (scope IN ('library', 'folder', 'track')),
            target      TEXT    NOT NULL,
            settings    TEXT    NOT NULL,
            updated_at  TEXT    NOT NULL,
            PRIMARY KEY (scope, target)
        );
        CREATE TABLE track_corrections (
            track_id         INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            bpm              REAL    CHECK (bpm IS NULL OR (bpm > 0 AND bpm < 400)),
            first_downbeat_s REAL    CHECK (first_downbeat_s IS NULL OR first_downbeat_s >= 0),
            key              TEXT,
            locked           INTEGER NOT NULL DEFAULT 1 CHECK (locked IN (0, 1)),
            updated_at       TEXT    NOT NULL
        );
        ALTER TABLE jobs ADD COLUMN pid_start_ticks INTEGER;
        CREATE TABLE model_version_numbers (
            model_type  TEXT    PRIMARY KEY,
            last        INTEGER NOT NULL CHECK (last >= 0)
        );
    """,
    5: """
        CREATE TABLE qa_keep (
            track_id    INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            kept_at     TEXT    NOT NULL,
            note        TEXT
        );
    """,
    # v6 (labels that learn from the user): provenance of accepted suggestions on labels, the
    # suggestions a user rejected (not shown again; training reads them), each track's labelling
    # status, and a grid nudge (seconds) among a track's locked corrections.
    6: """
        ALTER TABLE labels ADD COLUMN model_name TEXT;
        ALTER TABLE labels ADD COLUMN model_version TEXT;
        ALTER TABLE labels ADD COLUMN accepted_at TEXT;
        CREATE TABLE label_rejections (
            id            INTEGER PRIMARY KEY,
            track_id      INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            label         TEXT    NOT NULL
                          CHECK (label IN ('intro', 'build', 'drop', 'break', 'outro', 'verse', 'chorus')),
            start_beat    INTEGER NOT NULL CHECK (start_beat >= 0),
            end_beat      INTEGER NOT NULL,
            start_s       REAL    NOT NULL CHECK (start_s >= 0),
            end_s         REAL    NOT NULL,
            confidence    REAL    CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
            model_name    TEXT    NOT NULL,
            model_version TEXT    NOT NULL,
            rejected_at   TEXT    NOT NULL,
            CHECK (end_beat > start_beat)
        );
        CREATE INDEX label_rejections_track ON label_rejections(track_id, model_name, model_version);
        CREATE TABLE track_status (
            track_id    INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            status      TEXT    NOT NULL CHECK (status IN ('unlabelled', 'in_progress', 'done', 'skipped')),
            updated_at  TEXT    NOT NULL
        );
        ALTER TABLE track_corrections ADD COLUMN grid_offset_s REAL
            CHECK (grid_offset_s IS NULL OR (grid_offset_s >= -1 AND grid_offset_s <= 1));
    """,
    # v7: a label (or rejection) from beat 0 starts the track (start_s 0, not the first beat's
    # time; workbench.labels.BeatGrid.span_s), as one to the last beat ends it.
    7: """
        UPDATE labels SET start_s = 0.0 WHERE start_beat = 0;
        UPDATE label_rejections SET start_s = 0.0 WHERE start_beat = 0;
    """,
    # v8: ``models deactivate`` leaves a type with no active version: one row per type, outside the version rows (a
    # deleted version keeps it deactivated); from the newest ``deactivated_at`` in a row of a type with none active.
    8: """
        CREATE TABLE model_deactivations (
            model_type     TEXT    PRIMARY KEY,
            version        INTEGER NOT NULL CHECK (version >= 1),
            deactivated_at TEXT    NOT NULL
        );
        INSERT INTO model_deactivations (model_type, version, deactivated_at)
            SELECT model_type, version, MAX(at) FROM (SELECT model_type, version, CASE WHEN json_valid(metadata) THEN
                CASE json_type(metadata, '$.deactivated_at') WHEN 'text' THEN json_extract(metadata, '$.deactivated_at')
                END END AS at FROM model_versions)
            WHERE at IS NOT NULL AND model_type NOT IN (SELECT model_type FROM model_versions WHERE active = 1)
            GROUP BY model_type;
    """,
}

#: The schema version this code writes.
SCHEMA_VERSION: int = max(MIGRATIONS)
