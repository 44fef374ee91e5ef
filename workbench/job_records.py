"""The ``jobs`` table: one row per training job, its states, and the reaping of dead ones.

:class:`Job` is a row as stored (JSON columns decoded); :func:`create_job`, :func:`get_job`,
:func:`list_jobs` and :func:`reap_stale` read and write the rows; :func:`fingerprint` names a
training set; :func:`headline` shows a few metrics. The job's process id and start ticks
(:func:`process_start_ticks`) tell a live job from a dead one whose id was reused.
:class:`workbench.jobs.JobRunner` drives a job through its states; :mod:`workbench.jobs` is where
to import all of this from.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError, WorkbenchError
from workbench.fileio import jsonable, pid_alive
from workbench.runs import RUN_KINDS, flatten
from workbench.store import transaction, utc_now

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library

#: Job states, in the order a successful job passes through them.
JOB_STATES: tuple[str, ...] = ("pending", "preparing", "training", "evaluating", "completed", "failed")
#: States a job never leaves.
FINAL_STATES: frozenset[str] = frozenset({"completed", "failed"})
#: The error recorded for a job stopped with Ctrl-C.
INTERRUPTED = "KeyboardInterrupt: interrupted by the user"

#: The job's ``metrics`` key saying why its last epoch has no loss (``loss`` NULL): its batches mined no
#: triplet, so no loss was taken; shown in the loss column instead of a 0 that reads as a perfect fit.
NO_LOSS_KEY = "last_epoch_loss"
NO_TRIPLET = "no triplet mined"
#: The job's ``metrics`` key holding, where the last epoch took no loss, the last loss an epoch did take:
#: ``{"epoch": 7, "loss": 0.0421}`` (the loss column shows it with its epoch rather than no loss at all).
LAST_LOSS_KEY = "last_loss_taken"


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22), or None
    where that cannot be read (no such process, not Linux).

    Parameters
    ----------
    pid : int > 0
        Process id.

    Returns
    -------
    int or None
        Start time in clock ticks since boot; None when unreadable.
    """
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def job_process_alive(pid: int, start_ticks: int | None) -> bool:
    """Whether the process that ran a job still runs: ``pid`` is alive and, when the job recorded
    its start ticks, the process with that id started at the same tick (not a reused id).

    Parameters
    ----------
    pid : int > 0
        The job's recorded process id.
    start_ticks : int or None
        The job's recorded start ticks; None skips the reused-id check.
    """
    if not pid_alive(pid):
        return False
    if start_ticks is None:
        return True
    now = process_start_ticks(pid)
    return now is None or now == int(start_ticks)


class JobNotFoundError(WorkbenchError, LookupError):
    """No job in the library has the id given."""


@dataclass(frozen=True)
class Job:
    """One training job as the library stores it (JSON columns decoded; missing → empty).

    ``progress`` is the fraction of epochs done (0..1); ``epoch`` counts finished epochs
    (1-based); ``loss`` is the last epoch's training loss.
    """

    id: int
    kind: str
    state: str
    progress: float
    epoch: int | None
    total_epochs: int | None
    loss: float | None
    label_counts: dict[str, int]
    metrics: dict[str, Any]
    config: dict[str, Any]
    error: str | None
    run_id: str | None
    pid: int | None
    created_at: str
    started_at: str | None
    updated_at: str
    finished_at: str | None
    pid_start_ticks: int | None = None

    def __post_init__(self) -> None:
        if self.state not in JOB_STATES:
            raise ParameterError(f"state must be one of {JOB_STATES}; got {self.state!r}")
        if not 0.0 <= self.progress <= 1.0:
            raise ParameterError(f"progress must be in [0, 1]; got {self.progress!r}")

    @property
    def loss_text(self) -> str:
        """The last epoch's loss as shown: 4 decimals, what happened instead (e.g. "no triplet mined"), or ""."""
        return loss_text(self)

    @property
    def finished(self) -> bool:
        """Whether the job has ended (completed or failed)."""
        return self.state in FINAL_STATES

    @property
    def running(self) -> bool:
        """Whether the job has not ended yet (pending included)."""
        return not self.finished

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        """A job from a ``jobs`` row, its JSON columns decoded (empty ones as ``{}``).

        Parameters
        ----------
        row : sqlite3.Row
            A row of ``SELECT * FROM jobs``; columns the dataclass lacks are ignored.
        """
        keys = row.keys()
        values = {f.name: row[f.name] for f in fields(cls) if f.name in keys}
        for name in ("label_counts", "metrics", "config"):
            values[name] = json.loads(values[name]) if values[name] else {}
        return cls(**values)


