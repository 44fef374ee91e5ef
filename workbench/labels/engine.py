"""The pure pieces of :class:`workbench.labels.api.Labels`' write path: check a span, snap seconds
to beats, make room for a label (refuse, replace or split the labels it overlaps).

Split out of :mod:`workbench.labels.api`; ``Labels._validate``, ``Labels._snap`` and
``Labels._place`` delegate here.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace

from workbench.labels import rows
from workbench.labels.core import (
    MIN_BEATS,
    SNAP_NOTE_S,
    SOURCES,
    WARN_BEATS,
    BeatGrid,
    Label,
    LabelError,
    check_beat,
    check_choice,
    check_confidence,
    check_label,
)


def validate_span(grid: BeatGrid, label: object, start_beat: object, end_beat: object,
                  source: object = "user", confidence: object = None) -> tuple[dict, list[str]]:
    """The checked fields of a label, and the warnings it deserves.

    Parameters
    ----------
    grid : BeatGrid
        The track's beat grid.
    label : str
        One of :data:`workbench.labels.LABELS`.
    start_beat, end_beat : int
        Beat indices, ``0 <= start_beat < end_beat <= grid.n_beats``, at least ``MIN_BEATS`` apart.
    source : {"user", "model", "import"}
    confidence : float in [0, 1] or None
        Only for ``source="model"``.

    Returns
    -------
    (dict, list of str)
        The row's fields (with seconds from the grid) and the notes (a label under ``WARN_BEATS``).

    Raises
    ------
    LabelError
        Any field outside what is allowed (the message names it and the range).
    """
    name = check_label(label)
    s, e = check_beat("start_beat", start_beat), check_beat("end_beat", end_beat)
    src = check_choice("source", source, SOURCES)
    conf = check_confidence(confidence, src)
    n = grid.n_beats
    if s < 0 or e > n:
        raise LabelError(f"start_beat={s}, end_beat={e} is outside the track: the track has {n} beats "
                         f"(start_beat >= 0, end_beat <= {n})")
    if e <= s:
        raise LabelError(f"end_beat must be after start_beat; got start_beat={s}, end_beat={e}")
    if e - s < MIN_BEATS:
        raise LabelError(f"a label must span at least {MIN_BEATS} beats; got {name} {s}-{e} ({e - s} beats)")
    notes = []
    if e - s < WARN_BEATS:
        notes.append(f"{name} {s}-{e} on track {grid.track_id} is {e - s} beats, shorter than "
                     f"{WARN_BEATS} beats: check it")
    start_s, end_s = grid.span_s(s, e)
    fields_ = dict(track_id=grid.track_id, label=name, start_beat=s, end_beat=e, start_s=start_s,
                   end_s=end_s, source=src, confidence=conf)
    return fields_, notes


def snap_span(grid: BeatGrid, start_s: object, end_s: object) -> tuple[int, int, list[str]]:
    """Snap ``start_s``/``end_s`` to the nearest beats of ``grid``; the beats and a note when one moved.

    Parameters
    ----------
    grid : BeatGrid
        The track's beat grid.
    start_s, end_s : float
        Times in seconds, inside the track (within ``SNAP_NOTE_S``), ``end_s > start_s``.

    Returns
    -------
    (int, int, list of str)
        The start and end beats, and a note saying where each end went when it moved more than
        ``SNAP_NOTE_S`` seconds.

    Raises
    ------
    LabelError
        A time that is not finite, outside the track, or an end not after its start.
    """
    for name, v in (("start_s", start_s), ("end_s", end_s)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise LabelError(f"{name} must be a finite time in seconds; got {v!r}")
    tol = SNAP_NOTE_S
    if start_s < -tol or end_s > grid.duration_s + tol:  # type: ignore[operator]
        raise LabelError(f"start_s={start_s}, end_s={end_s} is outside the track: the track is "
                         f"{grid.duration_s:.3f} s long")
    if end_s <= start_s:  # type: ignore[operator]
        raise LabelError(f"end_s must be after start_s; got start_s={start_s}, end_s={end_s}")
    t0, t1 = float(start_s), float(end_s)  # type: ignore[arg-type]
    s, e = grid.nearest_beat(t0), grid.nearest_beat(t1)
    moves = [f"{what} {t:.3f} s -> beat {b} ({grid.edge_s(b):.3f} s)"
             for what, t, b in (("start", t0, s), ("end", t1, e)) if abs(grid.edge_s(b) - t) > tol]
    notes = [f"snapped to the beat grid: {', '.join(moves)}"] if moves else []
    return s, e, notes


def place(conn: sqlite3.Connection, grid: BeatGrid, spec: dict, *, overlap: str, now: str,
          changes: list[rows.Change], ignore: int | None = None, keep_choice: bool = False) -> int:
    """Make room for ``spec`` on its track (refuse, replace or split); return how many rows it touched.

    Parameters
    ----------
    conn : sqlite3.Connection
        Inside the caller's write transaction.
    grid : BeatGrid
        The track's beat grid (seconds of trimmed pieces).
    spec : dict
        The new label's fields (``track_id``, ``label``, ``start_beat``, ``end_beat``, ...).
    overlap : {"refuse", "replace", "split"}
        What to do with stored labels the new one overlaps.
    now : str
        ISO 8601 time written as ``updated_at`` of trimmed pieces.
    changes : list of rows.Change
        Appended with every row deleted, trimmed or added (for undo).
    ignore : int or None
        A label id to leave out of the overlap check (the label being updated).
    keep_choice : bool
        Offer ``overlap='keep'`` in the refusal (where the caller takes it).

    Returns
    -------
    int
        How many stored labels the new one overlapped.

    Raises
    ------
    LabelError
        ``overlap="refuse"`` and the new label overlaps a stored one (named in the message).
    """
    existing = rows.on_track(conn, spec["track_id"])
    hits = rows.overlapping(existing, spec["start_beat"], spec["end_beat"], ignore=ignore)
    if hits and overlap == "refuse":
        raise LabelError(overlap_message(spec, hits, free_spans(existing, spec["start_beat"], spec["end_beat"],
                                                                ignore=ignore), keep=keep_choice))
    for h in hits:
        pieces = []
        if overlap == "split":
            pieces = [(a, b) for a, b in ((h.start_beat, spec["start_beat"]), (spec["end_beat"], h.end_beat))
                      if b - a >= MIN_BEATS]
        if not pieces:
            conn.execute("DELETE FROM labels WHERE id = ?", (h.id,))
            changes.append(rows.Change(h, None))
            continue
        for i, (a, b) in enumerate(pieces):
            a_s, b_s = grid.span_s(a, b)
            piece = replace(h, id=h.id if i == 0 else 0, start_beat=a, end_beat=b, start_s=a_s, end_s=b_s,
                            updated_at=now)
            stored = rows.write(conn, piece, insert=i > 0)
            changes.append(rows.Change(h if i == 0 else None, stored))
    return len(hits)


def free_spans(existing: list[Label], start_beat: int, end_beat: int, *, ignore: int | None = None,
               min_beats: int = MIN_BEATS) -> list[tuple[int, int]]:
    """The runs of beats of ``[start_beat, end_beat)`` that no label of ``existing`` covers, each at
    least ``min_beats`` long.

    Parameters
    ----------
    existing : list of Label
        The track's stored labels.
    start_beat, end_beat : int
        The beat range, end excluded.
    ignore : int or None
        A label id to leave out.
    min_beats : int
        Shorter runs are left out.

    Returns
    -------
    list of (int, int)
        ``(start_beat, end_beat)`` of each free run, in order.
    """
    out, at = [], start_beat
    for h in sorted(rows.overlapping(existing, start_beat, end_beat, ignore=ignore), key=lambda r: r.start_beat):
        if h.start_beat > at:
            out.append((at, h.start_beat))
        at = max(at, h.end_beat)
    if at < end_beat:
        out.append((at, end_beat))
    return [(a, b) for a, b in out if b - a >= min_beats]


def overlap_message(spec: dict, hits: list[Label], free: list[tuple[int, int]], *, keep: bool) -> str:
    """The refusal of a label that overlaps stored ones: which, and the choices.

    Parameters
    ----------
    spec : dict
        The new label's fields.
    hits : list of Label
        The stored labels it overlaps.
    free : list of (int, int)
        Its beats that no stored label covers (:func:`free_spans`).
    keep : bool
        Offer ``overlap='keep'``.
    """
    named = [f"{h.label} {h.start_beat}-{h.end_beat} (id {h.id})" for h in hits[:5]]
    more = f" and {len(hits) - 5} more" if len(hits) > 5 else ""
    them = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    choices = []
    if keep:
        where = ", ".join(f"{a}-{b}" for a, b in free)
        choices.append("overlap='keep' (keep yours; " + (f"store {spec['label']} on the free beats {where})" if free
                                                          else "nothing is free: it would be refused)"))
    choices += ["overlap='replace' (delete yours)", f"overlap='split' (cut yours around {spec['label']})"]
    return (f"{spec['label']} {spec['start_beat']}-{spec['end_beat']} overlaps the existing label{'s' if len(hits) > 1 else ''} "
            f"{them}{more} on track {spec['track_id']}: choose " + ", ".join(choices[:-1]) + " or " + choices[-1])


def kept_note(spec: dict, stored: list[Label]) -> list[str]:
    """A note when ``overlap="keep"`` stored ``spec`` on fewer beats than asked (trimmed or in pieces).

    Parameters
    ----------
    spec : dict
        The label as asked for.
    stored : list of Label
        The rows stored for it.
    """
    if len(stored) == 1 and (stored[0].start_beat, stored[0].end_beat) == (spec["start_beat"], spec["end_beat"]):
        return []
    where = ", ".join(f"{x.start_beat}-{x.end_beat}" for x in stored)
    return [f"{spec['label']} {spec['start_beat']}-{spec['end_beat']} kept clear of your labels: stored on beats "
            f"{where} of track {spec['track_id']}"]
