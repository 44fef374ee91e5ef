"""Undo and redo of label edits: one :class:`~workbench.labels.Labels` instance's history, per track.

Each edit is recorded as a :class:`~workbench.labels.rows.Step` (rows before and after: labels,
and the rejections of suggestions); undo and redo replay it in one write transaction, refusing
(and changing nothing) when a row it touches has changed since -- another kernel's edit -- or
would now overlap a newer label.

The history is kept in the order edits were made, and each step knows its tracks:
``undo(track=T)`` undoes the last edit *of track T* (an edit of another track made since is left
alone), ``undo()`` the last edit of any track. A step that spans several tracks (an import) is
undone with ``undo()`` only; ``undo(track=T)`` refuses it with a message saying so. A new edit
clears the redo steps of its own tracks only.

A label's seconds are derived from its beats and the track's grid: comparing rows before an undo
ignores ``start_s``/``end_s`` (a grid nudge re-times the labels, see
:meth:`Labels.nudge_grid`), and a restored label gets the seconds of the grid as it is now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from workbench.labels import rows
from workbench.labels.core import Label, LabelError
from workbench.store import Store

#: How many edits :meth:`Labels.undo` can go back.
HISTORY_LIMIT: int = 1000

Timer = Callable[[Label], Label]


def _same(a: rows.Row | None, b: rows.Row | None) -> bool:
    """Rows equal but for a label's seconds (derived from the grid, which a nudge moves)."""
    if isinstance(a, Label) and isinstance(b, Label):
        return replace(a, start_s=0.0, end_s=0.0) == replace(b, start_s=0.0, end_s=0.0)
    return a == b


