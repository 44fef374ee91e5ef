"""A notebook widget to compare runs: pick runs, see parameters, metrics (best marked) and curves.

>>> w = CompareWidget()            # doctest: +SKIP
>>> w                              # shows the picker and the comparison
>>> w.select(["<run a>", "<run b>"])   # the same as picking them with the mouse

The view is :meth:`workbench.experiments.Comparison._repr_html_`; the widget holds no logic of
its own beyond choosing runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.experiments import Comparison


class CompareWidget:
    """Pick runs from ``experiments/`` and compare them.

    Parameters
    ----------
    root : experiments folder (default :func:`workbench.config.experiments_dir`)
    differences_only : bool
        Initial state of the "differences only" checkbox for parameters.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, differences_only: bool = True) -> None:
        import ipywidgets as w

        self.root = root
        self.picker = w.SelectMultiple(options=[], description="runs", rows=8,
                                       layout=w.Layout(width="520px"))
        self.picker.add_class("wb-compare-runs")
        self.differences = w.Checkbox(value=differences_only, description="differences only", indent=False)
        self.differences.add_class("wb-compare-differences")
        self.refresh_button = w.Button(description="Refresh list", icon="refresh")
        self.refresh_button.add_class("wb-compare-refresh")
        self.view = w.HTML()
        self.view.add_class("wb-compare-view")
        self.picker.observe(lambda _: self._render(), names="value")
        self.differences.observe(lambda _: self._render(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.widget = w.VBox([w.HBox([self.picker, w.VBox([self.differences, self.refresh_button])]), self.view])
        self.comparison: Comparison | None = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the run folders (keeps the selection where the runs still exist)."""
        from workbench.runs import list_runs

        keep = [r for r in self.picker.value]
        ids = [r.run_id for r in list_runs(self.root)]
        self.picker.options = list(reversed(ids))  # newest first
        self.picker.value = tuple(r for r in keep if r in ids)
        self._render()

    def select(self, run_ids: Sequence[str]) -> None:
        """Compare these runs (ids as listed)."""
        unknown = [r for r in run_ids if r not in self.picker.options]
        if unknown:
            raise ParameterError(f"run_ids must be runs under experiments/ ({len(self.picker.options)} found); "
                                 f"got unknown {unknown}")
        self.picker.value = tuple(run_ids)

    def set_differences_only(self, flag: bool) -> None:
        """Show only differing parameters (True) or all (False)."""
        self.differences.value = bool(flag)

    def _render(self) -> None:
        from workbench.experiments import compare

        if not self.picker.value:
            self.comparison = None
            n = len(self.picker.options)
            self.view.value = (f"<p><i>{n} runs under experiments/. Pick one or more to compare.</i></p>" if n
                               else "<p><i>No runs yet under experiments/: train a model first.</i></p>")
            return
        comparison = compare(list(self.picker.value), root=self.root, differences_only=self.differences.value)
        self.comparison = comparison
        self.view.value = comparison._repr_html_()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"CompareWidget({len(self.picker.options)} runs, selected={list(self.picker.value)})"


