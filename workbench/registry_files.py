"""The files of the model registry under ``models/``: the lock, paths, writing rows, removing, repair.

:class:`RegistryFiles` is the part of :class:`workbench.registry.Registry` that touches the files
in ``models/`` and their database rows directly (the lock, a version's paths, the next version
number, the row insert, a forced-action record, delete, and the :meth:`~RegistryFiles.cleanup`
scan after a crash); split out of :mod:`workbench.registry`, which re-exports every name here.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.fileio import pid_alive
from workbench.registry_types import (
    _NAME,
    ACTIVATED_AT,
    MAX_VERSION,
    CleanupReport,
    RegistryError,
    Version,
    _read_doc,
)

if TYPE_CHECKING:
    from workbench.library import Library

_TMP = re.compile(r"^\..*\.(\d+)\.tmp(\..*)?$")


class RegistryFiles:
    """The file side of :class:`workbench.registry.Registry` (a mixin: it needs ``root``, ``library``, ``get``)."""

    root: Path
    library: Library

    # -- locking ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".registry.lock", os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # -- paths -----------------------------------------------------------------------------
    def _package_path(self, model_type: str, version: int) -> Path:
        """Where a version's package lives: always inside this registry's own folder.

        The stored path is not trusted for this: a row written by an older workbench holds an
        absolute path, which in a copied project points into the original one.
        """
        return self.root / f"{model_type}_v{version}.mlpackage"

    def _inside(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return True

    # -- writing ---------------------------------------------------------------------------
    def _next_version(self, model_type: str) -> int:
        conn = self.library.conn
        n = int(conn.execute("SELECT MAX(version) FROM model_versions WHERE model_type = ?",
                             (model_type,)).fetchone()[0] or 0)
        row = conn.execute("SELECT last FROM model_version_numbers WHERE model_type = ?", (model_type,)).fetchone()
        n = max(n, int(row[0]) if row else 0)
        for p in self.root.iterdir():
            m = _NAME.match(p.name)
            if m and m.group(1) == model_type and int(m.group(2)) <= MAX_VERSION:
                n = max(n, int(m.group(2)))
        if n >= MAX_VERSION:
            raise RegistryError(f"{model_type}: no version number left (the last is {n}, at most {MAX_VERSION})")
        return n + 1

    def _insert(self, doc: dict[str, Any], *, activate: bool) -> None:
        blob = json.dumps({"metadata": doc.get("metadata") or {}, "metrics": doc.get("metrics") or {},
                           "export": doc.get("export") or {}, "forced": doc.get("forced") or []}, default=str)
        job_id = doc.get("job_id")
        mtype, n = doc["model_type"], int(doc["version"])
        with self.library.store.transaction() as conn:
            if not isinstance(job_id, int) or conn.execute("SELECT 1 FROM jobs WHERE id = ?",
                                                           (job_id,)).fetchone() is None:
                job_id = None  # the job row has gone; keep the run id
            conn.execute(
                "INSERT INTO model_versions (model_type, version, path, active, job_id, run_id, metadata, created_at) "
                "VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
                (mtype, n, f"{mtype}_v{n}.mlpackage", job_id, doc.get("run_id"), blob, str(doc["created_at"])))
            if activate:  # as activate and rollback make a version active: the one place that does it
                self._make_active(conn, mtype, n)
            conn.execute("INSERT INTO model_version_numbers (model_type, last) VALUES (?, ?) "
                         "ON CONFLICT(model_type) DO UPDATE SET last = MAX(last, excluded.last)", (mtype, n))

    def _make_active(self, conn: Any, model_type: str, version: int) -> None:
        """Make ``version`` the one active version of its type, inside ``conn``'s transaction, and record when
        (:data:`ACTIVATED_AT` in its row's metadata: search's default model is the most recently activated); the type
        is no longer deactivated (its ``model_deactivations`` row goes).

        Parameters
        ----------
        conn : sqlite3.Connection
            The library's connection, in a transaction.
        model_type : str
            The type.
        version : int
            The version made active.
        """
        from workbench.store import utc_now

        blob = self._row_blob(conn, model_type, version)
        blob[ACTIVATED_AT] = utc_now("microseconds")
        conn.execute("UPDATE model_versions SET active = 0 WHERE model_type = ?", (model_type,))
        conn.execute("UPDATE model_versions SET active = 1, metadata = ? WHERE model_type = ? AND version = ?",
                     (json.dumps(blob, default=str), model_type, version))
        conn.execute("DELETE FROM model_deactivations WHERE model_type = ?", (model_type,))  # no longer off

    @staticmethod
    def _row_blob(conn: Any, model_type: str, version: int) -> dict[str, Any]:
        """A version's row metadata (``metadata``, ``metrics``, ``export``, ``forced``, activation times) as a dict;
        ``{}`` for no row or an unreadable one."""
        row = conn.execute("SELECT metadata FROM model_versions WHERE model_type = ? AND version = ?",
                           (model_type, version)).fetchone()
        try:
            blob = json.loads(row["metadata"]) if row else {}
        except (TypeError, ValueError):
            blob = {}
        return blob if isinstance(blob, dict) else {}

    def _record_forced(self, v: Version, forced: builtins.list[dict[str, Any]]) -> None:
        """Write a forced activation into the version's row, JSON and card (atomically each)."""
        from workbench.fileio import atomic_write_bytes
        from workbench.registry_card import model_card

        row = self.library.conn.execute("SELECT metadata FROM model_versions WHERE model_type = ? AND version = ?",
                                        (v.model_type, v.version)).fetchone()
        blob = json.loads(row["metadata"]) if row else {}
        blob["forced"] = forced
        with self.library.store.transaction() as conn:
            conn.execute("UPDATE model_versions SET metadata = ? WHERE model_type = ? AND version = ?",
                         (json.dumps(blob, default=str), v.model_type, v.version))
        try:
            doc = json.loads(v.json_path.read_text())
        except (OSError, ValueError):
            return
        doc["forced"] = forced
        atomic_write_bytes(v.json_path, json.dumps(doc, indent=2, default=str).encode())
        atomic_write_bytes(v.card_path, model_card(doc).encode())

    def delete(self, model_type: str, version: int) -> None:
        """Remove a version's files and row; refused for the active version.

        Only files inside this registry's folder are ever removed.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
        version : int >= 1

        Raises
        ------
        RegistryError
            The version is active, does not exist, or one of its files lies outside the models folder.
        """
        v = self.get(model_type, version)
        if v.active:
            raise RegistryError(f"{v.name} is the active {model_type} version; activate another, roll back, or make "
                                f"none active (`workbench models deactivate {model_type}`) before deleting it")
        paths = (v.json_path, v.card_path, v.path)
        outside = [str(p) for p in paths if not self._inside(p)]
        if outside:
            raise RegistryError(f"refusing to delete {outside}: outside the models folder {self.root}")
        with self._lock():
            with self.library.store.transaction() as conn:
                conn.execute("DELETE FROM model_versions WHERE model_type = ? AND version = ?", (model_type, version))
                conn.execute("INSERT INTO model_version_numbers (model_type, last) VALUES (?, ?) "
                             "ON CONFLICT(model_type) DO UPDATE SET last = MAX(last, excluded.last)",
                             (model_type, version))
            v.json_path.unlink(missing_ok=True)  # first: the version is gone once its JSON is
            v.card_path.unlink(missing_ok=True)
            shutil.rmtree(v.path, ignore_errors=True)

    # -- repair ----------------------------------------------------------------------------
    def cleanup(self) -> CleanupReport:
        """Remove what crashed exports left (temporary folders, packages or cards without their JSON)
        and make the database agree with the files (a JSON without a row gets its row; a row
        without its files is dropped).

        Files that are not a valid version (a JSON copied under another number, a JSON that is
        not valid or misses a key, a number out of range) are left alone and listed in
        :attr:`CleanupReport.problems`. Without a ``models/`` folder nothing is created.
        """
        if not self.root.is_dir():
            gone = self.library.conn.execute("SELECT model_type, version FROM model_versions").fetchall()
            if gone:
                with self.library.store.transaction() as conn:
                    conn.execute("DELETE FROM model_versions")
            return CleanupReport(rows_dropped=tuple(f"{r['model_type']}_v{r['version']}" for r in gone))
        removed: list[str] = []
        added: list[str] = []
        dropped: list[str] = []
        problems: list[tuple[str, str]] = []
        with self._lock():
            for p in sorted(self.root.iterdir()):
                m = _TMP.match(p.name)
                if m and (not pid_alive(int(m.group(1))) or int(m.group(1)) == os.getpid()):
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                    removed.append(p.name)
            for p in sorted(self.root.iterdir()):
                m = _NAME.match(p.name)
                if m and int(m.group(2)) > MAX_VERSION:
                    if m.group(3) == "json":
                        problems.append((p.name, f"version number out of range 1..{MAX_VERSION}"))
                    continue
                if m and m.group(3) != "json" and not p.with_suffix(".json").exists():
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                    removed.append(p.name)
            rows = {(r["model_type"], int(r["version"])) for r in
                    self.library.conn.execute("SELECT model_type, version FROM model_versions").fetchall()}
            for p in sorted(self.root.glob("*.json")):
                m = _NAME.match(p.name)
                if not m or int(m.group(2)) > MAX_VERSION or (m.group(1), int(m.group(2))) in rows:
                    continue
                mtype, n = m.group(1), int(m.group(2))
                pkg = p.with_suffix(".mlpackage")
                if not pkg.is_dir():
                    p.unlink()
                    p.with_suffix(".md").unlink(missing_ok=True)
                    removed.append(p.name)
                    continue
                doc, why = _read_doc(p, mtype, n)
                if doc is None:
                    problems.append((p.name, why))
                    continue
                self._insert(doc, activate=False)
                added.append(f"{mtype}_v{n}")
            for mtype, ver in sorted(rows):
                pkg = self._package_path(mtype, ver)
                if not (pkg / "Manifest.json").is_file() or not pkg.with_suffix(".json").is_file():
                    with self.library.store.transaction() as conn:
                        conn.execute("DELETE FROM model_versions WHERE model_type = ? AND version = ?", (mtype, ver))
                    dropped.append(f"{mtype}_v{ver}")
                    for leftover in (pkg.with_suffix(".json"), pkg.with_suffix(".md")):
                        if leftover.exists():
                            leftover.unlink()
                            removed.append(leftover.name)
                    if pkg.exists():
                        shutil.rmtree(pkg, ignore_errors=True)
                        removed.append(pkg.name)
        return CleanupReport(tuple(removed), tuple(added), tuple(dropped), tuple(problems))

    def problems(self) -> builtins.list[tuple[str, str]]:
        """``(file name, reason)`` for every file in ``models/`` that looks like a version but is not a
        valid one (listed, never used, never deleted)."""
        return list(self.cleanup().problems)
