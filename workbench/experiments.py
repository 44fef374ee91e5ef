"""Experiment comparison: a table of runs, side-by-side comparison, data diffs, MLflow export.

The run folders under ``experiments/`` are the source of truth (:mod:`workbench.runs`);
MLflow is an optional mirror for teams that already use its UI.

Keys read from each run folder:

- ``run.json``: ``run_id``, ``kind``, ``created_at``, ``seed``, ``code_version``, ``backbone``
  {name, dim} (else ``data.json["backbone"]``).
- ``config.json``: every key (nested keys dotted) is a parameter.
- ``data.json``: ``fingerprint``, ``tracks`` [{id, content_hash, name}], ``label_counts`` {class: n},
  ``labels`` [{track_hash, label, start_s, end_s}] (optional: without it labels added/removed
  are "not recorded", only label counts are compared), ``classes``.
- ``history.json``: per-epoch rows for the overlaid curves.
- ``metrics.json``: nested {group: {metric: value}}; headline metrics are read from ``model``
  (or the top level); ``invariance`` {augmentation: {strength: cosine}} is flattened.
- ``arrays.npz`` ``y_true``/``y_pred`` of sections runs, for the confusion-matrix change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError, WorkbenchError
from workbench.experiments_compare import DataDiff, _label_key, data_diff  # noqa: F401  (re-exported)
from workbench.runs import flatten

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

    from workbench.runs import Run

__all__ = ["HEADLINE_METRICS", "Comparison", "DataDiff", "MlflowNotInstalledError", "compare", "data_diff",
           "log_to_mlflow", "runs_table", "before_after", "cv_table"]

#: Metrics shown in :func:`runs_table` (from ``metrics["model"]``) when a run has them.
HEADLINE_METRICS: tuple[str, ...] = ("precision_at_1", "precision_at_5", "map_at_r", "silhouette", "nmi",
                                     "accuracy", "macro_f1", "pairwise_f")
_LOWER_IS_BETTER = ("loss", "error", "seconds", "time")
_SKIP_METRIC_KEYS = ("per_class", "confusion", "classes")


class MlflowNotInstalledError(WorkbenchError, ImportError):
    """MLflow logging was asked for but the ``mlflow`` package is not installed."""


def _backbone_name(run: Run) -> str | None:
    bb = run.info.get("backbone") or run.data.get("backbone")
    if isinstance(bb, Mapping):
        return bb.get("name")
    return bb


def _scalar_metrics(run: Run) -> dict[str, float]:
    """Every numeric metric, dotted (``model.accuracy``, ``invariance.pitch.3``), lists and per-class left out."""
    flat = flatten({k: v for k, v in run.metrics.items() if k not in _SKIP_METRIC_KEYS})
    return {k: float(v) for k, v in flat.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            and not any(part in _SKIP_METRIC_KEYS for part in k.split("."))}


def _params(run: Run) -> dict[str, Any]:
    p: dict[str, Any] = {"kind": run.kind, "backbone": _backbone_name(run), "seed": run.info.get("seed"),
                         "code_version": run.info.get("code_version"),
                         "data.fingerprint": str(run.data["fingerprint"])[:12] if run.data.get("fingerprint") else None,
                         "data.tracks": len(run.data["tracks"]) if run.data.get("tracks") is not None else None}
    for k, v in (run.data.get("label_counts") or {}).items():
        p[f"data.labels.{k}"] = v
    p.update({f"config.{k}": v for k, v in flatten(run.config).items()})
    return p


def runs_table(root: str | os.PathLike[str] | None = None, *, kind: str | None = None) -> pd.DataFrame:
    """One row per run, oldest first: ``run_id``, ``kind``, ``created``, ``backbone``, ``tracks``, config
    params, headline metrics.

    Parameters
    ----------
    root : experiments folder (default :func:`workbench.config.experiments_dir`)
    kind : "embeddings", "sections" or None for all
    """
    import pandas as pd

    from workbench.evaluate import model_metrics
    from workbench.runs import RUN_KINDS, list_runs

    if kind is not None and kind not in RUN_KINDS:
        raise ParameterError(f"kind must be one of {RUN_KINDS} or None; got {kind!r}")
    rows = []
    for run in list_runs(root, kind=kind):
        m = model_metrics(run.metrics)
        row: dict[str, Any] = {"run_id": run.run_id, "kind": run.kind, "created": run.info.get("created_at"),
                               "backbone": _backbone_name(run),
                               "tracks": len(run.data["tracks"]) if run.data.get("tracks") is not None else None}
        row.update({k: v for k, v in flatten(run.config).items()})
        row.update({k: m.get(k) for k in HEADLINE_METRICS if isinstance(m.get(k), (int, float))})
        rows.append(row)
    base = ["run_id", "kind", "created", "backbone", "tracks"]
    if not rows:
        return pd.DataFrame(columns=base)
    df = pd.DataFrame(rows)
    # oldest first; runs started in the same second keep their creation order
    df = df.sort_values("created", kind="stable", na_position="first", key=lambda c: c.astype(str)).reset_index(drop=True)
    metric_cols = [c for c in HEADLINE_METRICS if c in df.columns]
    other = [c for c in df.columns if c not in base and c not in metric_cols]
    return df[base + other + metric_cols]


def _confusion_rates(run: Run) -> pd.DataFrame | None:
    import numpy as np
    import pandas as pd

    from workbench.evaluate import class_names, classification_metrics, n_classes

    arrays = run.arrays()
    if run.kind != "sections" or "y_true" not in arrays or "y_pred" not in arrays:
        return None
    t, p = arrays["y_true"], arrays["y_pred"]
    names = class_names(run, n_classes(run, arrays), arrays) if t.dtype.kind in "iu" else None
    m = classification_metrics(t, p, class_names=names)
    cm = np.asarray(m["confusion"], dtype=float)
    rows = cm.sum(axis=1, keepdims=True)
    rates = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    return pd.DataFrame(rates, index=m["classes"], columns=m["classes"])


def _by_run(values: Mapping[str, Mapping[str, Any]], *, index_name: str, dtype: Any) -> pd.DataFrame:
    """One column per run, one row per key any run has (first-seen order); None where a run lacks it."""
    import pandas as pd

    keys = list(dict.fromkeys(k for v in values.values() for k in v))
    df = pd.DataFrame({rid: [v.get(k) for k in keys] for rid, v in values.items()}, index=keys, dtype=dtype)
    df.index.name = index_name
    return df


def _lower_is_better(metric: str) -> bool:
    return any(w in metric.rsplit(".", 1)[-1] for w in _LOWER_IS_BETTER)


class Comparison:
    """Several runs side by side (made by :func:`compare`).

    Attributes
    ----------
    runs : list of Run
    differences_only : bool
        Whether :attr:`params` keeps only the rows that differ between runs.
    """

    def __init__(self, runs: Sequence[Run], *, differences_only: bool = True) -> None:
        self.runs = list(runs)
        self.differences_only = differences_only

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    @property
    def all_params(self) -> pd.DataFrame:
        """Every parameter (rows) of every run (columns); missing ones are None."""
        return _by_run({r.run_id: _params(r) for r in self.runs}, index_name="param", dtype=object)

    @property
    def params(self) -> pd.DataFrame:
        """:attr:`all_params`, only the rows that differ when :attr:`differences_only`."""
        df = self.all_params
        if not self.differences_only or len(self.runs) < 2:
            return df
        differs = [len({repr(v) for v in row}) > 1 for row in df.itertuples(index=False)]
        return df[differs]

    @property
    def metrics(self) -> pd.DataFrame:
        """Every numeric metric (rows, dotted names) of every run (columns); NaN where not recorded."""
        return _by_run({r.run_id: _scalar_metrics(r) for r in self.runs}, index_name="metric", dtype=float)

    @property
    def best(self) -> pd.DataFrame:
        """Boolean mask over :attr:`metrics`: True for the best run of each metric (highest, or
        lowest for losses, errors and times); rows with fewer than two recorded values have no best."""
        df = self.metrics
        mask = df.copy().astype(bool)
        mask[:] = False
        for name, row in df.iterrows():
            vals = row.dropna()
            if len(vals) < 2 or vals.nunique() < 2:
                continue
            target = vals.min() if _lower_is_better(str(name)) else vals.max()
            mask.loc[name] = (row == target).fillna(False).to_numpy()
        return mask

    def metrics_styled(self) -> Styler:
        """:attr:`metrics` as a pandas Styler with the best value of each row highlighted."""
        best = self.best
        return self.metrics.style.format("{:.4g}", na_rep="not recorded").apply(
            lambda col: ["background-color:#dcfce7;font-weight:600" if b else "" for b in best[col.name]], axis=0)

    def curves_figure(self, keys: Sequence[str] | None = None) -> Figure:
        """Training curves of every run overlaid, one panel per tracked quantity.

        Parameters
        ----------
        keys : sequence of str or None
            The ``history.json`` quantities to draw (``"train_loss"``, ...); None draws every numeric
            one but ``epoch`` and ``seconds``.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from workbench.report.plots import curves_figure

        return curves_figure({r.run_id: r.history for r in self.runs}, keys=keys)

    @property
    def data_diffs(self) -> list[DataDiff]:
        """:func:`data_diff` of the first run against each other run."""
        return [data_diff(self.runs[0], r) for r in self.runs[1:]]

    @property
    def data_diff(self) -> DataDiff | None:
        """What changed in the data from the first run to the last (None for a single run)."""
        return data_diff(self.runs[0], self.runs[-1]) if len(self.runs) > 1 else None

    @property
    def confusion_delta(self) -> pd.DataFrame | None:
        """Row-normalised confusion matrix of the last run minus the first (rates, -1..1), or None
        unless both are sections runs with ``y_true``/``y_pred`` (classes aligned by name; classes
        that neither run saw nor predicted are left out)."""
        if len(self.runs) < 2:
            return None
        a, b = _confusion_rates(self.runs[0]), _confusion_rates(self.runs[-1])
        if a is None or b is None:
            return None
        names = list(dict.fromkeys([*a.index, *b.index]))
        a = a.reindex(index=names, columns=names, fill_value=0.0)
        b = b.reindex(index=names, columns=names, fill_value=0.0)
        # classes neither run saw nor predicted carry no information
        used = [n for n in names if (a.loc[n].abs().sum() + a[n].abs().sum() + b.loc[n].abs().sum()
                                     + b[n].abs().sum()) > 0]
        return (b - a).loc[used, used]

    def _repr_html_(self) -> str:
        from workbench.report import html as H
        from workbench.report.plots import confusion_figure, png_bytes

        best = self.best
        metrics = self.metrics
        rows = [(name, *[None if v != v else float(v) for v in row]) for name, row in metrics.iterrows()]
        cls = [("", *["best" if b else "" for b in best.loc[name]]) for name in metrics.index]
        params = self.params
        parts = [f'<div class="wb-report"><style>{H.CSS}</style>',
                 f"<h2>Parameters{' (differences only)' if self.differences_only else ''}</h2>",
                 H.table([(k, *row) for k, row in params.iterrows()], ("param", *params.columns))
                 if len(params) else H.not_recorded("no differences"),
                 "<h2>Metrics (best in green)</h2>",
                 H.table(rows, ("metric", *metrics.columns), cls) if rows else H.not_recorded("metrics"),
                 "<h2>Training curves</h2>",
                 H.img(png_bytes(self.curves_figure()), "training curves")
                 if any(r.history for r in self.runs) else H.not_recorded("history.json")]
        if len(self.runs) > 1:
            parts.append("<h2>Data changes</h2>" + "".join(d.to_html() for d in self.data_diffs))
        delta = self.confusion_delta
        if delta is not None:
            parts.append("<h2>Confusion matrix change (last minus first, row rates)</h2>")
            parts.append(H.img(png_bytes(confusion_figure(delta.to_numpy(), list(delta.index), delta=True,
                                                          title="Change in row-normalised confusion")),
                               "confusion matrix change"))
        parts.append("</div>")
        return "".join(parts)