def loss_text(job: Any) -> str:
    """A job's last epoch's loss as the tables and the job line show it.

    Parameters
    ----------
    job : Job or any object with ``loss`` (and optionally ``metrics``)

    Returns
    -------
    str
        4 decimals; where the last epoch took no loss, the last loss taken with its epoch and why
        (``"0.0421 (epoch 7; then no triplet mined)"``), else what happened instead (``metrics[NO_LOSS_KEY]``:
        "no triplet mined"); "" where nothing was recorded.
    """
    loss = getattr(job, "loss", None)
    if loss is not None:
        return f"{loss:.4f}"
    metrics = getattr(job, "metrics", None) or {}
    why = str(metrics.get(NO_LOSS_KEY) or "")
    taken = metrics.get(LAST_LOSS_KEY)
    if why and isinstance(taken, dict) and isinstance(taken.get("loss"), (int, float)):
        return f"{taken['loss']:.4f} (epoch {taken.get('epoch')}; then {why})"
    return why


def loss_epoch(job: Any) -> int | None:
    """The epoch whose loss :func:`loss_text` shows: the job's last epoch, an earlier one where the last took no
    loss (:data:`LAST_LOSS_KEY`), None where no loss was taken at all.

    Parameters
    ----------
    job : Job or any object with ``loss``, ``epoch`` (and optionally ``metrics``)
    """
    if getattr(job, "loss", None) is not None:
        return getattr(job, "epoch", None)
    taken = (getattr(job, "metrics", None) or {}).get(LAST_LOSS_KEY)
    return taken.get("epoch") if isinstance(taken, dict) else None


def _conn(library: Library | sqlite3.Connection) -> sqlite3.Connection:
    """The connection of a :class:`~workbench.library.Library` (or a connection itself)."""
    if isinstance(library, sqlite3.Connection):
        return library
    conn = getattr(library, "conn", None)
    if not isinstance(conn, sqlite3.Connection):
        raise ParameterError(f"library must be a workbench Library or a sqlite3 connection; got {library!r}")
    return conn


def _check_kind(kind: object) -> str:
    if kind not in RUN_KINDS:
        raise ParameterError(f"kind must be one of {RUN_KINDS}; got {kind!r}")
    return str(kind)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=jsonable, sort_keys=True)


_JSON_COLUMNS = ("label_counts", "metrics", "config")
_COLUMNS = frozenset(f.name for f in fields(Job)) - {"id", "created_at", "updated_at"}


def _update(conn: sqlite3.Connection, job_id: int, **values: Any) -> None:
    with transaction(conn):
        _update_sql(conn, job_id, **values)


def _update_sql(conn: sqlite3.Connection, job_id: int, **values: Any) -> None:
    """The UPDATE of :func:`_update`, inside the caller's transaction."""
    bad = set(values) - _COLUMNS
    if bad:
        raise ParameterError(f"unknown job columns {sorted(bad)}; allowed: {sorted(_COLUMNS)}")
    values = {k: (_dumps(v) if k in _JSON_COLUMNS else v) for k, v in values.items()}
    values["updated_at"] = utc_now()
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*values.values(), job_id))


