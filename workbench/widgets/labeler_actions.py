"""The browser labeler's actions in the kernel: each one a call into :mod:`workbench.labels`.

A mixin of :class:`~workbench.widgets.labeler_web.WebLabeler`; it holds no labeling rules of its
own (validation, overlaps, provenance, undo per track and track status are the label store's).
Each action sets ``message`` (what was done) or ``error`` (why not), re-reads the shown track's
labels and suggestions, and bumps ``revision`` when something was stored.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError, WorkbenchError
from workbench.labels import LABELS, Label, Suggestion, too_short_note
from workbench.labels.uncertain import unlike_note
from workbench.library import Track

if TYPE_CHECKING:
    from workbench.labels import Labels
    from workbench.library import Library

SuggestSource = Callable[[Track], Sequence[Suggestion]] | Sequence[Suggestion]
#: Choices for a suggestion that overlaps the user's labels, as the page names them.
OVERLAP_CHOICES = ("keep", "replace", "split")


def bars_text(grid: Any, start_beat: int, end_beat: int) -> str:
    """The bars beats ``[start_beat, end_beat)`` cover as a DJ counts them: "bars 1–16", "bar 3" (1-based, inclusive).

    The next section starts on bar 17, so a range's shown end is the bar of its last beat, not of ``end_beat``.

    Parameters
    ----------
    grid : workbench.labels.BeatGrid
        The track's beat grid (its ``bar_of``).
    start_beat, end_beat : int
        Beat indices, ``end_beat`` exclusive.
    """
    first, last = grid.bar_of(start_beat), grid.bar_of(max(start_beat, end_beat - 1))
    return f"bar {first}" if first == last else f"bars {first}–{last}"


class LabelerActions:
    """Kernel-side actions of the browser labeler (mixed into :class:`WebLabeler`)."""

    library: Library
    labels: Labels
    track_list: list[Track]
    shown: Track | None
    _suggest_fn: Callable[[Track], Sequence[Suggestion]] | None
    rows: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    tracks: list[dict[str, Any]]
    selected_id: int | None
    current_label: str
    message: str
    error: str
    suggest_note: str
    can_undo: bool
    can_redo: bool
    revision: int
    _suggested: list[Suggestion]
    _suggested_for: set[int]

    def show_track(self, track: Track | int) -> None:  # pragma: no cover - defined by the widget
        """Show ``track`` (implemented by :class:`~workbench.widgets.labeler_web.WebLabeler`).

        Parameters
        ----------
        track : Track or int
            The track or its id.
        """
        raise NotImplementedError

    # -- dispatch of page messages ----------------------------------------------------------------
    def handle(self, action: object, content: dict[str, Any]) -> None:
        """Run the page's ``action`` with the message's fields (unknown actions set :attr:`error`).

        Parameters
        ----------
        action : str
            One of add, update, relabel, delete, select, select_suggestion, choose, accept,
            reject, accept_all, undo, redo, status, next, shift, nudge, track.
        content : dict
            The message (its other keys are the action's arguments).
        """
        c = content
        table: dict[str, Callable[[], Any]] = {
            "add": lambda: self.add(c.get("label", self.current_label), start_beat=c.get("start_beat"),
                                    end_beat=c.get("end_beat")),
            "update": lambda: self.move(c.get("id"), start_beat=c.get("start_beat"), end_beat=c.get("end_beat")),
            "relabel": lambda: self.relabel(c.get("id"), c.get("label")),
            "delete": lambda: self.delete(c.get("id")),
            "select": lambda: self.select(c.get("id")),
            "select_suggestion": lambda: None,
            "choose": lambda: self.choose(c.get("label")),
            "accept": lambda: self.accept(c.get("index"), overlap=c.get("overlap", "keep")),
            "reject": lambda: self.reject(c.get("index")),
            "accept_all": lambda: self.accept_all(overlap=c.get("overlap", "keep")),
            "undo": self.undo,
            "redo": self.redo,
            "status": lambda: self.set_status(c.get("status")),
            "next": lambda: self.next_track(c.get("which", "unlabelled")),
            "shift": lambda: self.shift_downbeats(c.get("beats")),
            "nudge": lambda: self.nudge_grid(c.get("offset_ms")),
            "track": lambda: self.show_track(c.get("id")),
        }
        if action not in table:
            self.error = f"unknown page action {action!r}; expected one of {sorted(table)}"
            return
        table[str(action)]()

    # -- label edits ----------------------------------------------------------------------------
    def add(self, label: str, *, start_beat: int, end_beat: int) -> Label | None:
        """Store ``label`` on beats ``[start_beat, end_beat)`` of the shown track.

        Parameters
        ----------
        label : str
            One of the seven labels.
        start_beat, end_beat : int
            Beat indices (end excluded; the beat count means the track's end).

        Raises
        ------
        LabelError
            An invalid label or range, or an overlap (the page shows it in ``error``).
        """
        t = self._need_track()
        return self._edit(lambda: self.labels.add(t, label, start_beat=start_beat, end_beat=end_beat), "added",
                          select=True)

    def move(self, label_id: int, *, start_beat: int, end_beat: int) -> Label | None:
        """Move or resize stored label ``label_id`` to beats ``[start_beat, end_beat)``.

        Parameters
        ----------
        label_id : int
            The stored label.
        start_beat, end_beat : int
            The new beats (end excluded).
        """
        return self._edit(lambda: self.labels.update(label_id, start_beat=start_beat, end_beat=end_beat), "moved",
                          select=True)

    def relabel(self, label_id: int, label: str) -> Label | None:
        """Give stored label ``label_id`` the value ``label``.

        Parameters
        ----------
        label_id : int
            The stored label.
        label : str
            One of the seven labels.
        """
        return self._edit(lambda: self.labels.update(label_id, label=label), "relabelled", select=True)

    def delete(self, label_id: int | None = None) -> Label | None:
        """Delete stored label ``label_id`` (default: the selected one).

        Parameters
        ----------
        label_id : int or None
            The stored label; ``None`` deletes :attr:`selected_id`.
        """
        target = self.selected_id if label_id is None else label_id
        if target is None:
            self.error = "select a label first (click it), then delete"
            return None
        out = self._edit(lambda: self.labels.delete(target), "deleted")
        if out is not None:
            self.selected_id = None
        return out

    def select(self, label_id: int | None) -> None:
        """Select stored label ``label_id`` (``None`` clears the selection).

        Parameters
        ----------
        label_id : int or None
            A label of the shown track.
        """
        if label_id is not None and all(x["id"] != label_id for x in self.rows):
            self.error = f"label_id must be a label of the shown track {sorted(x['id'] for x in self.rows)}; got {label_id!r}"
            return
        self.selected_id = label_id
        if label_id is not None:
            row = next(x for x in self.rows if x["id"] == label_id)
            self.message = f"selected {row['label']} {row['bars']} (1-7 relabels, Delete deletes)"

    def choose(self, label: str) -> None:
        """The label new regions get (keys 1-7 with nothing selected).

        Parameters
        ----------
        label : str
            One of the seven labels.
        """
        if label not in LABELS:
            self.error = f"label must be one of {', '.join(LABELS)}; got {label!r}"
            return
        self.current_label = label
        self.message = f"drag on the waveform to draw {'an' if label[0] in 'aeiou' else 'a'} {label}"

    # -- suggestions ------------------------------------------------------------------------------
    def accept(self, index: int, *, overlap: str = "keep") -> Label | list[Label] | None:
        """Accept suggestion ``index`` with the overlap choice; undoable.

        Parameters
        ----------
        index : int
            Position in :attr:`suggestions`.
        overlap : {"keep", "replace", "split"}
            Keep the user's labels (the suggestion fills the free beats only), replace them,
            or split them around it.
        """
        s = self._suggestion(index)
        if s is None or not self._check_overlap(overlap):
            return None
        return self._edit(lambda: self.labels.accept(s, overlap=overlap), "accepted", select=False)

    def reject(self, index: int) -> Any:
        """Reject suggestion ``index`` (stored, so it is not shown again; undoable).

        Parameters
        ----------
        index : int
            Position in :attr:`suggestions`.
        """
        s = self._suggestion(index)
        if s is None:
            return None
        row = self.suggestions[index]  # in bars, as the suggestion list says it (the rejection describes beats)
        return self._edit(lambda: self.labels.reject(s), "rejected",
                          said=f"{row['label']} {row['bars']}")

    def accept_all(self, *, overlap: str = "keep") -> Any:
        """Accept every shown suggestion with one overlap choice (one undo step).

        Parameters
        ----------
        overlap : {"keep", "replace", "split"}
            As in :meth:`accept`.
        """
        if not self._check_overlap(overlap):
            return None
        if self.shown is not None and self.shown.id not in self._suggested_for:
            self._load_suggestions(self.shown, now=True)
        found = list(self._suggested)
        if not found:
            self.error = "no suggestions to accept"
            return None
        return self._edit(lambda: self.labels.accept_all(found, overlap=overlap), "accepted all")

    # -- history, status, grid -----------------------------------------------------------------------
    def undo(self) -> str | None:
        """Undo the shown track's last label change; returns what was undone."""
        return self._history(self.labels.undo, "undone", "nothing to undo on this track")

    def redo(self) -> str | None:
        """Redo the shown track's last undone change; returns what was redone."""
        return self._history(self.labels.redo, "redone", "nothing to redo on this track")

    def set_status(self, status: str) -> None:
        """Mark the shown track unlabelled, in progress, done or skipped.

        Parameters
        ----------
        status : str
            One of :attr:`statuses`.
        """
        t = self._need_track()
        self._edit(lambda: self.labels.set_status(t, status), f"{t.name} marked")

    def next_track(self, which: str = "unlabelled") -> None:
        """Show the next unlabelled track, or the one whose suggestions are least certain.

        Parameters
        ----------
        which : {"unlabelled", "uncertain"}
            The next track with status unlabelled, or the one (not done or skipped) whose
            suggestions have the lowest mean confidence (:meth:`Labels.next_track`).
        """
        if which not in ("unlabelled", "uncertain"):
            self.error = f"which must be 'unlabelled' or 'uncertain'; got {which!r}"
            return
        try:
            found = self.labels.next_track("unlabelled" if which == "unlabelled" else "least_certain",
                                          after=self.shown, suggest=self._suggest_fn)
        except WorkbenchError as exc:
            self.error = str(exc)
            return
        if found is None:
            self.message = f"no {which} track left"
            return
        self.show_track(found)

    def shift_downbeats(self, beats: int) -> None:
        """Move the shown track's bar lines by ``beats`` beats (stored as its locked correction).

        Labels stay on their beats; the page redraws the ruler.

        Parameters
        ----------
        beats : int
            +1: every bar starts one beat later; -1: one beat earlier.
        """
        t = self._need_track()
        if self._edit(lambda: self.labels.shift_downbeats(t, beats), f"bar lines moved {beats:+d} beat(s)") is not None:
            self._reshow(t)

    def nudge_grid(self, offset_ms: float) -> None:
        """Move every beat of the shown track by ``offset_ms`` (stored as its locked correction).

        Parameters
        ----------
        offset_ms : float
            Positive: the grid moves later.
        """
        t = self._need_track()
        if self._edit(lambda: self.labels.nudge_grid(t, offset_ms), f"grid nudged {offset_ms:+g} ms") is not None:
            self._reshow(t)

    # -- helpers ---------------------------------------------------------------------------------------
    def _reshow(self, t: Track) -> None:
        said = self.message
        self.show_track(t)  # the grid changed: the page redraws ruler and labels
        self.message = said

    def _need_track(self) -> Track:
        if self.shown is None:
            raise ParameterError("no track is shown: the library has no tracks")
        return self.shown

    def _check_overlap(self, overlap: object) -> bool:
        if overlap not in OVERLAP_CHOICES:
            self.error = f"overlap must be one of {', '.join(OVERLAP_CHOICES)}; got {overlap!r}"
            return False
        return True

    def _suggestion(self, index: object) -> Suggestion | None:
        if self.shown is not None and self.shown.id not in self._suggested_for:
            self._load_suggestions(self.shown, now=True)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self._suggested):
            self.error = f"suggestion index must be an int in [0, {len(self._suggested) - 1}]; got {index!r}"
            return None
        return self._suggested[index]

    def _edit(self, fn: Callable[[], Any], verb: str, *, select: bool = False, said: str | None = None) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn()  # errors (LabelError, ...) go to the page through the message handler
        notes = "; ".join(str(w.message) for w in caught)
        what = (out.describe() if hasattr(out, "describe") and not isinstance(out, str) else out if isinstance(out, str)
                else f"{len(out)} label(s)" if isinstance(out, list) else "")
        with self.hold_sync():  # type: ignore[attr-defined]
            self.error = ""
            self._after_change()
            row = next((x for x in self.rows if isinstance(out, Label) and x["id"] == out.id), None)
            if row is not None:  # a label of the shown track: in bars, as the ruler, suggestions and selection say
                what = f"{row['label']} {row['bars']}"
            if said is not None:  # the caller said it in bars itself (a rejection is no label row)
                what = said
            if select and isinstance(out, Label) and out.track_id == (self.shown.id if self.shown else None):
                self.selected_id = out.id
            self.message = f"{verb} {what}".strip() + (f" ({notes})" if notes else "")
        return out

    def _history(self, fn: Callable[..., str | None], done: str, nothing: str) -> str | None:
        out = fn(track=self._need_track().id)
        with self.hold_sync():  # type: ignore[attr-defined]
            self.error = ""
            self._after_change()
            if self.selected_id is not None and all(x["id"] != self.selected_id for x in self.rows):
                self.selected_id = None
            self.message = f"{done}: {out}" if out else nothing
        return out

    def _after_change(self) -> None:
        self._load_labels()
        if self.shown is not None:
            self._load_suggestions(self.shown)
        self._refresh_tracks()
        self.revision += 1

    def _load_labels(self) -> None:
        if self.shown is None:
            self.rows = []
            return
        grid = self.labels.grid(self.shown)
        self.rows = [{"id": x.id, "label": x.label, "start_beat": x.start_beat, "end_beat": x.end_beat,
                        "start_s": x.start_s, "end_s": x.end_s, "source": x.source, "confidence": x.confidence,
                        "model": " ".join(str(v) for v in (getattr(x, "model_name", None),
                                                           getattr(x, "model_version", None)) if v),
                        "start_bar": grid.bar_of(x.start_beat), "end_bar": grid.bar_of(x.end_beat),
                        "bars": bars_text(grid, x.start_beat, x.end_beat)}
                       for x in self.labels.for_track(self.shown)]
        undo, redo = self.labels.history(track=self.shown.id)
        self.can_undo, self.can_redo = bool(undo), bool(redo)

    def load_suggestions(self) -> None:
        """Ask the suggester for the shown track's suggestions now (the page does it after its first paint)."""
        if self.shown is not None:
            self._load_suggestions(self.shown, now=True)

    def _load_suggestions(self, t: Track, *, now: bool = True) -> None:
        """Set :attr:`suggestions`; with ``now=False`` only if the suggester already ran for ``t``
        (a model can take seconds a track: the page asks after painting the waveform)."""
        found: list[Suggestion] = []
        said = getattr(self._suggest_fn, "said", "")
        note = said if self._suggest_fn is not None else "no suggester (no section model): train one in notebook 04"
        if self._suggest_fn is not None and not now and t.id not in self._suggested_for:
            self._suggested = []
            self.suggestions = []
            self.suggest_note = "asking the model…"
            return
        if self._suggest_fn is not None:
            try:
                found = self.labels.suggestions(t, suggest=self._suggest_fn)
                self._suggested_for.add(t.id)
            except Exception as exc:  # noqa: BLE001 - shown on the page; labeling still works
                note = f"suggestions failed: {type(exc).__name__}: {exc}"
        self._suggested = found
        grid = self.labels.grid(t)
        if not found and self._suggest_fn is not None and not note.startswith("suggestions failed"):
            note = too_short_note(grid.n_beats) or note  # a track under 8 beats gets none: say why
        # with suggestions: which model made them (the page says each one's rule from ``uncertain_rule``)
        far = getattr(found[0], "unlike_labelled", None) if found else None  # the track's distance, where unlike the labelled tracks
        self.suggest_note = note if not found else said if far is None else f"{said}; {unlike_note(far)}".lstrip("; ")
        self.suggestions = [{"label": s.label, "start_beat": s.start_beat, "end_beat": s.end_beat,
                             "start_s": s.start_s, "end_s": s.end_s, "confidence": s.confidence,
                             "uncertain": bool(s.uncertain), "uncertain_rule": s.uncertain_rule if s.uncertain_below is not None else "",
                             "start_bar": grid.bar_of(s.start_beat),
                             "end_bar": grid.bar_of(s.end_beat), "bars": bars_text(grid, s.start_beat, s.end_beat),
                             "model": " ".join(str(v) for v in (s.model_name, s.model_version) if v)}
                            for s in found]

    def _refresh_tracks(self) -> None:
        found = self.labels.statuses(self.track_list)
        self.tracks = [{"id": t.id, "name": t.name, "status": found.get(t.id, "unlabelled")} for t in self.track_list]
