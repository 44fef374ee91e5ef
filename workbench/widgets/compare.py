"""A notebook widget to compare runs, as MLflow's compare view does.

>>> w = CompareWidget()            # doctest: +SKIP
>>> w                              # the runs table, a scatter, name/note editing, then the comparison
>>> w.set_columns(metrics=["accuracy", "macro_f1"], params=["lr"])   # doctest: +SKIP
>>> w.set_filter("accuracy > 0.8"); w.sort("accuracy"); w.set_baseline("<run a>")   # doctest: +SKIP
>>> w.set_scatter("accuracy", "macro_f1")                            # doctest: +SKIP
>>> w.set_notes("<run a>", name="small lr", note="tried 1e-4")       # doctest: +SKIP
>>> w.show_report("<run a>")           # the run's report.html, shown in the widget   # doctest: +SKIP
>>> w.select(["<run a>", "<run b>"])   # the same as picking them with the mouse

The runs table is :class:`workbench.report.runs_view.RunsView` (chosen metric and parameter
columns, filter, sort, names and notes, deltas against a baseline, "best" only on metrics with a
direction, report links); the side-by-side view is :meth:`workbench.experiments.Comparison._repr_html_`.
The widget holds no logic of its own: its state is traitlets (``selected``, ``differences_only``,
``metric_columns``, ``param_columns``, ``sort_by``, ``filter_text``, ``baseline``, ``scatter_x``,
``scatter_y``); the view is built in ``_build`` and only mirrors them. A bad filter or column shows
its error on the page.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import ipywidgets as w
import traitlets

from workbench.errors import ParameterError, WorkbenchError

if TYPE_CHECKING:
    from workbench.experiments import Comparison
    from workbench.report.runs_view import RunsView
    from workbench.runs import Run


def fit_output(page: str) -> str:
    """``page`` in a box as wide as the output area that scrolls sideways, for an ``ipywidgets.HTML`` value.

    An HTML widget grows to its widest content (a runs table of many columns) and the output area clips it: the
    summary line above the table then wraps at the report's width (1100 px) and its end is cut. In this box
    (``width:0; min-width:100%``: it asks for no width of its own, then takes the output area's) text wraps at
    the visible width and a wide table scrolls.

    Parameters
    ----------
    page : str
        HTML.

    Returns
    -------
    str
    """
    return f'<div class="wb-fit" style="width:0;min-width:100%;overflow-x:auto">{page}</div>'


class CompareWidget(w.VBox):
    """Pick runs from ``experiments/`` and compare them.

    The state is two traitlets, :attr:`selected` (run ids) and :attr:`differences_only`,
    linked to the picker and the checkbox; the comparison redraws whenever either changes.

    Parameters
    ----------
    root : str or os.PathLike or None
        The experiments folder; None means :func:`workbench.config.experiments_dir`.
    differences_only : bool
        Initial state of the "differences only" checkbox for parameters.
    """

    #: The run ids being compared, in the order picked.
    selected = traitlets.Tuple()
    #: Show only the parameters that differ between the selected runs.
    differences_only = traitlets.Bool(True)
    #: Metric columns of the runs table (dotted names); empty: the headline metrics recorded.
    metric_columns = traitlets.Tuple()
    #: Parameter columns of the runs table.
    param_columns = traitlets.Tuple()
    #: Sort field of the runs table ("" keeps creation order); metrics sort best first.
    sort_by = traitlets.Unicode("")
    #: Filter of the runs table (``accuracy > 0.8 and kind == sections``; text alone searches names and notes).
    filter_text = traitlets.Unicode("")
    #: The baseline run id for the delta columns and the comparison ("" for none).
    baseline = traitlets.Unicode("")
    #: Metrics on the scatter's axes ("" for none).
    scatter_x = traitlets.Unicode("")
    scatter_y = traitlets.Unicode("")

    def __init__(self, root: str | os.PathLike[str] | None = None, *, differences_only: bool = True) -> None:
        super().__init__()
        self.root = root
        self.comparison: Comparison | None = None
        self.differences_only = bool(differences_only)
        self.runs_view: RunsView | None = None
        self._runs: list[Run] = []
        self._build()
        self.observe(lambda _: self._render(), names=["selected", "differences_only", "baseline"])
        self.observe(lambda _: self._render_table(), names=["metric_columns", "param_columns", "sort_by",
                                                            "filter_text", "baseline"])
        self.observe(lambda _: self._render_scatter(), names=["scatter_x", "scatter_y"])
        self.refresh()

    # -- view -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.picker = w.SelectMultiple(options=[], description="runs", rows=8, layout=w.Layout(width="520px"))
        self.picker.add_class("wb-compare-runs")
        self.differences = w.Checkbox(value=self.differences_only, description="differences only", indent=False)
        self.differences.add_class("wb-compare-differences")
        self.refresh_button = w.Button(description="Refresh list", icon="refresh")
        self.refresh_button.add_class("wb-compare-refresh")
        self.view = w.HTML()
        self.view.add_class("wb-compare-view")
        traitlets.link((self.picker, "value"), (self, "selected"))
        traitlets.link((self.differences, "value"), (self, "differences_only"))
        self.refresh_button.on_click(lambda _: self.refresh())
        # the runs table and its controls
        self.filter_box = w.Text(description="filter", placeholder="accuracy > 0.8 and kind == sections",
                                 continuous_update=False, layout=w.Layout(width="420px"))
        self.sort_pick = w.Dropdown(description="sort by", options=[("creation order", "")])
        self.baseline_pick = w.Dropdown(description="baseline", options=[("none", "")])
        self.metric_pick = w.SelectMultiple(description="metrics", rows=6, layout=w.Layout(width="420px"))
        self.param_pick = w.SelectMultiple(description="params", rows=6, layout=w.Layout(width="360px"))
        self.table = w.HTML()
        self.table.add_class("wb-compare-table")
        self.message = w.HTML()
        traitlets.link((self.filter_box, "value"), (self, "filter_text"))
        traitlets.link((self.sort_pick, "value"), (self, "sort_by"))
        traitlets.link((self.baseline_pick, "value"), (self, "baseline"))
        traitlets.link((self.metric_pick, "value"), (self, "metric_columns"))
        traitlets.link((self.param_pick, "value"), (self, "param_columns"))
        # scatter of two metrics
        self.x_pick = w.Dropdown(description="x", options=[("-", "")])
        self.y_pick = w.Dropdown(description="y", options=[("-", "")])
        self.scatter = w.HTML()
        traitlets.link((self.x_pick, "value"), (self, "scatter_x"))
        traitlets.link((self.y_pick, "value"), (self, "scatter_y"))
        # names and notes
        self.notes_run = w.Dropdown(description="run", options=[])
        self.name_box = w.Text(description="name", layout=w.Layout(width="360px"))
        self.note_box = w.Textarea(description="note", layout=w.Layout(width="520px", height="60px"))
        self.save_notes = w.Button(description="Save name and note", icon="save",
                                   layout=w.Layout(width="auto"))  # the default width cut it: "Save name an..."
        self.notes_run.observe(lambda _: self._load_notes(), names="value")
        self.save_notes.on_click(lambda _: self._save_notes())
        self.report_button = w.Button(description="Show its report", icon="file")
        self.report_view = w.HTML()
        self.report_view.add_class("wb-compare-report")
        self.report_button.on_click(lambda _: self._show_report())
        self.children = [
            w.HTML("<b>Runs</b>"), w.HBox([self.filter_box, self.sort_pick, self.baseline_pick]),
            w.HBox([self.metric_pick, self.param_pick]), self.message, self.table,
            w.HTML("<b>Scatter of two metrics</b>"), w.HBox([self.x_pick, self.y_pick]), self.scatter,
            w.HTML("<b>Name and note</b>"), w.HBox([self.notes_run, self.name_box]),
            w.HBox([self.note_box, w.VBox([self.save_notes, self.report_button])]), self.report_view,
            w.HTML("<b>Side by side</b>"),
            w.HBox([self.picker, w.VBox([self.differences, self.refresh_button])]), self.view]

    @property
    def widget(self) -> CompareWidget:
        """The widget itself (kept for notebooks that display ``x.widget``)."""
        return self

    # -- actions --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the run folders (keeps the selection where the runs still exist)."""
        from workbench.report.runs_view import runs_view
        from workbench.runs import list_runs

        keep = list(self.selected)
        runs = list_runs(self.root)
        ids = [r.run_id for r in runs]
        self._runs = runs
        self.picker.options = list(reversed(ids))  # newest first
        self.selected = tuple(r for r in keep if r in ids)
        every = runs_view(runs=runs)
        self.metric_pick.options = every.available_metrics
        self.param_pick.options = every.available_params
        self.metric_columns = tuple(m for m in self.metric_columns if m in every.available_metrics)
        self.param_columns = tuple(p for p in self.param_columns if p in every.available_params)
        fields = [*every.available_metrics, *every.available_params, "name", "kind"]
        self.sort_pick.options = [("creation order", ""), *[(f, f) for f in fields]]
        self.baseline_pick.options = [("none", ""), *[(r.run_id + (f" · {r.notes['name']}" if r.notes["name"] else ""),
                                                       r.run_id) for r in runs]]
        self.x_pick.options = self.y_pick.options = [("-", ""), *[(m, m) for m in every.available_metrics]]
        self.notes_run.options = list(reversed(ids))
        self._render_table()
        self._render_scatter()
        self._render()

    def select(self, run_ids: Sequence[str]) -> None:
        """Compare these runs.

        Parameters
        ----------
        run_ids : sequence of str
            Run ids as listed in the picker (folder names under ``experiments/``).

        Raises
        ------
        ParameterError
            If an id is not among the listed runs.
        """
        unknown = [r for r in run_ids if r not in self.picker.options]
        if unknown:
            raise ParameterError(f"run_ids must be runs under experiments/ ({len(self.picker.options)} found); "
                                 f"got unknown {unknown}")
        self.selected = tuple(run_ids)

    def set_differences_only(self, flag: bool) -> None:
        """Show only differing parameters or all of them.

        Parameters
        ----------
        flag : bool
            True: only the parameters that differ; False: all.
        """
        self.differences_only = bool(flag)

    def set_columns(self, *, metrics: Sequence[str] | None = None, params: Sequence[str] | None = None) -> None:
        """Choose the metric and parameter columns of the runs table.

        Parameters
        ----------
        metrics : sequence of str or None
            Dotted metric names (bare names mean ``model.<name>``); None keeps the current ones.
        params : sequence of str or None
            Parameter names (``config.lr`` or ``lr``); None keeps the current ones.

        Raises
        ------
        ParameterError
            A name no run recorded.
        """
        from workbench.report.runs_view import runs_view

        probe = runs_view(runs=self._runs, metrics=metrics, params=params)  # resolves names, raises on unknown
        if metrics is not None:
            self.metric_columns = tuple(probe.metrics)
        if params is not None:
            self.param_columns = tuple(probe.params)

    def sort(self, by: str = "") -> None:
        """Sort the runs table by a metric (best first), a parameter, ``name`` or ``kind``; "" for creation order.

        Parameters
        ----------
        by : str
            The field.
        """
        options = [v for _, v in self.sort_pick.options]
        if by not in options:
            full = next((f"{p}{by}" for p in ("model.", "config.") if f"{p}{by}" in options), None)
            if full is None:
                raise ParameterError(f"by must be a metric, a parameter, name or kind ({len(options) - 1} known); "
                                     f"got {by!r}")
            by = full
        self.sort_by = by

    def set_filter(self, text: str) -> None:
        """Show only the runs that match ``text`` (see :mod:`workbench.report.runs_view`).

        Parameters
        ----------
        text : str
            ``"accuracy > 0.8 and kind == sections"``; "" shows every run.

        Raises
        ------
        ParameterError
            A field no run has, or a malformed value.
        """
        from workbench.report.runs_view import runs_view

        runs_view(runs=self._runs, filter=text)  # raises on a bad filter
        self.filter_text = text

    def set_baseline(self, run_id: str | None) -> None:
        """The run the delta columns (table and comparison) are measured against; None for none.

        Parameters
        ----------
        run_id : str or None
            A listed run id.
        """
        ids = [v for _, v in self.baseline_pick.options if v]
        if run_id is not None and run_id not in ids:
            raise ParameterError(f"run_id must be one of the {len(ids)} listed runs; got {run_id!r}")
        self.baseline = run_id or ""

    def set_scatter(self, x: str, y: str) -> None:
        """Draw metric ``y`` against metric ``x`` for every shown run.

        Parameters
        ----------
        x, y : str
            Metric names (bare names mean ``model.<name>``).
        """
        from workbench.report.runs_view import _resolve

        known = [v for _, v in self.x_pick.options if v]
        self.scatter_x, self.scatter_y = _resolve(x, known, "model.", "x"), _resolve(y, known, "model.", "y")

    def set_notes(self, run_id: str, *, name: str | None = None, note: str | None = None) -> None:
        """Name a run and/or write a note on it (stored in its folder, ``notes.json``).

        Parameters
        ----------
        run_id : str
            A listed run id.
        name, note : str or None
            None keeps the current value; "" clears it.
        """
        from workbench.runs import set_run_notes

        set_run_notes(run_id, name=name, note=note, root=self.root)
        self.refresh()

    def show_report(self, run_id: str) -> None:
        """Show a run's report below its name and note (writing ``report.html`` first if it has none).

        Parameters
        ----------
        run_id : str
            A listed run id.

        Raises
        ------
        ParameterError
            ``run_id`` is not listed.
        """
        from workbench.report import report

        run = next((r for r in self._runs if r.run_id == run_id), None)
        if run is None:
            raise ParameterError(f"run_id must be one of the {len(self._runs)} listed runs; got {run_id!r}")
        page = run.path / "report.html"
        if not page.exists():
            report(run)
        text = page.read_text(encoding="utf-8")
        self.report_view.value = fit_output(text[text.index('<div class="wb-report">'):text.rindex("</body>")])

    def _show_report(self) -> None:
        if not self.notes_run.value:
            return
        try:
            self.show_report(self.notes_run.value)
        except WorkbenchError as exc:
            self.message.value = f'<p style="color:#b91c1c">{html.escape(str(exc))}</p>'

    def _load_notes(self) -> None:
        run = next((r for r in self._runs if r.run_id == self.notes_run.value), None)
        notes = run.notes if run is not None else {"name": "", "note": ""}
        self.name_box.value, self.note_box.value = notes["name"], notes["note"]

    def _save_notes(self) -> None:
        if not self.notes_run.value:
            return
        try:
            self.set_notes(self.notes_run.value, name=self.name_box.value, note=self.note_box.value)
            self.message.value = f"<p>saved the name and note of {html.escape(self.notes_run.value)}</p>"
        except WorkbenchError as exc:
            self.message.value = f'<p style="color:#b91c1c">{html.escape(str(exc))}</p>'

    def _view(self) -> RunsView:
        from workbench.report.runs_view import runs_view

        return runs_view(runs=self._runs, metrics=list(self.metric_columns) or None,
                         params=list(self.param_columns), baseline=self.baseline or None,
                         sort_by=self.sort_by or None, filter=self.filter_text)

    def _render_table(self) -> None:
        try:
            self.runs_view = self._view()
        except WorkbenchError as exc:  # a bad filter typed in the box: say so, keep the last table
            self.message.value = f'<p style="color:#b91c1c">{html.escape(str(exc))}</p>'
            return
        self.message.value = ""
        self.table.value = fit_output(self.runs_view.to_html())
        self._render_scatter()

    def _render_scatter(self) -> None:
        from workbench.report import html as H
        from workbench.report.plots import png_bytes

        if not (self.scatter_x and self.scatter_y) or self.runs_view is None:
            self.scatter.value = "<p><i>Pick two metrics for x and y.</i></p>"
            return
        fig = self.runs_view.scatter_figure(self.scatter_x, self.scatter_y)
        self.scatter.value = H.img(png_bytes(fig), f"{self.scatter_y} against {self.scatter_x}")

    def _render(self) -> None:
        from workbench.experiments import compare

        if not self.selected:
            self.comparison = None
            n = len(self.picker.options)
            self.view.value = (f"<p><i>{n} runs under experiments/. Pick one or more to compare.</i></p>" if n
                               else "<p><i>No runs yet under experiments/: train a model first.</i></p>")
            return
        baseline = self.baseline if self.baseline in self.selected else None  # else the oldest selected run
        comparison = compare(list(self.selected), root=self.root, differences_only=self.differences_only,
                             baseline=baseline)
        self.comparison = comparison
        self.view.value = fit_output(comparison._repr_html_())

    def __repr__(self) -> str:
        return f"CompareWidget({len(self.picker.options)} runs, selected={list(self.selected)})"
