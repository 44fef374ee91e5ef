"""The runs table of the compare view: chosen metric and parameter columns, filter, sort, names and notes,
deltas against a baseline run, "best" on metrics with a direction, report links, a scatter of two metrics.

>>> v = runs_view(metrics=["accuracy", "macro_f1"], params=["lr"], baseline="<run id>",
...               sort_by="accuracy", filter="kind == sections and accuracy > 0.8")   # doctest: +SKIP
>>> v.frame          # one row per run (pandas)                                       # doctest: +SKIP
>>> v.scatter_figure("accuracy", "macro_f1")                                          # doctest: +SKIP

Metric names are the dotted names of :func:`workbench.experiments_compare.scalar_metrics`
(``model.accuracy``, ``segments.smoothed.boundary_f_3s``); a bare name (``accuracy``) means the
model's (``model.accuracy``). Parameter names are those of :func:`~workbench.experiments_compare.run_params`
(``config.lr``, ``backbone``); a bare name means ``config.<name>``. The filter is clauses joined by
``and``: ``FIELD OP VALUE`` with OP one of ``> >= < <= == != ~`` (``~``: contains, any case), FIELD
a metric, a parameter, ``run_id``, ``name``, ``note`` or ``kind``; a clause without an operator
searches the run id, name and note.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError
from workbench.experiments_compare import count_metrics, metric_direction, run_params, scalar_metrics
from workbench.report import html as H

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from workbench.runs import Run

__all__ = ["RunsView", "report_link", "runs_view"]

#: Headline metrics shown when none are chosen (those that some run recorded).
DEFAULT_METRICS: tuple[str, ...] = ("model.accuracy", "model.macro_f1", "model.map_at_r", "model.precision_at_1",
                                    "model.precision_at_5")
_TEXT_FIELDS = ("run_id", "name", "note", "kind")
_OPS: dict[str, Callable[[Any, Any], bool]] = {">=": operator.ge, "<=": operator.le, "==": operator.eq,
                                               "!=": operator.ne, ">": operator.gt, "<": operator.lt}
_CLAUSE = re.compile(r"^\s*(?P<field>[^\s<>=!~]+)\s*(?P<op>>=|<=|==|!=|>|<|~)\s*(?P<value>.+?)\s*$")


def report_link(run: Run) -> str:
    """HTML: a link to the run's ``report.html``, or how to write it when it does not exist yet.

    Parameters
    ----------
    run : Run
    """
    page = run.path / "report.html"
    if page.exists():
        return f'<a href="{H.esc(page.resolve().as_uri())}" target="_blank">{H.esc(run.run_id)} report</a>'
    return f'{H.esc(run.run_id)}: no report yet (<code>workbench runs report {H.esc(run.run_id)}</code>)'


def _resolve(name: str, known: Sequence[str], prefix: str, what: str) -> str:
    if name in known:
        return name
    if f"{prefix}{name}" in known:
        return f"{prefix}{name}"
    sample = ", ".join(list(known)[:15]) + (" ..." if len(known) > 15 else "")
    raise ParameterError(f"{what} must be one of those the runs recorded ({sample}); got {name!r}")


class RunsView:
    """The runs table (made by :func:`runs_view`).

    Attributes
    ----------
    runs : list of Run
        The runs shown, filtered and sorted.
    metrics, params : list of str
        The metric and parameter columns (dotted names).
    baseline : str or None
        The run id the ``Δ`` columns are measured against.
    available_metrics, available_params : list of str
        Every metric and parameter some run (before filtering) recorded.
    counts : set of str
        The metrics that are counts (:func:`~workbench.experiments_compare.count_metrics`).
    """

    def __init__(self, runs: Sequence[Run], *, metrics: Sequence[str] | None, params: Sequence[str] | None,
                 baseline: str | None, sort_by: str | None, descending: bool | None, filter: str) -> None:
        all_runs = list(runs)
        self._metric_values = {r.run_id: scalar_metrics(r) for r in all_runs}
        self._param_values = {r.run_id: run_params(r) for r in all_runs}
        self._notes = {r.run_id: r.notes for r in all_runs}
        self.counts = count_metrics(all_runs)  # shown, and differenced, as integers
        self.available_metrics = list(dict.fromkeys(k for v in self._metric_values.values() for k in v))
        self.available_params = list(dict.fromkeys(k for v in self._param_values.values() for k in v))
        self.metrics = ([m for m in DEFAULT_METRICS if m in self.available_metrics] if metrics is None else
                        [_resolve(m, self.available_metrics, "model.", "metrics") for m in metrics])
        self.params = ([] if params is None else
                       [_resolve(p, self.available_params, "config.", "params") for p in params])
        ids = [r.run_id for r in all_runs]
        if baseline is not None and baseline not in ids:
            raise ParameterError(f"baseline must be one of the runs ({len(ids)} found); got {baseline!r}")
        self.baseline = baseline
        shown = [r for r in all_runs if self._keep(r, filter)]
        if sort_by is not None:
            shown = self._sorted(shown, sort_by, descending)
        self.runs = shown
        self.filter = filter
        self.sort_by = sort_by

    # -- values ---------------------------------------------------------------------------------
    def value(self, run_id: str, field: str) -> Any:
        """One cell: a metric, a parameter, or ``run_id``/``name``/``note``/``kind`` (None where not recorded).

        Parameters
        ----------
        run_id : str
        field : str
            A dotted metric or parameter name, or a text field.
        """
        if field == "run_id":
            return run_id
        if field in ("name", "note"):
            return self._notes[run_id][field]
        if field in self._metric_values[run_id]:
            return self._metric_values[run_id][field]
        return self._param_values[run_id].get(field)

    def _field(self, name: str) -> str:
        if name in _TEXT_FIELDS:
            return name
        known = [*self.available_metrics, *self.available_params]
        if name in known:
            return name
        for prefix in ("model.", "config."):
            if f"{prefix}{name}" in known:
                return f"{prefix}{name}"
        raise ParameterError(f"field must be a metric, a parameter or one of {_TEXT_FIELDS}; got {name!r}")

    def _keep(self, run: Run, text: str) -> bool:
        for clause in [c for c in re.split(r"\s+and\s+", text.strip()) if c.strip()] if text else []:
            m = _CLAUSE.match(clause)
            if m is None:  # free text
                hay = " ".join([run.run_id, *self._notes[run.run_id].values()]).lower()
                if clause.strip().lower() not in hay:
                    return False
                continue
            field, op, want = self._field(m["field"]), m["op"], m["value"].strip("'\"")
            have = self.value(run.run_id, field)
            if op == "~":
                if have is None or want.lower() not in str(have).lower():
                    return False
                continue
            if have is None:
                return False
            if isinstance(have, (int, float)) and not isinstance(have, bool):
                try:
                    target: Any = float(want)
                except ValueError:
                    raise ParameterError(f"filter {clause!r}: {field} is a number, so the value must be one; "
                                         f"got {want!r}") from None
                have = float(have)
            else:
                if op not in ("==", "!="):
                    raise ParameterError(f"filter {clause!r}: {field} is text; use ==, != or ~ with it")
                have, target = str(have), want
            if not _OPS[op](have, target):
                return False
        return True

    def _sorted(self, runs: list[Run], sort_by: str, descending: bool | None) -> list[Run]:
        field = self._field(sort_by)
        if descending is None:
            descending = metric_direction(field) == "higher"
        present = [r for r in runs if self.value(r.run_id, field) is not None]
        missing = [r for r in runs if self.value(r.run_id, field) is None]

        def key(r: Run) -> tuple[int, Any]:
            """Numbers before text, so a column of both still sorts.

            Parameters
            ----------
            r : Run
            """
            v = self.value(r.run_id, field)
            return (0, float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, str(v))

        return sorted(present, key=key, reverse=descending) + missing  # not recorded: always last

    def delta(self, run_id: str, metric: str) -> float | None:
        """The run's ``metric`` minus the baseline run's (None without a baseline or where either is missing).

        Parameters
        ----------
        run_id : str
        metric : str
            A dotted metric name.
        """
        if self.baseline is None:
            return None
        a, b = self._metric_values[run_id].get(metric), self._metric_values[self.baseline].get(metric)
        return None if a is None or b is None else a - b

    @property
    def best(self) -> dict[str, list[str]]:
        """{metric: run ids with the best value among the shown runs}, only for metrics with a direction
        (:func:`~workbench.experiments_compare.metric_direction`) and at least two different values."""
        out: dict[str, list[str]] = {}
        for m in self.metrics:
            direction = metric_direction(m)
            vals = {r.run_id: self._metric_values[r.run_id][m] for r in self.runs if m in self._metric_values[r.run_id]}
            if direction is None or len(set(vals.values())) < 2:
                continue
            target = (min if direction == "lower" else max)(vals.values())
            out[m] = [rid for rid, v in vals.items() if v == target]
        return out

    # -- outputs --------------------------------------------------------------------------------
    @property
    def frame(self) -> pd.DataFrame:
        """One row per shown run: ``run_id``, ``name``, ``note``, ``kind``, ``created``, the parameters,
        the metrics and, with a baseline, ``Δ <metric>`` columns; ``report`` (path or None)."""
        import pandas as pd

        return pd.DataFrame(self.records(), columns=self.columns)

    @property
    def columns(self) -> list[str]:
        """The columns of :attr:`frame`, in order."""
        deltas = [f"Δ {m}" for m in self.metrics] if self.baseline is not None else []
        return ["run_id", "name", "note", "kind", "created", *self.params, *self.metrics, *deltas, "report"]

    def records(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (what ``workbench runs table --json`` prints under ``runs``)."""
        out = []
        for r in self.runs:
            rec: dict[str, Any] = {"run_id": r.run_id, **self._notes[r.run_id], "kind": r.kind,
                                   "started": r.info.get("created_at"),  # the job's start, as `runs list` says
                                   "created": r.info.get("created_at")}  # the same, kept for older scripts
            rec.update({p: self._param_values[r.run_id].get(p) for p in self.params})
            rec.update({m: self._metric_values[r.run_id].get(m) for m in self.metrics})
            if self.baseline is not None:
                rec.update({f"Δ {m}": self.delta(r.run_id, m) for m in self.metrics})
            page = r.path / "report.html"
            rec["report"] = str(page) if page.exists() else None
            out.append(rec)
        return out

    def to_json(self) -> dict[str, Any]:
        """``{"runs": records, "metrics", "params", "baseline", "best", "directions"}``."""
        return {"runs": self.records(), "metrics": self.metrics, "params": self.params, "baseline": self.baseline,
                "best": self.best, "directions": {m: metric_direction(m) for m in self.metrics},
                "filter": self.filter, "sort_by": self.sort_by}

    def to_html(self) -> str:
        """The table as HTML: best cells green, the baseline row marked, a link to each report."""
        from workbench.runs import STARTED_HEADING, started_text

        best = self.best
        header = ["run", "name", "note", "kind", STARTED_HEADING, *self.params, *self.metrics,
                  *([f"Δ {m}" for m in self.metrics] if self.baseline is not None else []), "report"]
        head = "".join(f"<th>{H.esc(h)}</th>" for h in header)
        body = []
        for r in self.runs:
            rid = r.run_id
            created = started_text(r.info.get("created_at")) or ""
            cells = [f'<td style="white-space:nowrap"><code>{H.esc(rid)}</code>'
                     f"{'<br><b>baseline</b>' if rid == self.baseline else ''}</td>",
                     f"<td>{H.esc(self._notes[rid]['name'])}</td>", f"<td>{H.esc(self._notes[rid]['note'])}</td>",
                     f"<td>{H.esc(r.kind)}</td>", f'<td style="white-space:nowrap">{H.esc(created)}</td>']
            cells += [_cell(self._param_values[rid].get(p)) for p in self.params]
            cells += [_cell(self._metric_values[rid].get(m), "best" if rid in best.get(m, ()) else "", metric=True,
                            count=m in self.counts) for m in self.metrics]
            if rid == self.baseline:  # its own Δ would read "+0.0000": it is what the others are measured against
                cells += ['<td class="na" title="the runs\' Δ are measured against this run">baseline</td>'] * len(self.metrics)
            elif self.baseline is not None:
                cells += [_cell(self.delta(rid, m), signed=True, count=m in self.counts) for m in self.metrics]
            page = r.path / "report.html"
            cells.append(f'<td><a href="{H.esc(page.resolve().as_uri())}" target="_blank">report</a></td>'
                         if page.exists() else
                         f'<td class="na" title="workbench runs report {H.esc(rid)}">none yet</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        arrows = ", ".join(f"{m} {'↑' if metric_direction(m) == 'higher' else '↓'}" for m in self.metrics
                           if metric_direction(m))
        note = (f'<p class="meta">{len(self.runs)} runs shown (–: not recorded); best in green where higher (↑) '
                f"or lower (↓) is better: {H.esc(arrows or 'none of the chosen metrics has a direction')}"
                + (f"; Δ: the run minus the baseline {H.esc(self.baseline)}" if self.baseline else "") + "</p>")
        if not self.runs:
            return f'<div class="wb-report"><style>{H.CSS}</style>' + H.not_recorded("runs matching the filter") + "</div>"
        return (f'<div class="wb-report"><style>{H.CSS}</style>{note}<table class="wb-runs"><tr>{head}</tr>'
                + "".join(body) + "</table></div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def kind_metrics(self, kind: str) -> list[str]:
        """The metric columns (:attr:`metrics`, in order) that a shown run of ``kind`` recorded.

        Parameters
        ----------
        kind : {"embeddings", "sections"}
            A run kind.

        Returns
        -------
        list of str
            Empty when no shown run is of ``kind``.
        """
        from workbench.runs import RUN_KINDS

        if kind not in RUN_KINDS:
            raise ParameterError(f"kind must be one of {RUN_KINDS}; got {kind!r}")
        return [m for m in self.metrics if any(r.kind == kind and m in self._metric_values[r.run_id] for r in self.runs)]

    def scatter_figure(self, x: str, y: str, *, kind: str | None = None) -> Figure:
        """Each shown run as a point at (metric ``x``, metric ``y``), labelled by name (else run id).

        Parameters
        ----------
        x, y : str
            Metric names (bare names mean the model's).
        kind : {"embeddings", "sections"} or None
            Only runs of this kind (the baseline's, so that the star is among the points); None: every shown run.

        Returns
        -------
        matplotlib.figure.Figure
            The baseline run drawn as a star; runs that lack either metric are left out (said in the title).

        Raises
        ------
        ParameterError
            A name no run recorded.
        """
        from workbench.report.plots import _figure

        x = _resolve(x, self.available_metrics, "model.", "x")
        y = _resolve(y, self.available_metrics, "model.", "y")
        fig, ax = _figure(6.0, 4.2)
        if kind is not None:
            self.kind_metrics(kind)  # the kind checked
        pts = [(r, self._metric_values[r.run_id].get(x), self._metric_values[r.run_id].get(y)) for r in self.runs
               if kind is None or r.kind == kind]
        shown = [(r, a, b) for r, a, b in pts if a is not None and b is not None]
        for r, a, b in shown:
            base = r.run_id == self.baseline
            ax.scatter([a], [b], marker="*" if base else "o", s=160 if base else 40,
                       color="#b45309" if base else "#2563eb", zorder=3, clip_on=False)  # whole at an edge (0 or 1)

        def label(m: str) -> str:
            """The axis label: the metric and which way is better.

            Parameters
            ----------
            m : str
            """
            d = metric_direction(m)
            return m + ("" if d is None else f" ({d} is better)")

        ax.set_xlabel(label(x))
        ax.set_ylabel(label(y))
        left = len(pts) - len(shown)
        starred = any(r.run_id == self.baseline for r, _, _ in shown)  # the baseline may lack a metric
        ax.set_title(f"{len(shown)}{'' if kind is None else ' ' + kind} run{'' if len(shown) == 1 else 's'}"
                     + (f" ({left} without both metrics left out)" if left else "")
                     + (" · star: baseline" if starred else ""), fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.margins(0.2)  # room for the labels
        _within_unit(ax, [a for _, a, _ in shown], [b for _, _, b in shown])
        from workbench.report.point_names import name_points

        # each run's name (else its id's tail), moved apart where runs score alike
        name_points(ax, [a for _, a, _ in shown], [b for _, _, b in shown],
                    [self._notes[r.run_id]["name"] or r.run_id.split("-", 2)[-1] for r, _, _ in shown], fontsize=8)
        return fig


def _within_unit(ax: Axes, xs: list[float], ys: list[float]) -> None:
    """Keep the scatter's padded limits from running past 0 or 1 where its values stay within them.

    Notebook 05's precision axis ran to 1.2 (the margin for the names): a share above 1 reads as a bug. A limit
    moves only where every value of that axis lies on its side of 0 (or 1); other metrics keep their margins.
    """
    for values, get, put in ((xs, ax.get_xlim, ax.set_xlim), (ys, ax.get_ylim, ax.set_ylim)):
        if not values:
            continue
        lo, hi = get()
        put(max(lo, 0.0) if min(values) >= 0.0 else lo, min(hi, 1.0) if max(values) <= 1.0 else hi)


def _cell(value: Any, cls: str = "", *, signed: bool = False, metric: bool = False, count: bool = False) -> str:
    """One ``<td>``: a metric (``metric``) as :func:`~workbench.report.html.number` writes it (4 fixed decimals, a
    count as an integer), a parameter as :func:`~workbench.report.html.fmt` does (``lr`` 1e-05 stays readable)."""
    classes = [cls] if cls else []
    if value is None:
        return '<td class="na" title="not recorded">–</td>'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        classes.append("num")
        text = H.number(value, signed=signed, count=count) if metric or signed else H.fmt(value)
    else:
        text = H.fmt(value)
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attr}>{H.esc(text)}</td>"


def runs_view(root: str | os.PathLike[str] | None = None, *, kind: str | None = None,
              metrics: Sequence[str] | None = None, params: Sequence[str] | None = None,
              baseline: str | None = None, sort_by: str | None = None, descending: bool | None = None,
              filter: str = "", runs: Sequence[Run] | None = None) -> RunsView:
    """The runs under ``experiments/`` as a table with chosen columns, filtered, sorted, against a baseline.

    Parameters
    ----------
    root : str, path or None
        The experiments folder (default :func:`workbench.config.experiments_dir`).
    kind : {"embeddings", "sections"} or None
        Only runs of this kind.
    metrics : sequence of str or None
        Metric columns (dotted; bare names mean ``model.<name>``); None: the headline metrics recorded.
    params : sequence of str or None
        Parameter columns (``config.lr`` or ``lr``, ``backbone``, ``data.tracks``); None: none.
    baseline : str or None
        A run id: adds a ``Δ`` column per metric (run minus baseline) and a star in the scatter.
    sort_by : str or None
        A metric, parameter, ``name``, ``note``, ``kind`` or ``run_id``; None keeps creation order.
    descending : bool or None
        Sort order; None: best first for metrics with a direction, else ascending.
    filter : str
        Clauses joined by ``and`` (see the module docstring); "" keeps every run.
    runs : sequence of Run or None
        Use these runs instead of reading ``root``.

    Returns
    -------
    RunsView

    Raises
    ------
    ParameterError
        An unknown kind, metric, parameter, baseline or filter field, or a malformed filter value.
    """
    from workbench.runs import RUN_KINDS, list_runs

    if kind is not None and kind not in RUN_KINDS:
        raise ParameterError(f"kind must be one of {RUN_KINDS} or None; got {kind!r}")
    found = list(runs) if runs is not None else list_runs(root)
    if kind is not None:
        found = [r for r in found if r.kind == kind]
    return RunsView(found, metrics=metrics, params=params, baseline=baseline, sort_by=sort_by,
                    descending=descending, filter=filter or "")

