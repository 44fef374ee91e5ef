"""A notebook widget to compare runs: pick runs, see parameters, metrics (best marked) and curves.

>>> w = CompareWidget()            # doctest: +SKIP
>>> w                              # shows the picker and the comparison
>>> w.select(["<run a>", "<run b>"])   # the same as picking them with the mouse

The view is :meth:`workbench.experiments.Comparison._repr_html_`; the widget holds no logic of
its own beyond choosing runs. State is traitlets (``selected``, ``differences_only``); the
view is built in ``_build`` and only mirrors them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import ipywidgets as w
import traitlets

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.experiments import Comparison


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

    def __init__(self, root: str | os.PathLike[str] | None = None, *, differences_only: bool = True) -> None:
        super().__init__()
        self.root = root
        self.comparison: Comparison | None = None
        self.differences_only = bool(differences_only)
        self._build()
        self.observe(lambda _: self._render(), names=["selected", "differences_only"])
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
        self.children = [w.HBox([self.picker, w.VBox([self.differences, self.refresh_button])]), self.view]

    @property
    def widget(self) -> CompareWidget:
        """The widget itself (kept for notebooks that display ``x.widget``)."""
        return self

    # -- actions --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the run folders (keeps the selection where the runs still exist)."""
        from workbench.runs import list_runs

        keep = list(self.selected)
        ids = [r.run_id for r in list_runs(self.root)]
        self.picker.options = list(reversed(ids))  # newest first
        self.selected = tuple(r for r in keep if r in ids)
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

    def _render(self) -> None:
        from workbench.experiments import compare

        if not self.selected:
            self.comparison = None
            n = len(self.picker.options)
            self.view.value = (f"<p><i>{n} runs under experiments/. Pick one or more to compare.</i></p>" if n
                               else "<p><i>No runs yet under experiments/: train a model first.</i></p>")
            return
        comparison = compare(list(self.selected), root=self.root, differences_only=self.differences_only)
        self.comparison = comparison
        self.view.value = comparison._repr_html_()

    def __repr__(self) -> str:
        return f"CompareWidget({len(self.picker.options)} runs, selected={list(self.selected)})"
