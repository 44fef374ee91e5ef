"""Training jobs: every training run is a row of the ``jobs`` table, followed live.

A job moves through ``pending → preparing → training → evaluating → completed``, or ends as
``failed`` with its reason from any state. While it trains, each epoch updates its progress
(0..1), epoch, total epochs and loss in the database (at most a few writes a second), so a
notebook widget (:class:`workbench.widgets.jobs.JobsWidget`) or ``workbench jobs`` in another
process can follow it; a ``tqdm.auto`` bar shows the epochs where it runs.

A finished job writes its run folder ``experiments/<run_id>/`` (:mod:`workbench.runs`) whole
or not at all, and is marked completed with its ``run_id`` and metrics in the same step: the
folder is renamed into place inside the database transaction that completes the job, so a
kill before the rename leaves no run, and a kill between the rename and the commit leaves a
run whose job is not completed, which export refuses (:func:`workbench.export.not_exportable_reason`).
The job records its process id and the process's start time (``/proc/<pid>/stat`` start
ticks), so a reused process id does not keep a dead job "training". A job that
is interrupted (Ctrl-C, an exception) is marked failed with the reason
(``"KeyboardInterrupt: interrupted by the user"``, ``"<Type>: message"``) and the error is
raised again; a killed process cannot mark anything, so :func:`reap_stale` (run by
:func:`list_jobs` and before every new job) marks a job whose process is gone as failed
(``"killed: process <pid> is gone"``). Either way there is no run folder (the temporary folder
of a killed writer is removed by the next :func:`workbench.runs.list_runs`).

>>> with Library() as lib:                                              # doctest: +SKIP
...     job, run_path = run_job(lib, "sections", train_fn, config={"epochs": 20, "seed": 0},
...                             data_info={"tracks": tracks, "labels": labels})
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol

from workbench.errors import ParameterError, WorkbenchError
from workbench.fileio import jsonable, pid_alive  # noqa: F401  (pid_alive re-exported)
from workbench.runs import RUN_KINDS, code_version, flatten, new_run_id, write_run
from workbench.store import transaction, utc_now

#: Job states, in the order a successful job passes through them.
JOB_STATES: tuple[str, ...] = ("pending", "preparing", "training", "evaluating", "completed", "failed")
#: States a job never leaves.
FINAL_STATES: frozenset[str] = frozenset({"completed", "failed"})
#: The error recorded for a job stopped with Ctrl-C.
INTERRUPTED = "KeyboardInterrupt: interrupted by the user"

OnEpoch = Callable[[int, int, dict], None]
#: Environment hook for tests: pause (sleep) at a named step of :meth:`JobRunner.finish`.
PAUSE_ENV = "WORKBENCH_JOBS_PAUSE_AT"
PAUSE_POINTS = ("run-renamed",)


def _pause(point: str) -> None:
    """Test hook: with ``$WORKBENCH_JOBS_PAUSE_AT=<point>``, announce and sleep (to be killed)."""
    if os.environ.get(PAUSE_ENV) == point:
        print(f"PAUSED {point}", flush=True)
        time.sleep(float(os.environ.get("WORKBENCH_JOBS_PAUSE_S", "60")))


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22), or None
    where that cannot be read (no such process, not Linux)."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def job_process_alive(pid: int, start_ticks: int | None) -> bool:
    """Whether the process that ran a job still runs: ``pid`` is alive and, when the job recorded
    its start ticks, the process with that id started at the same tick (not a reused id)."""
    if not pid_alive(pid):
        return False
    if start_ticks is None:
        return True
    now = process_start_ticks(pid)
    return now is None or now == int(start_ticks)


class JobNotFoundError(WorkbenchError, LookupError):
    """No job in the library has the id given."""


class TrainResult(Protocol):
    """What a training function returns (``TripletResult``, ``SectionResult``)."""

    model: Any
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    config: dict[str, Any]


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
    def finished(self) -> bool:
        """Whether the job has ended (completed or failed)."""
        return self.state in FINAL_STATES

    @property
    def running(self) -> bool:
        """Whether the job has not ended yet (pending included)."""
        return not self.finished

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        keys = row.keys()
        values = {f.name: row[f.name] for f in fields(cls) if f.name in keys}
        for name in ("label_counts", "metrics", "config"):
            values[name] = json.loads(values[name]) if values[name] else {}
        return cls(**values)


def _conn(library: Any) -> sqlite3.Connection:
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


def create_job(library: Any, kind: str, *, config: Mapping[str, Any] | None = None,
               label_counts: Mapping[str, int] | None = None) -> Job:
    """Add a pending job and return it. ``pid`` is this process (so a dead creator is reaped)."""
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


def get_job(library: Any, job_id: int) -> Job:
    """The job with this id.

    Raises
    ------
    JobNotFoundError
        No such job.
    """
    if not isinstance(job_id, int) or isinstance(job_id, bool):
        raise ParameterError(f"job_id must be an int; got {job_id!r}")
    row = _conn(library).execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFoundError(f"no job with id {job_id}")
    return Job.from_row(row)


def list_jobs(library: Any, *, limit: int | None = None, reap: bool = True) -> list[Job]:
    """Jobs, newest first (at most ``limit``); stale ones are marked failed first (``reap``)."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ParameterError(f"limit must be an int >= 1 or None; got {limit!r}")
    conn = _conn(library)
    if reap:
        reap_stale(conn)
    rows = conn.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit if limit else -1,)).fetchall()
    return [Job.from_row(r) for r in rows]