class History:
    """The undo and redo stacks of one :class:`~workbench.labels.Labels` (in memory, per instance)."""

    def __init__(self) -> None:
        self._undo: list[rows.Step] = []
        self._redo: list[rows.Step] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def steps(self, *, track: int | None = None) -> tuple[list[str], list[str]]:
        """Descriptions of the undo and redo steps (of ``track``, or all), oldest first.

        Parameters
        ----------
        track : int or None
            A track id; None: every track's.
        """
        def _pick(stack: list[rows.Step]) -> list[str]:
            return [s.description for s in stack if track is None or track in s.tracks]
        return _pick(self._undo), _pick(self._redo)

    def record(self, description: str, changes: list[rows.Change]) -> None:
        """Push a new edit (the oldest beyond :data:`HISTORY_LIMIT` is dropped); clears the redo
        steps of the tracks it touches.

        Parameters
        ----------
        description : str
            The edit, in words.
        changes : list of Change
            Each row's before and after.
        """
        step = rows.Step(description, tuple(changes))
        self._undo.append(step)
        del self._undo[:-HISTORY_LIMIT]
        self._redo[:] = [s for s in self._redo if not s.tracks & step.tracks]

    @staticmethod
    def _pick(stack: list[rows.Step], track: int | None, verb: str) -> int | None:
        """Index in ``stack`` of the step to undo/redo for ``track`` (None: the last of all)."""
        if track is None:
            return len(stack) - 1 if stack else None
        for i in range(len(stack) - 1, -1, -1):
            if track in stack[i].tracks:
                if len(stack[i].tracks) > 1:
                    others = ", ".join(str(t) for t in sorted(stack[i].tracks - {track}))
                    raise LabelError(f"cannot {verb} '{stack[i].description}' for track {track} alone: it also "
                                     f"changed track(s) {others}; {verb} it for every track with {verb}() "
                                     "(no track)")
                return i
        return None

    def undo(self, store: Store, *, track: int | None = None, timer: Timer | None = None) -> str | None:
        """Undo the last edit (of ``track``, or of any track) in ``store``; its description, ``None`` when there is none.

        Parameters
        ----------
        store : Store
            The library's store; the change is one write transaction.
        track : int or None
            A track id: undo that track's last edit; None: the last edit of any track.
        timer : callable or None
            ``label -> label`` with the seconds of the track's current grid (for restored labels).

        Raises
        ------
        LabelError
            A row the edit touched has changed since (another kernel edited it), restoring
            would overlap a label added since, or (with ``track``) the edit spans other tracks:
            nothing is changed and the history is kept.
        """
        i = self._pick(self._undo, track, "undo")
        if i is None:
            return None
        step = self._undo[i]
        self._apply(store, [rows.Change(c.after, c.before) for c in reversed(step.changes)], "undo",
                    step.description, timer)
        self._redo.append(self._undo.pop(i))
        return step.description

    def redo(self, store: Store, *, track: int | None = None, timer: Timer | None = None) -> str | None:
        """Redo the last undone edit (of ``track``, or of any track) in ``store``; its description, ``None`` when there is none.

        Parameters
        ----------
        store : Store
            The library's store; the change is one write transaction.
        track : int or None
            A track id, or None for any track (as for :meth:`undo`).
        timer : callable or None
            As for :meth:`undo`.

        Raises
        ------
        LabelError
            As for :meth:`undo`.
        """
        i = self._pick(self._redo, track, "redo")
        if i is None:
            return None
        step = self._redo[i]
        self._apply(store, list(step.changes), "redo", step.description, timer)
        self._undo.append(self._redo.pop(i))
        return step.description

    def _apply(self, store: Store, changes: list[rows.Change], verb: str, description: str,
               timer: Timer | None) -> None:
        """Move each row from ``before`` to ``after``, refusing if a row is not as expected.

        A row that comes back (its deletion undone) gets a new id when another kernel's row has
        taken its old one meanwhile; the history is updated to the new id.
        """
        ids: dict[tuple[type, int], int] = {}
        with store.transaction() as conn:
            for c in changes:
                kind = c.kind
                c = rows.Change(*(None if x is None else replace(x, id=ids.get((kind, x.id), x.id))
                                  for x in (c.before, c.after)))
                row_id = (c.before or c.after).id  # type: ignore[union-attr]
                now = rows.read(conn, row_id, kind)
                if c.before is None and now is not None:  # the old id was reused by another row
                    now, ids[(kind, row_id)], row_id = None, 0, 0
                if not _same(now, c.before):
                    what = "label" if kind is Label else "rejection"
                    state = "was deleted" if now is None else f"is now {now.describe()}"
                    raise LabelError(f"cannot {verb} '{description}': {what} {row_id} changed since this edit "
                                     f"(it {state}; another kernel?); nothing was changed")
                if c.after is None:
                    rows.delete(conn, replace(c.before, id=row_id))  # type: ignore[type-var]
                    continue
                after = c.after
                if isinstance(after, Label):
                    if timer is not None:
                        after = timer(after)
                    hits = rows.overlapping(rows.on_track(conn, after.track_id), after.start_beat, after.end_beat,
                                            ignore=row_id)
                    if hits:
                        raise LabelError(f"cannot {verb} '{description}': {after.describe()} would overlap "
                                         f"{hits[0].describe()} (id {hits[0].id}), added since; nothing was changed")
                stored = rows.write(conn, replace(after, id=row_id), insert=c.before is None)
                if (kind, c.after.id) in ids:
                    ids[(kind, c.after.id)] = stored.id
        if ids:
            self._renumber(ids)

    def _renumber(self, ids: dict[tuple[type, int], int]) -> None:
        """Point the history at the new ids of rows that came back under a new id."""
        def _fix(x: rows.Row | None) -> rows.Row | None:
            return x if x is None or (type(x), x.id) not in ids else replace(x, id=ids[(type(x), x.id)])

        for stack in (self._undo, self._redo):
            stack[:] = [rows.Step(st.description, tuple(rows.Change(_fix(c.before), _fix(c.after)) for c in st.changes))
                        for st in stack]
