"""The labeler's model-suggestion, track-status and grid actions (a mixin of
:class:`~workbench.widgets.labeler.Labeler`; every rule is in :mod:`workbench.labels`).

- Accept and reject go through :meth:`workbench.labels.Labels.accept` / ``reject`` with the
  overlap choice the page offers (:attr:`Labeler.overlap`: ``refuse`` asks -- the error names your
  labels in the way and the choices --, ``keep``, ``replace``, ``split``); rejections are
  stored; both are undone per track by the undo button; the suggestion list is what is still
  pending, so an undone accept or reject shows its suggestion again.
- Uncertain suggestions (the model's calibrated confidence under its threshold -- by default 80 %,
  a calibrated chance of more than 1 in 5 that it is wrong --, or the novelty fallback) are marked
  "uncertain" in the list, and the page says the rule (:attr:`Suggestion.uncertain_rule`).
- The track's status (unlabelled, in progress, done, skipped) is set from the page; "next
  unlabelled" and "least certain" (active learning) pick the next track.
- The bar phase and the grid can be corrected (one beat, 10 ms), stored as the track's locked
  correction; labels stay on their beats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.labels import Label, Suggestion
from workbench.library import Track
from workbench.wording import count_of

if TYPE_CHECKING:
    from workbench.widgets.labeler import Labeler

#: One press of a grid nudge button, in milliseconds.
NUDGE_MS = 10.0


def suggest_function(library: Any, suggest: object) -> Callable[[Track], Sequence[Suggestion]] | None:
    """The labeler's ``suggest`` argument as a function (``"active"``: the active model's suggester).

    Parameters
    ----------
    library : Library
        For ``"active"``.
    suggest : callable, sequence of Suggestion, "active" or None
        As :class:`~workbench.widgets.labeler.Labeler` takes it.
    """
    if suggest is None or callable(suggest):
        return suggest  # type: ignore[return-value]
    if suggest == "active":
        from workbench.widgets.suggest import active_suggester

        return active_suggester(library)
    fixed = list(suggest)  # type: ignore[call-overload]

    def _from_list(track: Track) -> list[Suggestion]:
        return [s for s in fixed if s.track_id == track.id]
    return _from_list


class LabelerReview:
    """Suggestions, status and grid actions of :class:`~workbench.widgets.labeler.Labeler` (a mixin)."""

    def accept(self: Labeler, i: int) -> Label | None:
        """Accept suggestion ``i`` with the page's overlap choice (:attr:`overlap`); returns the label
        stored (``None`` on error, shown on the page).

        Parameters
        ----------
        i : int
            Index into :attr:`suggestions`; out of range sets :attr:`error`.
        """
        s = self._suggestion(i)
        if s is None:
            return None
        try:
            with self._caught() as notes:
                label = self.labels.accept(s, overlap=self.overlap)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return None
        with self._batch():
            self.selected_id = label.id
        self._tell(f"accepted {label.label} beats {label.start_beat}–{label.end_beat} (#{label.id})", notes)
        self._changed()
        return label

    def reject(self: Labeler, i: int) -> Suggestion | None:
        """Reject suggestion ``i``: stored, not shown again for this model version (undo brings it back);
        returns it (``None`` on error).

        Parameters
        ----------
        i : int
            Index into :attr:`suggestions`; out of range sets :attr:`error`.
        """
        s = self._suggestion(i)
        if s is None:
            return None
        try:
            self.labels.reject(s)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return None
        self._tell(f"rejected {s.label} beats {s.start_beat}–{s.end_beat}")
        self._changed()
        return s

    def accept_all(self: Labeler) -> list[Label]:
        """Accept every pending suggestion with the page's overlap choice, all or nothing (one undo step)."""
        if not self.suggestions:
            return []
        try:
            with self._caught() as notes:
                done = self.labels.accept_all(self.suggestions, overlap=self.overlap)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return []
        self._tell(f"accepted {count_of(len(self.suggestions), 'suggestion')} as {count_of(len(done), 'label')}", notes)
        self._changed()
        return done

    def reject_all(self: Labeler) -> int:
        """Reject every pending suggestion (one undo step); returns how many."""
        n = len(self.suggestions)
        if n:
            try:
                self.labels.reject_all(self.suggestions)
            except WorkbenchError as exc:
                self._say("error", str(exc))
                return 0
        self._tell(f"rejected {n} suggestion(s)")
        self._changed()
        return n

    def set_status(self: Labeler, status: str | None) -> str | None:
        """Store the shown track's status (``None``: back to the derived one); returns it (``None`` on error).

        Parameters
        ----------
        status : {"unlabelled", "in_progress", "done", "skipped"} or None
            The status.
        """
        if self.track is None:
            self._say("error", "no track shown")
            return None
        try:
            now = self.labels.set_status(self.track, status)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return None
        self._tell(f"{self.track.name}: {now.replace('_', ' ')}")
        self.refresh()
        return now

    def next_unlabelled(self: Labeler) -> Track | None:
        """Show the next unlabelled track of the library (after this one, wrapping round); returns it."""
        return self._go(lambda: self.labels.next_track("unlabelled", after=self.track), "no unlabelled track left")

    def next_least_certain(self: Labeler) -> Track | None:
        """Show the track whose suggestions the model is least sure of (not done or skipped); returns it."""
        if self._suggest_fn is None:
            self._say("error", "least certain needs model suggestions: make the labeler with suggest='active'")
            return None
        return self._go(lambda: self.labels.next_track("least_certain", after=self.track, suggest=self._suggest_fn),
                        "no track left to propose (all done or skipped, or no suggestions)")

    def _go(self: Labeler, pick: Callable[[], Track | None], none: str) -> Track | None:
        try:
            t = pick()
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return None
        if t is None:
            self._say("info", none)
            return None
        self.show_track(t)
        return t

    def shift_downbeats(self: Labeler, beats: int) -> None:
        """Move the shown track's bar phase by ``beats`` beats (stored, locked); labels stay on their beats.

        Parameters
        ----------
        beats : int
            ``1``: bars start one beat later; ``-1``: earlier.
        """
        self._regrid(lambda t: self.labels.shift_downbeats(t, beats))

    def nudge_grid(self: Labeler, offset_ms: float) -> None:
        """Move the shown track's beats by ``offset_ms`` ms (stored, locked); labels keep their beats.

        Parameters
        ----------
        offset_ms : float
            Milliseconds, positive later.
        """
        self._regrid(lambda t: self.labels.nudge_grid(t, offset_ms))

    def _regrid(self: Labeler, fix: Callable[[Track], Any]) -> None:
        if self.track is None:
            self._say("error", "no track shown")
            return
        try:
            c = fix(self.track)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return
        old = self._views.pop(self.track.id, None)
        if old is not None:
            old[0].close()
        self.grid = self.labels.grid(self.track)
        self._tell(f"grid corrected (locked): {c.describe()}")
        self._changed()

    def _pending(self: Labeler, t: Track) -> list[Suggestion]:
        failed = self._suggest_failed
        if self._suggest_fn is None or t.id in failed:  # a failure is said once, not on every redraw
            return []
        try:
            return self.labels.suggestions(t, suggest=self._suggest_fn)
        except WorkbenchError as exc:
            failed.add(t.id)
            self._say("error", f"suggestions failed: {exc}")
            return []

    def _suggestion(self: Labeler, i: int) -> Suggestion | None:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self.suggestions):
            self._say("error", f"suggestion index must be an int in [0, {len(self.suggestions) - 1}]; got {i!r}")
            return None
        return self.suggestions[i]