def reap_stale(library: Any) -> list[int]:
    """Mark as failed every unfinished job whose process is gone; return their ids.

    This is how a killed training process (SIGKILL, a crash of the kernel) ends as failed,
    with the error ``"killed: process <pid> is gone"``. A process id that is alive but now
    belongs to another process (its start ticks differ from the job's) counts as gone.
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
    """How a failed job records its reason: ``"<Type>: message"`` (Ctrl-C: :data:`INTERRUPTED`)."""
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobRunner:
    """Run one training job: a context manager that records its life in the ``jobs`` table.

    Entering creates the job and moves it to ``preparing``; :meth:`training` marks the start of
    training, :meth:`on_epoch` is the callback for the training function, :meth:`finish` writes
    the run folder and completes the job. Leaving the block on an exception (Ctrl-C included)
    marks the job failed and lets the exception go on; leaving it without :meth:`finish`
    also fails it.

    Parameters
    ----------
    library : Library
        Where the job is recorded.
    kind : {"embeddings", "sections"}
    config : dict
        The training hyperparameters (``seed`` goes into ``run.json``).
    label_counts : dict, optional
        Examples per class, shown with the job.
    backbone : dict, optional
        ``{name, settings, dim}`` of the embedding backbone, written to ``run.json``.
    experiments_root : path, optional
        The ``experiments/`` folder (default :func:`workbench.config.experiments_dir`).
    progress : bool
        Show a ``tqdm.auto`` bar of the epochs.
    min_interval_s : float >= 0
        Least time between two progress writes to the database (seconds).
    on_state : callable(Job), optional
        Called after each change of state (for tests and live displays).
    """

    def __init__(self, library: Any, kind: str, *, config: Mapping[str, Any] | None = None,
                 label_counts: Mapping[str, int] | None = None, backbone: Mapping[str, Any] | None = None,
                 experiments_root: str | os.PathLike[str] | None = None, progress: bool = True,
                 min_interval_s: float = 0.2, on_state: Callable[[Job], None] | None = None) -> None:
        self.library = library
        self.kind = _check_kind(kind)
        self.config = dict(config or {})
        self.label_counts = dict(label_counts) if label_counts else None
        self.backbone = dict(backbone) if backbone else None
        self.experiments_root = experiments_root
        self.progress = progress
        if not isinstance(min_interval_s, (int, float)) or min_interval_s < 0:
            raise ParameterError(f"min_interval_s must be a float >= 0 (seconds); got {min_interval_s!r}")
        self.min_interval_s = float(min_interval_s)
        self.on_state = on_state
        self.job_id: int | None = None
        self.run_path: Path | None = None
        self._data: dict[str, Any] = {}
        self._state = "pending"
        self._bar: Any = None
        self._last_write = 0.0
        self._pending: dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> JobRunner:
        conn = _conn(self.library)
        reap_stale(conn)
        self.job_id = create_job(conn, self.kind, config=self.config, label_counts=self.label_counts).id
        try:
            self._notify()
            self._set_state("preparing", pid=os.getpid(), pid_start_ticks=process_start_ticks(os.getpid()),
                            started_at=utc_now())
        except BaseException as exc:  # __exit__ will not run: record the failure here
            self._fail(exc)
            raise
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> Literal[False]:
        self._close_bar()
        if self._state in FINAL_STATES:
            return False
        if exc is None:
            exc = RuntimeError("the job ended before its run was written (finish() was not called)")
        self._fail(exc)
        return False

    @property
    def job(self) -> Job:
        """The job as stored now."""
        if self.job_id is None:
            raise WorkbenchError("the job has not started: use JobRunner as a context manager")
        return get_job(self.library, self.job_id)

    def set_data(self, data_info: Mapping[str, Any], *, label_counts: Mapping[str, int] | None = None) -> None:
        """What the job trains on, for ``data.json``.

        ``data_info`` may hold ``tracks`` ([{id, content_hash, name}], :class:`~workbench.library.Track`
        objects or content-hash strings),
        ``labels`` ([(track_hash, label, start_s, end_s)], used for the fingerprint and not
        stored), ``label_counts``, ``splits`` and anything else JSON can hold. The
        ``fingerprint`` is computed unless given.
        """
        if not isinstance(data_info, Mapping):
            raise ParameterError(f"data_info must be a dict; got {type(data_info).__name__}")
        data = dict(data_info)
        labels = list(data.pop("labels", None) or [])
        tracks = [t if isinstance(t, (str, Mapping)) else {"id": t.id, "content_hash": t.content_hash, "name": t.name}
                  for t in data.get("tracks") or []]
        data["tracks"] = tracks
        hashes = [t if isinstance(t, str) else t["content_hash"] for t in tracks]
        data.setdefault("fingerprint", fingerprint(hashes, labels))
        data.setdefault("n_labels", len(labels))
        counts = label_counts if label_counts is not None else data.get("label_counts")
        if counts:
            self.label_counts = {str(k): int(v) for k, v in dict(counts).items()}
            data["label_counts"] = self.label_counts
            self._update(label_counts=self.label_counts)
        self._data = data

    def training(self, *, total_epochs: int | None = None) -> None:
        """Mark the start of training (``total_epochs`` when known)."""
        extra = {"total_epochs": int(total_epochs)} if total_epochs else {}
        self._set_state("training", **extra)

    def on_epoch(self, epoch: int, total_epochs: int, record: Mapping[str, Any]) -> None:
        """The training function's callback after each epoch (``epoch`` counts from 1)."""
        if self.job_id is None:
            raise WorkbenchError("the job has not started: use JobRunner as a context manager")
        if self._state == "preparing":
            self.training(total_epochs=total_epochs)
        epoch, total = int(epoch), max(int(total_epochs), 1)
        loss = record.get("train_loss", record.get("loss")) if isinstance(record, Mapping) else None
        loss = float(loss) if isinstance(loss, (int, float)) and math.isfinite(loss) else None
        self._pending = {"epoch": epoch, "total_epochs": total, "progress": min(max(epoch / total, 0.0), 1.0),
                         "loss": loss}
        self._advance_bar(epoch, total, loss)
        now = time.monotonic()
        if epoch >= total or now - self._last_write >= self.min_interval_s:
            self._flush()
        if epoch >= total:
            self._set_state("evaluating")

    def finish(self, result: TrainResult, *, data_info: Mapping[str, Any] | None = None,
               config: Mapping[str, Any] | None = None, arrays: Mapping[str, Any] | None = None,
               save_model: Callable[[Path], None] | None = None) -> Path:
        """Write the run folder (with ``model.pt``) and mark the job completed; return the folder.

        ``config`` (default ``result.config``) goes to ``config.json``; ``arrays`` (default
        ``result.arrays``) to ``arrays.npz``; ``data_info`` replaces what :meth:`set_data` gave;
        ``save_model(path)`` writes ``model.pt`` (default
        :func:`~workbench.models.heads.save_checkpoint` of ``result.model``).
        """
        if self.job_id is None:
            raise WorkbenchError("the job has not started: use JobRunner as a context manager")
        if data_info is not None:
            self.set_data(data_info)
        if self._state != "evaluating":
            self._set_state("evaluating")
        for name in ("model", "history", "metrics"):
            if not hasattr(result, name):
                raise ParameterError(f"result must have .model, .history and .metrics; {type(result).__name__} "
                                     f"has no .{name}")
        model = result.model
        cfg = dict(config if config is not None else (getattr(result, "config", None) or self.config))
        job = self.job
        run_id = new_run_id(self.kind)
        info = {"kind": self.kind, "created_at": job.started_at or job.created_at, "finished_at": utc_now(),
                "job_id": job.id, "seed": cfg.get("seed", self.config.get("seed")),
                "code_version": code_version(), "backbone": self.backbone}

        def write_model(folder: Path) -> None:
            if save_model is not None:
                save_model(folder / "model.pt")
            elif model is not None:
                from workbench.models.heads import save_checkpoint

                save_checkpoint(model, folder / "model.pt")

        metrics = json.loads(_dumps(dict(result.metrics)) or "{}")
        conn = _conn(self.library)
        done = {**self._pending, "state": "completed", "progress": 1.0, "run_id": run_id, "metrics": metrics,
                "error": None}

        @contextlib.contextmanager
        def commit() -> Any:
            # the job is completed in the transaction the run folder is renamed in: the rename
            # happens only once the update went through, the update is committed only after it
            with transaction(conn):
                _update_sql(conn, job.id, **done, finished_at=utc_now())
                yield
                _pause("run-renamed")

        root = self._experiments_root()
        try:
            self.run_path = write_run(
                run_id, info=info, config_=cfg, data=self._data, history=list(result.history), metrics=metrics,
                arrays=dict(arrays if arrays is not None else (getattr(result, "arrays", None) or {})) or None,
                timeline=getattr(result, "timeline", None), extra=write_model, root=root, commit=commit)
        except BaseException:  # the job is not completed: its run must not stay either
            final = Path(root) / run_id if root is not None else None
            if final is not None and final.exists() and self.job.state != "completed":
                shutil.rmtree(final, ignore_errors=True)
            self.run_path = None
            raise
        self._pending = {}
        self._state = "completed"
        self._notify()
        return self.run_path

    # -- internals -------------------------------------------------------------------------
    def _experiments_root(self) -> Any:
        """``experiments_root``, else the library's workspace's ``experiments/``."""
        if self.experiments_root is not None:
            return self.experiments_root
        workspace = getattr(self.library, "workspace", None)
        return workspace.experiments if workspace is not None else None

    def _update(self, **values: Any) -> None:
        if self.job_id is None:
            raise WorkbenchError("the job has not started: use JobRunner as a context manager")
        _update(_conn(self.library), self.job_id, **values)

    def _flush(self) -> None:
        if self._pending:
            self._update(**self._pending)
            self._pending = {}
            self._last_write = time.monotonic()

    def _set_state(self, state: str, **values: Any) -> None:
        self._update(state=state, **self._pending, **values)
        self._pending = {}
        self._last_write = time.monotonic()
        self._state = state
        self._notify()

    def _notify(self) -> None:
        if self.on_state is not None:
            self.on_state(self.job)

    def _fail(self, exc: BaseException) -> None:
        try:
            self._set_state("failed", error=error_message(exc), finished_at=utc_now())
        except Exception as db_exc:  # never hide the original error behind a bookkeeping one
            import warnings

            warnings.warn(f"job {self.job_id}: could not record the failure ({db_exc})", RuntimeWarning,
                          stacklevel=3)

    def _advance_bar(self, epoch: int, total: int, loss: float | None) -> None:
        if not self.progress:
            return
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=f"{self.kind} job {self.job_id}", unit="epoch")
        self._bar.total = total
        self._bar.n = min(epoch, total)
        if loss is not None:
            self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self._bar.refresh()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_job(library: Any, kind: str, train_fn: Callable[[OnEpoch], TrainResult], *,
            config: Mapping[str, Any] | None = None, data_info: Mapping[str, Any] | None = None,
            label_counts: Mapping[str, int] | None = None, backbone: Mapping[str, Any] | None = None,
            experiments_root: str | os.PathLike[str] | None = None, progress: bool = True,
            on_state: Callable[[Job], None] | None = None) -> tuple[Job, Path]:
    """Run ``train_fn(on_epoch)`` as a job; return the completed job and its run folder.

    ``train_fn`` gets the epoch callback ``on_epoch(epoch, total_epochs, record)`` and returns
    a result with ``.model``, ``.history``, ``.metrics``, ``.config`` (and optionally
    ``.arrays``, ``.timeline``). See :class:`JobRunner` for the other parameters.

    Raises
    ------
    BaseException
        Whatever ``train_fn`` raised (the job is then failed and no run folder exists).
    """
    runner = JobRunner(library, kind, config=config, label_counts=label_counts, backbone=backbone,
                       experiments_root=experiments_root, progress=progress, on_state=on_state)
    with runner:
        runner.set_data(data_info or {}, label_counts=label_counts)
        runner.training(total_epochs=(config or {}).get("epochs"))
        result = train_fn(runner.on_epoch)
        path = runner.finish(result)
    return runner.job, path


