"""A run copied into MLflow, an optional mirror for teams that already use its UI.

The run folders under ``experiments/`` stay the source of truth (:mod:`workbench.runs`); a run's
params (config keys, dotted), scalar metrics, per-epoch history and report go to an MLflow run named
by its run id. ``mlflow`` is imported only when asked for (:class:`MlflowNotInstalledError` says how
to install it).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError
from workbench.experiments_compare import run_params, scalar_metrics

if TYPE_CHECKING:
    from workbench.runs import Run

__all__ = ["MlflowNotInstalledError", "log_to_mlflow"]


class MlflowNotInstalledError(WorkbenchError, ImportError):
    """MLflow logging was asked for but the ``mlflow`` package is not installed."""


_MLFLOW_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


def _mlflow_key(key: str) -> str:
    return _MLFLOW_BAD.sub("_", key)


def log_to_mlflow(run: Run | str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                  tracking_uri: str | None = None, experiment: str = "workbench") -> str:
    """Copy a run's params, metrics, per-epoch history and report into MLflow; return the MLflow run id.

    Parameters
    ----------
    run : Run, run id or run folder
    root : experiments folder (default :func:`workbench.config.experiments_dir`)
    tracking_uri : str or None
        Default: MLflow's local SQLite store ``sqlite:///<experiments>/mlflow.db``.
    experiment : str
        MLflow experiment name.

    Raises
    ------
    MlflowNotInstalledError
        When ``mlflow`` cannot be imported (``pip install mlflow``).
    """
    from workbench import config
    from workbench.report import as_run

    try:
        import mlflow  # type: ignore[import-not-found]
    except ImportError as exc:
        raise MlflowNotInstalledError(
            "log_to_mlflow needs MLflow, which is not installed; install it with `pip install mlflow` "
            "(the run folders under experiments/ stay the source of truth without it)") from exc
    run = as_run(run, root=root)
    uri = tracking_uri or f"sqlite:///{config.experiments_dir(root) / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run.run_id) as active:
        mlflow.set_tags({"workbench.run_id": run.run_id, "workbench.kind": run.kind,
                         "workbench.run_path": str(run.path)})
        params = {_mlflow_key(k): "" if v is None else str(v)[:500] for k, v in run_params(run).items()}
        if params:
            mlflow.log_params(params)
        metrics = {_mlflow_key(k): v for k, v in scalar_metrics(run).items()}
        if metrics:
            mlflow.log_metrics(metrics)
        for i, row in enumerate(run.history):
            step = int(row.get("epoch", i + 1))
            for k, v in row.items():
                if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    mlflow.log_metric(_mlflow_key(f"history.{k}"), float(v), step=step)
        for name in ("report.html", "metrics.json", "evaluation.json"):
            if (run.path / name).exists():
                mlflow.log_artifact(str(run.path / name))
        return str(active.info.run_id)
