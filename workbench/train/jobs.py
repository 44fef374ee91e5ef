"""Training jobs (compatibility): the job system lives in :mod:`workbench.jobs` (rows in
:mod:`workbench.job_records`), the embedding head's training job in
:mod:`workbench.train.embeddings_job` and the section classifier's in
:mod:`workbench.train.sections.job`. Every name this module had is still importable from here.

>>> with Library() as lib:                                              # doctest: +SKIP
...     job, run_path = run_job(lib, "sections", train_fn, config={"epochs": 20, "seed": 0},
...                             data_info={"tracks": tracks, "labels": labels})
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.fileio import jsonable, pid_alive  # noqa: F401  (re-exported)
from workbench.jobs import (  # noqa: F401  (re-exported; private names for tests and the section job)
    _COLUMNS,
    _JSON_COLUMNS,
    FINAL_STATES,
    HEADLINE_METRICS,
    INTERRUPTED,
    JOB_STATES,
    PAUSE_ENV,
    PAUSE_POINTS,
    Job,
    JobNotFoundError,
    JobRunner,
    OnEpoch,
    TrainResult,
    _backbone_info,
    _check_kind,
    _conn,
    _dumps,
    _pause,
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
    run_job,
)
from workbench.train.embeddings_job import (  # noqa: F401  (re-exported)
    EMBEDDING_DATA_DEFAULTS,
    _contract_metrics,
    _embedding_split,
    _embeddings_in_job,
    embedding_invariance,
    train_embeddings_job,
)

if TYPE_CHECKING:
    from workbench.library import Library


def train_sections_job(library: Library, **options: Any) -> tuple[Job, Path]:
    """Train the DJ-section classifier as a job: :func:`workbench.train.sections.train_sections_job`.

    Parameters
    ----------
    library : Library
        The library trained on; the job is recorded in it.
    **options
        Passed on to :func:`workbench.train.sections.job.train_sections_job`.

    Raises
    ------
    NotReadyError
        Too few labelled sections; Jupyter shows its message alone, as every :class:`~workbench.errors.WorkbenchError`.
    """
    from workbench.errors import ParameterError
    from workbench.train.sections.job import train_sections_job as run

    for key in ("min_per_class", "min_classes"):  # the readiness rule: refused by name before any work
        value = (options.get("config") or {}).get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ParameterError(f"{key} must be an int >= 1 (labelled sections); got {value!r}")
    return run(library, **options)