def create_job(library: Library | sqlite3.Connection, kind: str, *, config: Mapping[str, Any] | None = None,
               label_counts: Mapping[str, int] | None = None) -> Job:
    """Add a pending job and return it. ``pid`` is this process (so a dead creator is reaped).

    Parameters
    ----------
    library : Library or sqlite3.Connection
        Where the job is recorded.
    kind : {"embeddings", "sections"}
        One of :data:`workbench.runs.RUN_KINDS`.
    config : mapping, optional
        The training hyperparameters, stored as JSON; None stores ``{}``.
    label_counts : mapping of str to int, optional
        Examples per class; None or empty stores nothing.

    Raises
    ------
    ParameterError
        ``kind`` unknown or ``config`` not a mapping.
    """
    kind = _check_kind(kind)
    if config is not None and not isinstance(config, Mapping):
        raise ParameterError(f"config must be a dict of hyperparameters or None; got {type(config).__name__}")
    conn = _conn(library)
    now = utc_now()
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO jobs (kind, state, progress, label_counts, config, pid, pid_start_ticks, created_at, "
            "updated_at) VALUES (?, 'pending', 0, ?, ?, ?, ?, ?, ?)",
            (kind, _dumps(dict(label_counts) if label_counts else None), _dumps(dict(config or {})),
             os.getpid(), process_start_ticks(os.getpid()), now, now))
        job_id = int(cur.lastrowid or 0)
    return get_job(conn, job_id)


def get_job(library: Library | sqlite3.Connection, job_id: int) -> Job:
    """The job with this id.

    Parameters
    ----------
    library : Library or sqlite3.Connection
        Where the job is recorded.
    job_id : int
        The job's id.

    Raises
    ------
    JobNotFoundError
        No such job.
    ParameterError
        ``job_id`` is not an int.
    """
    if not isinstance(job_id, int) or isinstance(job_id, bool):
        raise ParameterError(f"job_id must be an int; got {job_id!r}")
    row = _conn(library).execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFoundError(f"no job with id {job_id}")
    return Job.from_row(row)


def list_jobs(library: Library | sqlite3.Connection, *, limit: int | None = None, reap: bool = True) -> list[Job]:
    """Jobs, newest first (at most ``limit``); stale ones are marked failed first (``reap``).

    Parameters
    ----------
    library : Library or sqlite3.Connection
        Where the jobs are recorded.
    limit : int >= 1, optional
        Most jobs returned; None returns all.
    reap : bool
        Run :func:`reap_stale` first.

    Raises
    ------
    ParameterError
        ``limit`` is not an int >= 1 or None.
    """
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ParameterError(f"limit must be an int >= 1 or None; got {limit!r}")
    conn = _conn(library)
    if reap:
        reap_stale(conn)
    rows = conn.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit if limit else -1,)).fetchall()
    return [Job.from_row(r) for r in rows]


def reap_stale(library: Library | sqlite3.Connection) -> list[int]:
    """Mark as failed every unfinished job whose process is gone; return their ids.

    This is how a killed training process (SIGKILL, a crash of the kernel) ends as failed,
    with the error ``"killed: process <pid> is gone"``. A process id that is alive but now
    belongs to another process (its start ticks differ from the job's) counts as gone.

    Parameters
    ----------
    library : Library or sqlite3.Connection
        Where the jobs are recorded.

    Returns
    -------
    list of int
        Ids of the jobs just marked failed.
    """
    conn = _conn(library)
    rows = conn.execute(
        "SELECT id, pid, pid_start_ticks FROM jobs WHERE state NOT IN ('completed', 'failed') "
        "AND pid IS NOT NULL").fetchall()
    stale = [(int(r["id"]), int(r["pid"])) for r in rows
             if not job_process_alive(int(r["pid"]), r["pid_start_ticks"])]
    if not stale:
        return []
    now = utc_now()
    with transaction(conn):
        for job_id, pid in stale:
            conn.execute(
                "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ? "
                "WHERE id = ? AND state NOT IN ('completed', 'failed')",
                (f"killed: process {pid} is gone", now, now, job_id))
    return [job_id for job_id, _ in stale]


