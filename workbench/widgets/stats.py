"""The label statistics grid: per-label counts against the minimum, readiness, what is missing.

>>> grid = StatsGrid(labels, watch=labeler)   # doctest: +SKIP  (refreshes after every change)
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import ipywidgets as w
import traitlets

from workbench.errors import ParameterError
from workbench.labels import LABEL_COLORS
from workbench.widgets.dispatch import Dispatcher

if TYPE_CHECKING:
    from workbench.labels import Labels
    from workbench.labels.stats import LabelStats
    from workbench.widgets.labeler import Labeler


def code_spans(text: str) -> str:
    """``text`` escaped for HTML, each `command` in backticks shown as ``<code>`` (the grid showed the backticks).

    Parameters
    ----------
    text : str
        Plain text, commands between backticks.
    """
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


class StatsGrid(w.VBox):
    """Per-label counts against the minimum ("25/10 ✓"), readiness for training and what is missing.

    Parameters
    ----------
    labels : workbench.labels.Labels
        The label store whose :meth:`stats` are shown.
    watch : Labeler or None
        Refresh whenever this labeler changes a label (its ``revision`` trait).
    """

    #: Whether the labels are ready for training (set on every refresh).
    ready = traitlets.Bool(False)
    #: The last refresh's error ("Type: message"), or "".
    error = traitlets.Unicode("")

    def __init__(self, labels: Labels, *, watch: Labeler | None = None) -> None:
        if not callable(getattr(labels, "stats", None)):
            raise ParameterError(f"labels must be a workbench.labels.Labels (with .stats()); got {type(labels).__name__}")
        if watch is not None and not (isinstance(watch, traitlets.HasTraits) and watch.has_trait("revision")):
            raise ParameterError(f"watch must be a Labeler (with a 'revision' trait) or None; got {type(watch).__name__}")
        super().__init__()
        self.labels = labels
        self._dispatch = Dispatcher(self._show_error)
        self._build()
        if watch is not None:
            watch.observe(self._dispatch.wrap(lambda _c: self.refresh()), "revision")
        self.refresh()

    def _build(self) -> None:
        self.add_class("wb-stats")
        self._html = w.HTML()
        self._html.add_class("wb-stats-table")
        self._refresh_btn = w.Button(description="refresh", layout=w.Layout(width="90px"))
        self._refresh_btn.add_class("wb-stats-refresh")
        self._refresh_btn.on_click(self._dispatch.wrap(lambda _b: self.refresh()))
        self.children = [self._html, self._refresh_btn]

    def refresh(self) -> None:
        """Re-read the statistics and redraw (clears :attr:`error`)."""
        self.error = ""
        self._html.value = self.to_html(self.labels.stats())

    def _show_error(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        self._html.value = f"<div class='wb-error' style='color:#b91c1c'>⚠ {html.escape(self.error)}</div>"

    def to_html(self, stats: LabelStats) -> str:
        """The grid as HTML (also sets :attr:`ready`).

        Parameters
        ----------
        stats : LabelStats
            As returned by :meth:`workbench.labels.Labels.stats`.

        Returns
        -------
        str
            One cell per label ("count/minimum" with ✓ or ✗), the coverage line and the verdict
            (ready, or the list of what is missing).
        """
        self.ready = bool(stats.ready)
        cells = []
        for label, count, minimum, ok in stats.table():
            mark = "✓" if ok else "✗"
            color = LABEL_COLORS.get(label, "#64748b")
            cells.append(
                f"<div class='wb-stat' data-label='{html.escape(label)}' data-ok='{int(bool(ok))}' "
                f"style='border-left:6px solid {color};padding:4px 10px;min-width:110px;"
                f"background:{'#f0fdf4' if ok else '#fef2f2'}'>"
                f"<div style='font-weight:bold'>{html.escape(label)}</div>"
                f"<div style='font-size:16px'>{count}/{minimum} "
                f"<span style='color:{'#15803d' if ok else '#b91c1c'}'>{mark}</span></div></div>")
        grid = f"<div style='display:flex;flex-wrap:wrap;gap:6px'>{''.join(cells)}</div>"
        summary = code_spans(stats.coverage(
            "pick a label (buttons or keys 1-7) and drag across the waveform in the labeler above, or add a file "
            "of them with `workbench labels import FILE` (JSON, CSV or JAMS)"))  # a command in code type, no backticks
        if stats.ready:
            # the classes it trains on: those in use (a label with none is no class, its ✗ no blocker)
            used = [name for name, n, _, _ in stats.table() if n]
            unused = [name for name, n, _, _ in stats.table() if not n]
            left = f" ({', '.join(unused)}: no labels, left out)" if unused else ""
            verdict = ("<div class='wb-ready' style='color:#15803d;font-weight:bold'>ready to train ✓</div>"
                       f"<div class='wb-classes'>trains on {len(used)} classes: {', '.join(used)}{html.escape(left)}</div>")
        else:
            missing = "".join(f"<li>{code_spans(m)}</li>" for m in stats.missing)
            verdict = (f"<div class='wb-not-ready' style='color:#b91c1c;font-weight:bold'>not ready to train</div>"
                       f"<ul class='wb-missing' style='margin:2px 0'>{missing}</ul>")
        return f"<div class='wb-stats-grid'>{grid}<div style='margin-top:4px'>{summary}</div>{verdict}</div>"
