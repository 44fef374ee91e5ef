"""Experiment comparison: a table of runs, side-by-side comparison, data diffs; MLflow export
(:mod:`workbench.experiments_mlflow`) and one run's notebook tables (:mod:`workbench.experiments_tables`)
are importable from here too.

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
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError
from workbench.experiments_compare import (  # noqa: F401  (re-exported)
    METRIC_DIRECTIONS,
    DataDiff,
    _label_key,
    backbone_name,
    chronological,
    config_params,
    count_metrics,
    data_diff,
    differing_params,
    headline_first,
    metric_direction,
    run_params,
    scalar_metrics,
)
from workbench.experiments_mlflow import (  # noqa: F401  (re-exported)
    _MLFLOW_BAD,
    MlflowNotInstalledError,
    _mlflow_key,
    log_to_mlflow,
)
from workbench.experiments_tables import before_after, cv_table  # noqa: F401  (re-exported)

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


_backbone_name = backbone_name
_scalar_metrics = scalar_metrics
_params = run_params


def runs_table(root: str | os.PathLike[str] | None = None, *, kind: str | None = None,
               params: str = "all") -> pd.DataFrame:
    """One row per run, oldest first: ``run_id``, ``kind``, ``created``, ``backbone``, ``tracks``, config
    params, headline metrics.

    Parameters
    ----------
    root : str, path or None
        The experiments folder (default :func:`workbench.config.experiments_dir`).
    kind : {"embeddings", "sections"} or None
        Only runs of this kind; None: all.
    params : {"all", "differing"}
        Which config columns: every one (a sections run alone has about 75), or only those that differ between runs
        of one kind (a key a run does not set read as its default: :func:`differing_params`). With
        ``"differing"``, ``table.attrs["hidden_params"]`` counts the columns left out.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ParameterError
        An unknown ``kind`` or ``params``.
    """
    import pandas as pd

    from workbench.evaluate import model_metrics
    from workbench.runs import RUN_KINDS, list_runs

    if kind is not None and kind not in RUN_KINDS:
        raise ParameterError(f"kind must be one of {RUN_KINDS} or None; got {kind!r}")
    if params not in ("all", "differing"):
        raise ParameterError(f"params must be 'all' (every config column) or 'differing' (those that differ between "
                             f"runs of one kind); got {params!r}")
    rows, runs = [], list_runs(root, kind=kind)
    for run in runs:
        m = model_metrics(run.metrics)
        row: dict[str, Any] = {"run_id": run.run_id, "kind": run.kind, "created": run.info.get("created_at"),
                               "backbone": _backbone_name(run),
                               "tracks": len(run.data["tracks"]) if run.data.get("tracks") is not None else None}
        # run.json's backbone name stays: an embeddings config's "backbone" is the name asked for
        row.update({k: v for k, v in config_params(run.config).items() if k not in row})
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
    hidden = 0
    if params == "differing":  # per kind: a sections key is no difference between embeddings runs
        kept: set[str] = set()
        for group in {r.kind for r in runs}:
            of_kind = [r for r in runs if r.kind == group]
            kept.update(differing_params(of_kind, {r.run_id: config_params(r.config) for r in of_kind}, prefix=""))
        hidden = sum(c not in kept for c in other)
        other = [c for c in other if c in kept]
    out = df[base + other + metric_cols]
    out.attrs["hidden_params"] = hidden
    return out


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


class Comparison:
    """Several runs side by side (made by :func:`compare`).

    Attributes
    ----------
    runs : list of Run
    differences_only : bool
        Whether :attr:`params` keeps only the rows that differ between runs.
    baseline : str
        The run id the ``delta`` columns and the confusion change are measured against (default: the
        oldest run).
    """

    def __init__(self, runs: Sequence[Run], *, differences_only: bool = True, baseline: str | None = None) -> None:
        self.runs = list(runs)
        self.differences_only = differences_only
        ids = [r.run_id for r in self.runs]
        if baseline is not None and baseline not in ids:
            raise ParameterError(f"baseline must be one of the compared runs {ids}; got {baseline!r}")
        self.baseline = baseline if baseline is not None else chronological(self.runs)[0].run_id

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
        # a key newer than a run, equal to its default in every run that sets it, is no difference
        return df.loc[differing_params(self.runs, {r.run_id: _params(r) for r in self.runs})]

    @property
    def metrics(self) -> pd.DataFrame:
        """Every numeric metric (rows, dotted names) of every run (columns), the model's own first
        (:func:`~workbench.experiments_compare.headline_first`); NaN where not recorded."""
        df = _by_run({r.run_id: _scalar_metrics(r) for r in self.runs}, index_name="metric", dtype=float)
        return df.loc[headline_first(df.index)]

    @property
    def counts(self) -> set[str]:
        """The metrics that are counts (:func:`~workbench.experiments_compare.count_metrics`): shown, and their
        :attr:`deltas`, as integers."""
        return count_metrics(self.runs)

    @property
    def deltas(self) -> pd.DataFrame:
        """:attr:`metrics` minus the :attr:`baseline` run's column (NaN where either is not recorded)."""
        df = self.metrics
        return df.sub(df[self.baseline], axis=0)

    @property
    def best(self) -> pd.DataFrame:
        """Boolean mask over :attr:`metrics`: True for the best run of each metric that has a direction
        (:func:`~workbench.experiments_compare.metric_direction`: higher or lower is better); counts,
        seconds and other metrics without one, and rows with fewer than two different values, have no best."""
        df = self.metrics
        mask = df.copy().astype(bool)
        mask[:] = False
        for name, row in df.iterrows():
            vals = row.dropna()
            direction = metric_direction(str(name))
            if direction is None or len(vals) < 2 or vals.nunique() < 2:
                continue
            target = vals.min() if direction == "lower" else vals.max()
            mask.loc[name] = (row == target).fillna(False).to_numpy()
        return mask

    def metrics_styled(self) -> Styler:
        """:attr:`metrics` as a pandas Styler with the best value of each row highlighted."""
        import pandas as pd

        from workbench.report import html as H

        best, counts = self.best, [m for m in self.metrics.index if m in self.counts]
        styled = self.metrics.style.format(H.number)  # scores 4 fixed decimals, NaN "not recorded"
        if counts:
            styled = styled.format(lambda v: H.number(v, count=True), subset=pd.IndexSlice[counts, :])
        return styled.apply(
            lambda col: ["background-color:#dcfce7;font-weight:600" if b else "" for b in best[col.name]], axis=0)

    def curves_figure(self, keys: Sequence[str] | None = None) -> Figure:
        """Training curves of every run overlaid, one panel per tracked quantity.

        Parameters
        ----------
        keys : sequence of str or None
            The ``history.json`` quantities to draw (``"train_loss"``, ...); None draws every numeric
            one but epoch and throughput (seconds, samples); each run's kept epoch is a dashed line.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from workbench.report.plots import curves_figure

        return curves_figure({r.run_id: r.history for r in self.runs}, keys=keys,
                             kept={r.run_id: r.kept_epoch for r in self.runs})

    @property
    def data_diffs(self) -> list[DataDiff]:
        """:func:`data_diff` between the baseline and each other run, each read from the earlier run to the later."""
        base = self._run(self.baseline)
        return [data_diff(base, r) for r in self.runs if r.run_id != self.baseline]

    @property
    def data_diff(self) -> DataDiff | None:
        """What changed in the data from the oldest run to the newest (None for a single run)."""
        runs = chronological(self.runs)
        return data_diff(runs[0], runs[-1]) if len(self.runs) > 1 else None

    def _run(self, run_id: str) -> Run:
        return next(r for r in self.runs if r.run_id == run_id)

    @property
    def confusion_other(self) -> str | None:
        """The run :attr:`confusion_delta` compares with the baseline: the newest other run (None for one run)."""
        others = [r for r in chronological(self.runs) if r.run_id != self.baseline]
        return others[-1].run_id if others else None

    @property
    def confusion_delta(self) -> pd.DataFrame | None:
        """Row-normalised confusion matrix of :attr:`confusion_other` minus the baseline's (rates, -1..1), or
        None unless both are sections runs with ``y_true``/``y_pred`` (classes aligned by name; classes
        that neither run saw nor predicted are left out)."""
        other = self.confusion_other
        if other is None:
            return None
        a, b = _confusion_rates(self._run(self.baseline)), _confusion_rates(self._run(other))
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
        from workbench.report.runs_view import report_link
        from workbench.runs import STARTED_HEADING, started_text

        best, metrics, deltas, counts = self.best, self.metrics, self.deltas, self.counts
        others = [c for c in metrics.columns if c != self.baseline]
        rows, cls = [], []
        for name, row in metrics.iterrows():
            d, count = deltas.loc[name], name in counts
            rows.append((name, *[None if v != v else H.number(float(v), count=count) for v in row],
                         *["" if d[c] != d[c] else H.number(float(d[c]), signed=True, count=count) for c in others]))
            cls.append(("", *["best" if b else "" for b in best.loc[name]], *[""] * len(others)))
        runs_rows = [(r.run_id + (" (baseline)" if r.run_id == self.baseline else ""), r.notes["name"] or "",
                      r.notes["note"] or "", started_text(r.info.get("created_at"))) for r in self.runs]  # as runs_table says it
        links = "".join(f"<li>{report_link(r)}</li>" for r in self.runs)
        params, one = self.params, len(self.runs) < 2  # one run: nothing to differ from, every parameter, no delta
        parts = [f'<div class="wb-report"><style>{H.CSS}</style>', "<h2>Runs</h2>",
                 H.table(runs_rows, ("run", "name", "note", STARTED_HEADING)), f'<ul class="meta">{links}</ul>',
                 "<h2>Parameters (one run: every one; add a second run to see what differs)</h2>" if one else
                 f"<h2>Parameters{' (differences only)' if self.differences_only else ''}</h2>",
                 H.table([(k, *row) for k, row in params.iterrows()], ("param", *params.columns))
                 if len(params) else ('<p class="na">no differences: the runs were trained with the same parameters</p>'
                                      if self.differences_only else H.not_recorded("parameters")),
                 "<h2>Metrics</h2>" if one else "<h2>Metrics (best in green)</h2>",
                 "" if one else '<p class="meta">best marked only where higher or lower is known to be better; '
                 f"Δ columns: the run minus the baseline {H.esc(self.baseline)}</p>",
                 H.table(rows, ("metric", *metrics.columns, *[f"Δ {c}" for c in others]), cls)
                 if rows else H.not_recorded("metrics"),
                 "<h2>Training curves</h2>",
                 H.img(png_bytes(self.curves_figure()), "training curves")
                 if any(r.history for r in self.runs) else H.not_recorded("history.json")]
        if len(self.runs) > 1:
            parts.append("<h2>Data changes (earlier run to later run)</h2>"
                         + "".join(d.to_html() for d in self.data_diffs))
        delta = self.confusion_delta
        if delta is not None:
            parts.append(f"<h2>Confusion matrix change ({H.esc(self.confusion_other)} minus the baseline "
                         f"{H.esc(self.baseline)}, row rates)</h2>")
            parts.append(H.img(png_bytes(confusion_figure(delta.to_numpy(), list(delta.index), delta=True,
                                                          title="Change in row-normalised confusion")),
                               "confusion matrix change"))
        parts.append("</div>")
        return "".join(parts)


def compare(runs: Iterable[Run | str | os.PathLike[str]], *, root: str | os.PathLike[str] | None = None,
            differences_only: bool = True, baseline: str | None = None) -> Comparison:
    """Compare runs (Run objects, run ids or run folders) against a baseline run.

    Parameters
    ----------
    runs : iterable of Run, run id or path
        At least one run.
    root : experiments folder used to look up run ids
    differences_only : bool
        Show only the parameters that differ (``Comparison.params``); ``all_params`` has all.
    baseline : str or None
        The run id the deltas and the confusion change are measured against; None: the oldest run.
        Data diffs always read from the earlier run to the later one.

    Raises
    ------
    ParameterError
        No runs, a run named twice, or ``baseline`` is not among them.
    """
    from workbench.report import as_run

    loaded = [as_run(r, root=root) for r in runs]
    if not loaded:
        raise ParameterError("runs is empty; compare needs at least one run id")
    ids = [r.run_id for r in loaded]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:  # a run beside itself: every delta 0, one column
        raise ParameterError(f"runs must name each run once; got {', '.join(twice)} more than once")
    return Comparison(loaded, differences_only=differences_only, baseline=baseline)