#: Metric names :func:`headline` shows first.
HEADLINE_METRICS: tuple[str, ...] = ("map_at_r", "precision_at_1", "accuracy", "macro_f1", "pairwise_f")


def headline(metrics: Mapping[str, Any], *, max_items: int = 4) -> str:
    """A few numeric metrics as ``"name=value"`` (nested keys dotted).

    Names in :data:`HEADLINE_METRICS` come first, then the ``model.*`` ones, then shallower ones.
    """
    leaves = [(k, float(v)) for k, v in flatten(metrics or {}, lists=False).items()
              if isinstance(v, (int, float)) and not isinstance(v, bool)]
    leaves.sort(key=lambda kv: (kv[0].rsplit(".", 1)[-1] not in HEADLINE_METRICS, not kv[0].startswith("model."),
                                kv[0].count(".")))
    return "  ".join(f"{k}={v:.4g}" for k, v in leaves[:max_items])


# -- the two training jobs ------------------------------------------------------------------

#: Data settings of :func:`train_embeddings_job` (the rest of its config is a ``TripletConfig``).
EMBEDDING_DATA_DEFAULTS: dict[str, Any] = {"classes_from": "auto", "window_s": 8.0, "n_views": 0,
                                           "test_size": 0.2, "val_size": 0.2, "by_artist": False,
                                           "invariance_clips": 4}


