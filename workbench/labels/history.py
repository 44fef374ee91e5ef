"""Undo and redo of label edits: one :class:`~workbench.labels.Labels` instance's history.

Each edit is recorded as a :class:`~workbench.labels.rows.Step` (rows before and after); undo and
redo replay it in one write transaction, refusing (and changing nothing) when a row it touches
has changed since -- another kernel's edit -- or would now overlap a newer label.
"""

from __future__ import annotations

from dataclasses import replace

from workbench.labels import rows
from workbench.labels.core import Label, LabelError
from workbench.store import Store

#: How many edits :meth:`Labels.undo` can go back.
HISTORY_LIMIT: int = 1000


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

    def record(self, description: str, changes: list[rows.Change]) -> None:
        """Push a new edit (the oldest beyond :data:`HISTORY_LIMIT` is dropped); clears redo.

        Parameters
        ----------
        description : str
            The edit, in words.
        changes : list of Change
            Each row's before and after.
        """
        self._undo.append(rows.Step(description, tuple(changes)))
        del self._undo[:-HISTORY_LIMIT]
        self._redo.clear()

    def undo(self, store: Store) -> str | None:
        """Undo the last edit in ``store``; its description, ``None`` when there is none.

        Parameters
        ----------
        store : Store
            The library's store; the change is one write transaction.

        Raises
        ------
        LabelError
            A label the edit touched has changed since (another kernel edited it), or restoring
            would overlap a label added since: nothing is changed and the history is kept.
        """
        if not self._undo:
            return None
        step = self._undo[-1]
        self._apply(store, [rows.Change(c.after, c.before) for c in reversed(step.changes)], "undo",
                    step.description)
        self._redo.append(self._undo.pop())
        return step.description

    def redo(self, store: Store) -> str | None:
        """Redo the last undone edit in ``store``; its description, ``None`` when there is none.

        Parameters
        ----------
        store : Store
            The library's store; the change is one write transaction.

        Raises
        ------
        LabelError
            As for :meth:`undo`.
        """
        if not self._redo:
            return None
        step = self._redo[-1]
        self._apply(store, list(step.changes), "redo", step.description)
        self._undo.append(self._redo.pop())
        return step.description

    def _apply(self, store: Store, changes: list[rows.Change], verb: str, description: str) -> None:
        """Move each row from ``before`` to ``after``, refusing if a row is not as expected.

        A label that comes back (its deletion undone) gets a new id when another kernel's label
        has taken its old one meanwhile; the history is updated to the new id.
        """
        ids: dict[int, int] = {}
        with store.transaction() as conn:
            for c in changes:
                c = rows.Change(*(None if x is None else replace(x, id=ids.get(x.id, x.id)) for x in (c.before, c.after)))
                label_id = (c.before or c.after).id  # type: ignore[union-attr]
                now = rows.read(conn, label_id)
                if c.before is None and now is not None:  # the old id was reused by another label
                    now, ids[label_id], label_id = None, 0, 0
                if now != c.before:
                    state = "was deleted" if now is None else f"is now {now.describe()}"
                    raise LabelError(f"cannot {verb} '{description}': label {label_id} changed since this edit "
                                     f"(it {state}; another kernel?); nothing was changed")
                if c.after is None:
                    conn.execute("DELETE FROM labels WHERE id = ?", (label_id,))
                    continue
                hits = rows.overlapping(rows.on_track(conn, c.after.track_id), c.after.start_beat, c.after.end_beat,
                                        ignore=label_id)
                if hits:
                    raise LabelError(f"cannot {verb} '{description}': {c.after.describe()} would overlap "
                                     f"{hits[0].describe()} (id {hits[0].id}), added since; nothing was changed")
                stored = rows.write(conn, replace(c.after, id=label_id), insert=c.before is None)
                if c.after.id in ids:
                    ids[c.after.id] = stored.id
        if ids:
            self._renumber(ids)

    def _renumber(self, ids: dict[int, int]) -> None:
        """Point the history at the new ids of labels that came back under a new id."""
        def _fix(x: Label | None) -> Label | None:
            return x if x is None or x.id not in ids else replace(x, id=ids[x.id])

        for stack in (self._undo, self._redo):
            stack[:] = [rows.Step(st.description, tuple(rows.Change(_fix(c.before), _fix(c.after)) for c in st.changes))
                        for st in stack]