def compare(runs: Iterable[Run | str | os.PathLike[str]], *, root: str | os.PathLike[str] | None = None,
            differences_only: bool = True) -> Comparison:
    """Compare runs (Run objects, run ids or run folders); the first is the reference for diffs.

    Parameters
    ----------
    runs : iterable of Run, run id or path
        At least one run.
    root : experiments folder used to look up run ids
    differences_only : bool
        Show only the parameters that differ (``Comparison.params``); ``all_params`` has all.
    """
    from workbench.report import as_run

    loaded = [as_run(r, root=root) for r in runs]
    if not loaded:
        raise ParameterError("runs is empty; compare needs at least one run id")
    return Comparison(loaded, differences_only=differences_only)


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
        params = {_mlflow_key(k): "" if v is None else str(v)[:500] for k, v in _params(run).items()}
        if params:
            mlflow.log_params(params)
        metrics = {_mlflow_key(k): v for k, v in _scalar_metrics(run).items()}
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


def before_after(run: Run | str | os.PathLike[str], *, split: str = "test",
                 root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Retrieval on held-out tracks before and after fine-tuning, from an ``embeddings`` run.

    Rows: the bare backbone (``baseline``), the head as initialised (``untrained_head``) and the
    fine-tuned head (``model``); columns: MAP@R, precision@1, precision@5 on ``split``.

    Parameters
    ----------
    run : Run, run id or run folder
        An ``embeddings`` run.
    split : str
        The metrics split to read (``"test"``, ``"val"``).
    root : str, path or None
        Experiments folder used to look up a run id (default :func:`workbench.config.experiments_dir`).

    Returns
    -------
    pandas.DataFrame
        One row per model that recorded ``split`` metrics.

    Raises
    ------
    ParameterError
        The run is not an ``embeddings`` run, or recorded no ``split`` retrieval metrics.
    """
    import pandas as pd

    from workbench.runs import Run, load_run

    r = run if isinstance(run, Run) else load_run(run, root=root)
    if r.kind != "embeddings":
        raise ParameterError(f"before_after needs an 'embeddings' run; {r.run_id} is a {r.kind!r} run")
    rows = {name: r.metrics[name][split] for name in ("baseline", "untrained_head", "model")
            if isinstance(r.metrics.get(name), dict) and isinstance(r.metrics[name].get(split), dict)}
    if not rows:
        raise ParameterError(f"run {r.run_id} recorded no {split!r} retrieval metrics (metrics.json model/baseline)")
    return pd.DataFrame(rows).T.rename(index={"baseline": "backbone (no training)", "model": "fine-tuned head"})


def cv_table(run: Run | str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Grouped cross-validation of a ``sections`` run: accuracy, macro F1 and seconds per model.

    Parameters
    ----------
    run : Run, run id or run folder
        A ``sections`` run (its ``metrics.json`` ``cv``).
    root : str, path or None
        Experiments folder used to look up a run id.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``accuracy``, ``macro_f1``, ``seconds`` (wall time, in seconds).

    Raises
    ------
    ParameterError
        The run recorded no cross-validation.
    """
    import pandas as pd

    from workbench.runs import Run, load_run

    r = run if isinstance(run, Run) else load_run(run, root=root)
    cv = r.metrics.get("cv") or {}
    rows = {name: {"accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1"), "seconds": m.get("seconds")}
            for name, m in cv.items() if isinstance(m, dict) and "accuracy" in m}
    if not rows:
        raise ParameterError(f"run {r.run_id} recorded no cross-validation (metrics.json cv)")
    return pd.DataFrame(rows).T
