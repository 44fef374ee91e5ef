"""Stored times as the tables show them: :func:`started_text` (``"2026-12-07 01:34"``, UTC) and :func:`parse_utc`.

Every stored time is ISO 8601 UTC (``run.json``'s ``created_at``, the registry's ``activated_at``); the CLI,
the reports and the widgets show it through :func:`started_text`, under a heading that names the zone
(:data:`STARTED_HEADING`, :data:`FINISHED_HEADING`). Re-exported by :mod:`workbench.runs`.
"""

from __future__ import annotations

from datetime import datetime, timezone

FINISHED_HEADING = "finished (UTC)"  # `runs list`'s column of when the run was written: the time in its id
STARTED_HEADING = "started (UTC)"  # the runs tables' column of a job's start, as the jobs table heads "updated (UTC)"


def started_text(created_at: object, *, zone: bool = False, seconds: bool = False) -> str | None:
    """A run's start (``run.json``'s ``created_at``, ISO 8601 UTC) as tables show it: ``"2026-12-07 01:34"`` (UTC).

    Every stored time the CLI and the reports show goes through here (`runs list`, `models list`, `crates list`,
    `profile show`, the run report); ``--json`` keeps the ISO value.

    Parameters
    ----------
    created_at : str or None
        As recorded.
    zone : bool
        Say the zone after a time read (``"2026-12-07 01:34 (UTC)"``), where no column header says it.
    seconds : bool
        Add the seconds (``"2026-12-07 01:34:05"``), where two times in one minute must be told apart.

    Returns
    -------
    str or None
        None where nothing was recorded; a text that is not an ISO time, unchanged (no zone claimed for it).
    """
    if created_at is None or created_at != created_at or str(created_at).strip() == "":  # None, NaN or ""
        return None
    when = parse_utc(created_at)
    if when is None:
        return str(created_at)
    return when.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) + (" (UTC)" if zone else "")


def parse_utc(recorded: object) -> datetime | None:
    """A stored ISO 8601 time as an aware UTC datetime; a time without a zone is UTC (as the store writes them).

    Parameters
    ----------
    recorded : object
        As recorded (``created_at``, ``activated_at``).

    Returns
    -------
    datetime or None
        None where it is not an ISO time.
    """
    try:
        when = datetime.fromisoformat(str(recorded))
    except ValueError:
        return None
    return when.astimezone(timezone.utc) if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