def _backbone_info(backbone: Any) -> dict[str, Any]:
    return {"name": str(backbone.name), "settings": dict(getattr(backbone, "settings", None) or {}),
            "dim": int(backbone.dim)}


def _track_docs(library: Any, track_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    docs = {}
    for tid in sorted({int(t) for t in track_ids}):
        t = library.track(tid)
        docs[tid] = {"id": t.id, "content_hash": t.content_hash, "name": t.name, "duration_s": t.duration_s}
    return docs


def train_embeddings_job(library: Any, *, config: Mapping[str, Any] | None = None, backbone: Any = None,
                         tracks: Iterable[Any] | None = None, experiments_root: str | os.PathLike[str] | None = None,
                         progress: bool = True, on_state: Callable[[Job], None] | None = None) -> tuple[Job, Path]:
    """Triplet fine-tuning of the embedding head, as a job; return the completed job and its run folder.

    Every track (or ``tracks``) is cut into windows of ``window_s`` seconds of pooled frame
    embeddings (:func:`workbench.train.datasets.section_windows`), classed by ``classes_from``
    (:func:`workbench.train.classes.resolve_classes`; default ``"auto"``: the user's crates, else
    the sub-folders, else self-supervised with each track its own class and one augmented view),
    and split by track into train / validation / test, holding out at least two tracks of every
    class that can spare them (by artist too with ``by_artist``).

    ``metrics.json`` holds ``model`` (test tracks' ``map_at_r``, ``precision_at_1``,
    ``precision_at_5``, ..., a query never matching its own track; ``val`` and ``test`` in full),
    ``baselines`` (``backbone``: the untrained backbone's vectors; ``random_head``: the head's
    architecture with the seed's random weights; same keys, same queries) and ``held_out``
    (``track_hashes``). ``data.json`` records ``class_source`` (source, tracks per class).

    Parameters
    ----------
    config : dict, optional
        Keys of :class:`~workbench.train.triplet.TripletConfig` (``epochs`` is ``max_epochs``;
        ``batch_size`` defaults to ``m`` x the number of classes, at most 64) and of
        :data:`EMBEDDING_DATA_DEFAULTS`.
    backbone : Backbone, optional
        Default the feature frontend (``features-v1``).
    progress : bool
        Bars for embedding and for the epochs.

    Raises
    ------
    ParameterError
        An unknown config key (before any job is created).
    NotEnoughClassesError
        No class source gives two classes of two tracks (``self``: two tracks); the job is failed
        with the message, which names the options.
    """
    from workbench.train.triplet import TripletConfig

    cfg = dict(config or {})
    if "epochs" in cfg:
        cfg["max_epochs"] = cfg.pop("epochs")
    data_cfg = {k: cfg.pop(k, v) for k, v in EMBEDDING_DATA_DEFAULTS.items()}
    known = sorted(f.name for f in fields(TripletConfig))
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise ParameterError(f"config keys must be among {sorted([*known, *EMBEDDING_DATA_DEFAULTS, 'epochs'])}; "
                             f"got unknown {unknown}")
    runner = JobRunner(library, "embeddings", config={**data_cfg, **cfg}, experiments_root=experiments_root,
                       progress=False, on_state=on_state)
    with runner:
        path = _embeddings_in_job(runner, library, cfg, data_cfg, backbone=backbone, tracks=tracks,
                                  progress=progress)
    return runner.job, path


def _embedding_split(data: Any, *, test_size: float, val_size: float, seed: int,
                     by_artist: bool) -> tuple[Any, Any, Any]:
    """(train, val, test): whole tracks held out, two or more per class where a class can spare them."""
    from workbench.train.splits import per_class_split

    if not (0 < test_size < 1 and 0 < val_size < 1 and test_size + val_size < 1):
        raise ParameterError(f"test_size and val_size must be fractions in (0, 1) summing below 1; "
                             f"got test_size={test_size!r}, val_size={val_size!r}")

    def split(part: Any, size: float) -> tuple[Any, Any]:
        found = None if by_artist else per_class_split(part.track_ids, part.y, test_size=size, seed=seed)
        if found is None:
            return part.split(test_size=size, seed=seed, by_artist=by_artist,
                              stratify=len(set(part.y.tolist())) < len(set(part.track_ids.tolist())))
        return part.subset(found[0]), part.subset(found[1])

    rest, test = split(data, test_size)
    train, val = split(rest, val_size / (1 - test_size))
    return train, val, test


def _embeddings_in_job(runner: JobRunner, library: Any, cfg: dict[str, Any], data_cfg: dict[str, Any], *,
                       backbone: Any, tracks: Iterable[Any] | None, progress: bool) -> Path:
    import numpy as np

    from workbench.embed.features import FeatureFrontend
    from workbench.train import datasets as ds
    from workbench.train.classes import resolve_classes
    from workbench.train.triplet import TripletConfig, embed, train_triplet

    b = backbone if backbone is not None else FeatureFrontend()
    runner.backbone = _backbone_info(b)
    seed = int(cfg.get("seed", 0))
    selected = list(library.tracks() if tracks is None else tracks)
    choice = resolve_classes(library, selected, data_cfg["classes_from"])
    n_views = int(data_cfg["n_views"])
    if choice.source == "self" and n_views < 1:  # each track its own class: its augmented view is a positive
        n_views = 1
    kept = [t for t in selected if t.id in choice.classes]
    data = ds.section_windows(library, ds.whole_tracks(library, kept), backbone=b, window_s=data_cfg["window_s"],
                              classes_from=choice.classes, n_views=n_views, seed=seed, progress=progress)
    if len(data) == 0:
        raise ParameterError(f"no training windows: none of the {len(kept)} tracks with a class "
                             f"({choice.summary()}) could be embedded")
    by_artist = bool(data_cfg["by_artist"])
    train, val, test = _embedding_split(data, test_size=float(data_cfg["test_size"]),
                                        val_size=float(data_cfg["val_size"]), seed=seed, by_artist=by_artist)
    m = cfg.get("m", 4)
    if isinstance(m, int) and "batch_size" not in cfg:  # m rows of each class that has m rows, 2..16 classes
        full = int((np.bincount(train.y) >= m).sum())
        cfg["batch_size"] = m * min(64 // m, max(2, full)) if m <= 32 else m
    tcfg = TripletConfig(**cfg)
    docs = _track_docs(library, data.track_ids)
    class_of_track = {int(t): data.classes[int(c)] for t, c in zip(data.track_ids, data.y, strict=True)}
    splits = {name: sorted({int(t) for t in part.track_ids}) for name, part in
              (("train", train), ("val", val), ("test", test))}
    runner.set_data({
        "tracks": [{k: d[k] for k in ("id", "content_hash", "name")} for d in docs.values()],
        "labels": [(d["content_hash"], class_of_track[tid], 0.0, d["duration_s"]) for tid, d in docs.items()],
        "label_counts": data.class_counts(), "splits": splits,
        "rows": {"train": len(train), "val": len(val), "test": len(test)},
        "classes_from": choice.source, "class_source": choice.to_dict(),
        "window_s": data_cfg["window_s"], "n_views": n_views,
    })
    runner.training(total_epochs=tcfg.max_epochs)
    # augmented views train the head; validation and test score the original audio only
    val, test = val.originals(), test.originals()
    result = train_triplet(train, val, test=test, config=tcfg, on_epoch=runner.on_epoch, progress=progress)
    arrays = {"embeddings": embed(result.model, test.X), "classes": np.asarray([test.classes[i] for i in test.y]),
              "track_ids": test.track_ids, "start_s": test.rows["start_s"]}
    _contract_metrics(result.metrics, sorted(docs[t]["content_hash"] for t in splits["test"]), choice.source)
    if data_cfg.get("invariance_clips", 4):
        result.metrics.update(embedding_invariance(library, result.model, b, splits["test"],
                                                   n_clips=int(data_cfg.get("invariance_clips", 4)),
                                                   clip_s=float(data_cfg["window_s"])))
    return runner.finish(result, config={**data_cfg, "n_views": n_views, **result.config}, arrays=arrays)


def _contract_metrics(metrics: dict[str, Any], test_hashes: list[str], source: str) -> None:
    """Flat headline keys for the test tracks under ``model`` and ``baselines`` (the run contract), in place."""
    model = metrics.setdefault("model", {})
    model.update({k: v for k, v in (model.get("test") or {}).items() if k not in model})
    metrics["baselines"] = {name: dict((metrics.get(legacy) or {}).get("test") or {})
                            for name, legacy in (("backbone", "baseline"), ("random_head", "untrained_head"))}
    metrics["held_out"] = {"track_hashes": test_hashes}
    if source == "self":
        metrics["note"] = ("self-supervised (each track its own class): no held-out query has a relevant item on "
                           "another track, so the retrieval metrics are not measurable (NaN); put tracks in "
                           "crates or sub-folders to measure them")


def embedding_invariance(library: Any, model: Any, backbone: Any, track_ids: Sequence[int], *, n_clips: int = 4,
                         clip_s: float = 8.0) -> dict[str, Any]:
    """Cosine similarity of embeddings under pitch, stretch and gain, for the head and the bare backbone.

    Clips of ``clip_s`` seconds from the middle of up to ``n_clips`` (held-out) tracks, embedded by
    the backbone, mean-pooled, and (for the head) passed through ``model``. Returns
    ``{"invariance": {aug: {strength: cos}}, "invariance_backbone": {...}}``
    (see :func:`workbench.evaluate.invariance`).
    """
    from workbench import audio
    from workbench.embed.features import pool
    from workbench.evaluate import invariance
    from workbench.train.triplet import embed

    clips, sr = [], 22050
    for tid in list(track_ids)[:n_clips]:
        y, _ = audio.load(library.track(int(tid)).path, sr=sr, mono=True)
        n = min(len(y), int(clip_s * sr))
        start = max(0, len(y) // 2 - n // 2)
        clips.append(y[start:start + n])
    if not clips:
        return {}

    def backbone_vector(y: Any) -> Any:
        frames, _ = backbone.embed(y, sr=sr)
        return pool(frames, with_std=False)

    def head_vector(y: Any) -> Any:
        return embed(model, backbone_vector(y)[None, :])[0]

    return {"invariance": invariance(head_vector, clips, sr=sr),
            "invariance_backbone": invariance(backbone_vector, clips, sr=sr)}


def train_sections_job(library: Any, **options: Any) -> tuple[Job, Path]:
    """Train the DJ-section classifier as a job: :func:`workbench.train.sections.train_sections_job`."""
    from workbench.train.sections.job import train_sections_job as run

    return run(library, **options)