def fingerprint(tracks: Iterable[str], labels: Iterable[Sequence[Any]] = ()) -> str:
    """sha256 (hex) of a training set: its tracks' content hashes and its section labels.

    Parameters
    ----------
    tracks : iterable of str
        Content hashes of the tracks used.
    labels : iterable of (track_hash, label, start_s, end_s)
        The labels used; times are compared to the millisecond.

    The result does not depend on the order of either list.

    Raises
    ------
    ParameterError
        A hash is empty or not a string, a label is not a 4-tuple, or its times are not numbers.
    """
    hashes = []
    for h in tracks:
        if not isinstance(h, str) or not h:
            raise ParameterError(f"tracks must be non-empty content-hash strings; got {h!r}")
        hashes.append(h)
    items = []
    for item in labels:
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 4:
            raise ParameterError(f"labels must be (track_hash, label, start_s, end_s) tuples; got {item!r}")
        track_hash, label, start_s, end_s = item
        try:
            items.append([str(track_hash), str(label), round(float(start_s), 3), round(float(end_s), 3)])
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"label times start_s, end_s must be numbers (seconds); got {item!r}") from exc
    doc = {"tracks": sorted(hashes), "labels": sorted(items)}
    return hashlib.sha256(json.dumps(doc, separators=(",", ":")).encode()).hexdigest()


def error_message(exc: BaseException) -> str:
    """How a failed job records its reason: ``"<Type>: message"`` (Ctrl-C: :data:`INTERRUPTED`).

    Parameters
    ----------
    exc : BaseException
        The exception that ended the job.
    """
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


#: Metric names :func:`headline` shows first.
HEADLINE_METRICS: tuple[str, ...] = ("map_at_r", "precision_at_1", "accuracy", "macro_f1", "pairwise_f")


def headline(metrics: Mapping[str, Any], *, max_items: int = 4) -> str:
    """A few numeric metrics as ``"name=value"`` (nested keys dotted).

    Names in :data:`HEADLINE_METRICS` come first, then the ``model.*`` ones, then shallower ones.

    Parameters
    ----------
    metrics : mapping
        A run's metrics, possibly nested; non-numeric leaves and booleans are skipped.
    max_items : int
        Most metrics shown.
    """
    leaves = [(k, v) for k, v in flatten(metrics or {}, lists=False).items()
              if isinstance(v, (int, float)) and not isinstance(v, bool)]
    leaves.sort(key=lambda kv: (kv[0].rsplit(".", 1)[-1] not in HEADLINE_METRICS, not kv[0].startswith("model."),
                                kv[0].count(".")))
    shown, said = [], set()
    for k, v in leaves:  # an embeddings run records model.map_at_r and model.test.map_at_r alike: say it once
        group = "baseline" if k.startswith("baselines.backbone.") else k.split(".", 1)[0]  # baseline.*: the backbone too
        same = (group, k.rsplit(".", 1)[-1], v)
        if same not in said:
            said.add(same)
            shown.append(f"{k}={v:d}" if isinstance(v, int) else f"{k}={v:.4f}")  # a count whole; a score 4 decimals
    return "  ".join(shown[:max_items])


# -- what a training job records about its backbone and its tracks --------------------------


def _backbone_info(backbone: Backbone) -> dict[str, Any]:
    return {"name": str(backbone.name), "settings": dict(getattr(backbone, "settings", None) or {}),
            "dim": int(backbone.dim)}


def _track_docs(library: Library, track_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    docs = {}
    for tid in sorted({int(t) for t in track_ids}):
        t = library.track(tid)
        docs[tid] = {"id": t.id, "content_hash": t.content_hash, "name": t.name, "duration_s": t.duration_s}
    return docs
