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
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from workbench.errors import ParameterError, WorkbenchError
from workbench.fileio import jsonable, pid_alive  # noqa: F401  (re-exported)
from workbench.job_records import (  # noqa: F401  (the job system's names, re-exported; private ones for tests)
    _COLUMNS,
    _JSON_COLUMNS,
    FINAL_STATES,
    HEADLINE_METRICS,
    INTERRUPTED,
    JOB_STATES,
    LAST_LOSS_KEY,
    NO_LOSS_KEY,
    NO_TRIPLET,
    Job,
    JobNotFoundError,
    _backbone_info,
    _check_kind,
    _conn,
    _dumps,
    _track_docs,
    _update,
    _update_sql,
    create_job,
    error_message,
    fingerprint,
    get_job,
    headline,
    job_process_alive,
    list_jobs,
    process_start_ticks,
    reap_stale,
)
from workbench.runs import code_version, new_run_id, write_run
from workbench.store import transaction, utc_now

if TYPE_CHECKING:
    from workbench.library import Library

OnEpoch = Callable[[int, int, dict], None]
#: Environment hook for tests: pause (sleep) at a named step of :meth:`JobRunner.finish`.
PAUSE_ENV = "WORKBENCH_JOBS_PAUSE_AT"
PAUSE_POINTS = ("run-renamed",)


def _pause(point: str) -> None:
    """Test hook: with ``$WORKBENCH_JOBS_PAUSE_AT=<point>``, announce and sleep (to be killed)."""
    if os.environ.get(PAUSE_ENV) == point:
        print(f"PAUSED {point}", flush=True)
        time.sleep(float(os.environ.get("WORKBENCH_JOBS_PAUSE_S", "60")))


class TrainResult(Protocol):
    """What a training function returns (``TripletResult``, ``SectionResult``)."""

    model: Any
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    config: dict[str, Any]


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

    def __init__(self, library: Library, kind: str, *, config: Mapping[str, Any] | None = None,
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
        self._no_loss: str | None = None  # why the last epoch has no loss (e.g. no triplet mined)
        self._last_loss: dict[str, Any] | None = None  # the last loss an epoch took: {"epoch", "loss"}

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

        Parameters
        ----------
        data_info : mapping
            What the job trains on, as above.
        label_counts : mapping of str to int, optional
            Examples per class; None takes ``data_info["label_counts"]`` if any.

        Raises
        ------
        ParameterError
            ``data_info`` is not a mapping.
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
        """Mark the start of training (``total_epochs`` when known).

        Parameters
        ----------
        total_epochs : int, optional
            Epochs planned; None or 0 records none.
        """
        extra = {"total_epochs": int(total_epochs)} if total_epochs else {}
        self._set_state("training", **extra)

    def on_epoch(self, epoch: int, total_epochs: int, record: Mapping[str, Any]) -> None:
        """The training function's callback after each epoch (``epoch`` counts from 1).

        Parameters
        ----------
        epoch : int >= 1
            The epoch just done.
        total_epochs : int
            Epochs planned (at least 1 is assumed).
        record : mapping
            The epoch's history record; its ``train_loss`` (or ``loss``) is shown when finite.

        Raises
        ------
        WorkbenchError
            The runner was not entered.
        """
        if self.job_id is None:
            raise WorkbenchError("the job has not started: use JobRunner as a context manager")
        if self._state == "preparing":
            self.training(total_epochs=total_epochs)
        epoch, total = int(epoch), max(int(total_epochs), 1)
        loss = record.get("train_loss", record.get("loss")) if isinstance(record, Mapping) else None
        loss = float(loss) if isinstance(loss, (int, float)) and math.isfinite(loss) else None
        self._no_loss = NO_TRIPLET if loss is None and isinstance(record, Mapping) and \
            record.get("mined_triplets") == 0 else None  # no triplet, no loss: said, never a 0
        if loss is not None:
            self._last_loss = {"epoch": epoch, "loss": loss}
        self._pending = {"epoch": epoch, "total_epochs": total, "progress": min(max(epoch / total, 0.0), 1.0),
                         "loss": loss, "metrics": self._no_loss_metrics()}
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

        Parameters
        ----------
        result : TrainResult
            What the training function returned.
        data_info : mapping, optional
            Passed to :meth:`set_data` first when given.
        config : mapping, optional
            Hyperparameters for ``config.json``; None takes ``result.config`` (else the runner's).
        arrays : mapping of str to np.ndarray, optional
            Arrays for ``arrays.npz``; None takes ``result.arrays``.
        save_model : callable(Path), optional
            Writes ``model.pt`` at the path given.

        Raises
        ------
        WorkbenchError
            The runner was not entered.
        ParameterError
            ``result`` lacks ``.model``, ``.history`` or ``.metrics``.
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
            """Write ``model.pt`` into the run folder.

            Parameters
            ----------
            folder : Path
                The run folder being written.
            """
            if save_model is not None:
                save_model(folder / "model.pt")
            elif model is not None:
                from workbench.models.heads import save_checkpoint

                save_checkpoint(model, folder / "model.pt")

        metrics = json.loads(_dumps(dict(result.metrics)) or "{}")
        conn = _conn(self.library)
        no_loss = self._no_loss_metrics()  # the job's, not the run's
        done = {**self._pending, "state": "completed", "progress": 1.0, "run_id": run_id,
                "metrics": {**metrics, **no_loss},
                "error": None}

        @contextlib.contextmanager
        def commit() -> Iterator[None]:
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
    def _experiments_root(self) -> str | os.PathLike[str] | None:
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

    def _no_loss_metrics(self) -> dict[str, Any]:
        """The job's metrics saying why its last epoch took no loss, and the last loss an epoch took ({} when it took one)."""
        if not self._no_loss:
            return {}
        return {NO_LOSS_KEY: self._no_loss, **({LAST_LOSS_KEY: self._last_loss} if self._last_loss else {})}

    def _advance_bar(self, epoch: int, total: int, loss: float | None) -> None:
        if not self.progress:
            return
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=f"{self.kind} job {self.job_id}", unit="epoch")
        self._bar.total = total
        self._bar.n = min(epoch, total)
        if loss is not None or self._no_loss:
            self._bar.set_postfix(loss=f"{loss:.4f}" if loss is not None else self._no_loss, refresh=False)
        self._bar.refresh()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_job(library: Library, kind: str, train_fn: Callable[[OnEpoch], TrainResult], *,
            config: Mapping[str, Any] | None = None, data_info: Mapping[str, Any] | None = None,
            label_counts: Mapping[str, int] | None = None, backbone: Mapping[str, Any] | None = None,
            experiments_root: str | os.PathLike[str] | None = None, progress: bool = True,
            on_state: Callable[[Job], None] | None = None) -> tuple[Job, Path]:
    """Run ``train_fn(on_epoch)`` as a job; return the completed job and its run folder.

    ``train_fn`` gets the epoch callback ``on_epoch(epoch, total_epochs, record)`` and returns
    a result with ``.model``, ``.history``, ``.metrics``, ``.config`` (and optionally
    ``.arrays``, ``.timeline``). See :class:`JobRunner` for the other parameters.

    Parameters
    ----------
    library : Library
        Where the job is recorded.
    kind : {"embeddings", "sections"}
        The run kind.
    train_fn : callable(on_epoch) -> TrainResult
        The training; ``config["epochs"]`` (if any) is the planned epoch count.
    config, data_info, label_counts, backbone, experiments_root, progress, on_state
        As for :class:`JobRunner` and :meth:`JobRunner.set_data`.

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
