"""A live table of training jobs for notebooks: state, progress, epoch, loss, result.

>>> w = JobsWidget(lib, refresh_s=1.0)   # doctest: +SKIP
>>> w                                     # shows the table; it refreshes every second
>>> w.stop()                              # doctest: +SKIP

The table itself is :func:`jobs_html` (plain HTML, usable without ipywidgets). Auto-refresh
runs in a daemon thread with its own read connection to the library; it is off unless
``refresh_s`` is given or :meth:`JobsWidget.start` is called. The widget is an ``ipywidgets.VBox``
whose state is traitlets (``jobs``, ``limit``); the view only mirrors ``jobs``.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import ipywidgets as w
import traitlets

from workbench.errors import ParameterError
from workbench.job_records import loss_text
from workbench.jobs import Job, headline, list_jobs
from workbench.runs import started_text
from workbench.validate import check_int

if TYPE_CHECKING:
    import os
    import sqlite3

    from workbench.library import Library

#: Badge colour of each job state (hex RGB).
STATE_COLORS: dict[str, str] = {
    "pending": "#9ca3af",
    "preparing": "#eab308",
    "training": "#3b82f6",
    "evaluating": "#a855f7",
    "completed": "#22c55e",
    "failed": "#ef4444",
}

_CELL = "padding:3px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:middle"


def _progress_bar(job: Job) -> str:
    pct = 100.0 * job.progress
    color = STATE_COLORS[job.state]
    return (f'<div title="{pct:.0f}%" style="width:120px;height:10px;background:#e5e7eb;border-radius:5px;'
            f'overflow:hidden;display:inline-block;vertical-align:middle">'
            f'<div class="wb-progress" style="width:{pct:.1f}%;height:100%;background:{color}"></div></div>'
            f' <span style="font-size:90%">{pct:.0f}%</span>')


def _data_said(job: Job) -> str:
    """What the job trained on: a sections job's labels; an embeddings job's counts are windows per class (the column
    read "labels 123" for 123 windows of 3 crates)."""
    if not job.label_counts:
        return ""
    n = sum(job.label_counts.values())
    if job.kind == "embeddings":
        k = len(job.label_counts)
        return f"{n} window{'s' if n != 1 else ''}, {k} class{'es' if k != 1 else ''}"
    return f"{n} label{'s' if n != 1 else ''}"


def jobs_html(jobs: Sequence[Job]) -> str:
    """An HTML table of ``jobs``: id, kind, coloured state, progress bar, epoch, loss, data (labels or windows), result.

    Parameters
    ----------
    jobs : sequence of Job
        The jobs, one row each, in the order given.

    Returns
    -------
    str
        A ``<table class="wb-jobs">``; a single "no training jobs yet" row when ``jobs`` is empty.
    """
    head = ("id", "kind", "state", "progress", "epoch", "loss", "data", "result", "updated (UTC)")
    rows = []
    for j in jobs:
        color = STATE_COLORS[j.state]
        state = (f'<span class="wb-state wb-state-{j.state}" style="background:{color};color:white;'
                 f'border-radius:4px;padding:1px 6px">{j.state}</span>')
        epoch = f"{j.epoch}/{j.total_epochs}" if j.epoch is not None and j.total_epochs else (
            f"0/{j.total_epochs}" if j.total_epochs else "")
        loss = html.escape(loss_text(j))
        labels = _data_said(j)
        if j.state == "failed":
            result = f'<span style="color:{STATE_COLORS["failed"]}">{html.escape(j.error or "")}</span>'
        elif j.run_id:
            result = f"<code>{html.escape(j.run_id)}</code> {html.escape(headline(j.metrics))}"
        else:
            result = ""
        cells = (str(j.id), html.escape(j.kind), state, _progress_bar(j), epoch, loss, labels, result,
                 html.escape(started_text(j.updated_at) or ""))  # as every table says a time (UTC: its heading)
        rows.append("<tr>" + "".join(f'<td style="{_CELL}{";white-space:nowrap" if h == "updated (UTC)" else ""}">{c}</td>'
                                     for h, c in zip(head, cells, strict=True)) + "</tr>")  # a time on one line
    if not rows:
        rows.append(f'<tr><td colspan="{len(head)}" style="{_CELL};color:#6b7280">no training jobs yet</td></tr>')
    header = "".join(f'<th style="{_CELL};font-weight:600">{h}</th>' for h in head)
    return (f'<table class="wb-jobs" style="border-collapse:collapse;font-size:13px">'
            f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


class JobsWidget(w.VBox):
    """A notebook table of the library's training jobs, refreshed on demand or on a timer.

    The state is traitlets (:attr:`jobs`, :attr:`limit`); the table (:attr:`html`) is redrawn
    from :attr:`jobs` whenever it changes.

    Parameters
    ----------
    library : Library or sqlite3.Connection
        The library whose jobs are shown (its ``path`` is reopened by the refresh thread; a
        bare connection can be shown and refreshed by hand, not auto-refreshed).
    limit : int >= 1
        Show the newest ``limit`` jobs.
    refresh_s : float > 0, optional
        Refresh every ``refresh_s`` seconds in a background thread (off by default).
    """

    #: The jobs shown, newest first.
    jobs = traitlets.List()
    #: How many of the newest jobs are shown.
    limit = traitlets.Int(20)

    def __init__(self, library: Library | sqlite3.Connection, *, limit: int = 20,
                 refresh_s: float | None = None) -> None:
        check_int("limit", limit, min=1)
        super().__init__()
        self.library = library
        self.limit = limit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._build()
        self.observe(lambda change: setattr(self.html, "value", jobs_html(change["new"])), names="jobs")
        self.refresh()
        if refresh_s is not None:
            self.start(refresh_s)

    def _build(self) -> None:
        self.html = w.HTML(jobs_html([]))
        self.html.add_class("wb-jobs-table")
        self.children = [self.html]

    @property
    def widget(self) -> JobsWidget:
        """The widget itself (kept for notebooks that display ``x.widget``)."""
        return self

    def refresh(self) -> list[Job]:
        """Read the jobs again and redraw the table; return them."""
        self._show(list_jobs(self.library, limit=self.limit))
        return self.jobs

    def _show(self, jobs: list[Job]) -> None:
        if jobs == self.jobs:  # same rows: no trait change, but clear an error line left by _loop
            self.html.value = jobs_html(jobs)
        self.jobs = jobs

    @property
    def auto_refreshing(self) -> bool:
        """Whether the background refresh thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, refresh_s: float = 1.0) -> None:
        """Refresh every ``refresh_s`` seconds in a daemon thread until :meth:`stop`.

        Parameters
        ----------
        refresh_s : float > 0
            Seconds between refreshes.

        Raises
        ------
        ParameterError
            If ``refresh_s`` is not a positive number, or the library has no ``path`` (a bare
            connection cannot be reopened in the thread).
        """
        if not isinstance(refresh_s, (int, float)) or isinstance(refresh_s, bool) or refresh_s <= 0:
            raise ParameterError(f"refresh_s must be a float > 0 (seconds); got {refresh_s!r}")
        path = getattr(self.library, "path", None)
        if path is None:
            raise ParameterError(f"auto-refresh needs a Library with a .path; got {self.library!r}")
        self.stop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(path, float(refresh_s), self._stop),
                                        name="workbench-jobs-widget", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop auto-refresh (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _loop(self, path: str | os.PathLike[str], interval_s: float, stop: threading.Event) -> None:
        from workbench.store import connect

        conn = connect(path)  # sqlite connections stay in their thread
        try:
            while not stop.wait(interval_s):
                try:
                    self._show(list_jobs(conn, limit=self.limit))
                except Exception as exc:  # a busy or closed database: say so, keep trying
                    self.html.value = jobs_html(self.jobs) + f"<div style='color:#ef4444'>{html.escape(str(exc))}</div>"
        finally:
            conn.close()

    def _repr_html_(self) -> str:
        return self.html.value
