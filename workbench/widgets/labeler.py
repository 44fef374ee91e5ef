"""The labeling widget: mark a track's sections (intro, build, drop, ...) on its beat grid.

A view over :class:`workbench.labels.Labels`; it holds no labeling rules of its own. State is
in traitlets (``track_id``, ``current_label``, ``start_beat``, ``end_beat``, ``selected_id``,
``message``, ``suggestions``, ``revision``) and every user action is a method, so a test (or
a notebook cell) drives it exactly as the buttons do:

>>> lab = Labeler(workbench.Library())     # doctest: +SKIP
>>> lab.choose("drop"); lab.set_range(64, 96); lab.add()   # doctest: +SKIP
>>> lab.undo()                              # doctest: +SKIP

Keyboard (with the mouse over the picture or the label buttons): 1-7 choose a label, Enter
adds, Backspace undoes, Delete deletes the selected label. Click the picture to set the start
beat, shift-click to set the end beat.

When a new label or an accepted suggestion overlaps your labels, the page's choice
(:attr:`Labeler.overlap`: ask, keep mine, replace, split) says what happens; "ask" refuses with a
message naming the labels in the way. Undo and redo act on the shown track only. Suggestions
(``suggest="active"``: the active section model, else novelty boundaries) are accepted or
rejected (stored) from the list, uncertain ones marked; the track's status and "next unlabelled"
/ "least certain" buttons move through the library; the bar phase and grid can be corrected.

This module holds the state and the editing actions; :mod:`~workbench.widgets.labeler_review`
the suggestion, status and grid actions; :mod:`~workbench.widgets.labeler_view` builds the
controls and draws the picture, the table and the messages.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import numpy as np
import traitlets

from workbench.errors import ParameterError, WorkbenchError
from workbench.labels import ADD_OVERLAP_OPTIONS, LABELS, Label, Suggestion
from workbench.library import Library, Track
from workbench.widgets.dispatch import Dispatcher
from workbench.widgets.labeler_review import LabelerReview, suggest_function
from workbench.widgets.labeler_view import _NONE, LabelerView, _cls
from workbench.widgets.trackview import DISPLAY_SR, TrackView, load_display_audio, wav_bytes

if TYPE_CHECKING:
    from workbench.labels import BeatGrid, Labels

#: Keys handled by the keyboard shortcuts (besides "1".."7").
KEYS = {"Enter": "add", "Backspace": "undo", "Delete": "delete"}
_PLAY_FROM_BEAT_S = 30.0  # play(start_beat=...) plays this long at most

SuggestSource = Callable[[Track], Sequence[Suggestion]] | Sequence[Suggestion] | str


class Labeler(LabelerReview, LabelerView, w.VBox):
    """Label a track's sections on its beat grid, one track after another.

    Parameters
    ----------
    library : Library
        The library whose tracks are labeled (labels are stored in its database).
    tracks : sequence of Track or None
        The tracks to move through; ``None`` means all of the library's tracks.
    track : Track, int or None
        The track shown first (default: the first of ``tracks``).
    labels : workbench.labels.Labels or None
        The label store; ``None`` makes ``Labels(library)``.
    suggest : callable, sequence of Suggestion, "active" or None
        Model suggestions: a function ``track -> list[Suggestion]`` (e.g. a section
        classifier's), a fixed list (those of the shown track are used), or ``"active"``:
        :func:`workbench.widgets.suggest.active_suggester` (the active section model, else
        novelty boundaries).
    autoplay : bool
        Start playback when :meth:`play` is called (set False in tests).
    width_px : int
        Width of the track picture in pixels.
    """

    track_id = traitlets.Int(None, allow_none=True)
    current_label = traitlets.Unicode(LABELS[0])
    start_beat = traitlets.Int(0)
    end_beat = traitlets.Int(0)
    selected_id = traitlets.Int(None, allow_none=True)
    message = traitlets.Unicode("")
    error = traitlets.Unicode("")
    notes = traitlets.List(traitlets.Unicode())
    suggestions = traitlets.List(trait=traitlets.Instance(Suggestion))
    revision = traitlets.Int(0)
    overlap = traitlets.Enum(ADD_OVERLAP_OPTIONS, "refuse")
    status = traitlets.Unicode("")

    def __init__(self, library: Library, *, tracks: Sequence[Track] | None = None,
                 track: Track | int | None = None, labels: Labels | None = None, suggest: SuggestSource | None = None,
                 autoplay: bool = True, width_px: int = 1400) -> None:
        from workbench.labels.api import Labels

        if not isinstance(library, Library):
            raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
        if suggest is not None and not callable(suggest) and suggest != "active" and (
                isinstance(suggest, str) or not isinstance(suggest, Sequence)):
            raise ParameterError(f"suggest must be a function track -> list of Suggestion, a list of Suggestion, "
                                 f"'active' or None; got {suggest!r}")
        super().__init__()
        self.library = library
        self.labels = Labels(library) if labels is None else labels
        self.tracks: list[Track] = list(library.tracks() if tracks is None else tracks)
        self.suggest = suggest
        self._suggest_fn = suggest_function(library, suggest)
        self._suggest_failed: set[int] = set()
        self.autoplay = autoplay
        self.width_px = width_px
        self.grid: BeatGrid | None = None
        self.track: Track | None = None
        self.player: w.Audio | None = None
        self._views: OrderedDict[int, tuple[TrackView, np.ndarray, int]] = OrderedDict()
        self._hold = 0
        self._rows: list[Label] = []
        self._prefetched: dict[int, Future[tuple[np.ndarray, int]]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._dispatch = Dispatcher(lambda exc: self._say("error", f"unexpected {type(exc).__name__}: {exc}"))
        self._build()
        if track is not None:
            self.show_track(track)
        elif self.tracks:
            self.show_track(self.tracks[0])
        else:
            self._say("error", "The library has no tracks: run `make demo` (or `workbench scan <folder>`) first.")

    # -- actions ------------------------------------------------------------------------
    def show_track(self, track: Track | int) -> None:
        """Show ``track`` (a Track or its id): picture, labels, suggestions.

        Parameters
        ----------
        track : Track or int
            The track or its id; one not in :attr:`tracks` is appended (errors set :attr:`error`).
        """
        try:
            t = track if isinstance(track, Track) else self.library.track(track)
            grid = self.labels.grid(t)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return
        if all(x.id != t.id for x in self.tracks):
            self.tracks.append(t)
            self._track_dd.options = [(x.name, x.id) for x in self.tracks]
        self.track, self.grid = t, grid
        self.player = None
        self._player_box.children = []
        n_beats = len(grid.beats_s)
        with self._batch():
            self.track_id = t.id
            self._track_dd.value = t.id
            self._start.max = self._end.max = n_beats
            self.start_beat, self.end_beat = 0, min(16, n_beats)
            self.selected_id = None
            self.message, self.error, self.notes = "", "", []
            self.suggestions = self._pending(t)  # after clearing: a failure shows
        i = self._index()
        self._pos.value = f"<span class='wb-pos' style='white-space: nowrap'>{i + 1} / {len(self.tracks)}</span>"
        self._prev_btn.disabled = i <= 0
        self._next_btn.disabled = i >= len(self.tracks) - 1
        self.refresh()
        self._prefetch(i + 1)

    def _prefetch(self, i: int) -> None:
        """Decode track ``i`` of ``tracks`` in the background, so moving to it is quick."""
        if not 0 <= i < len(self.tracks) or self.tracks[i].id in self._views or self.tracks[i].id in self._prefetched:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wb-labeler-decode")
        self._prefetched = {k: f for k, f in self._prefetched.items() if not f.done() or k == self.tracks[i].id}
        self._prefetched[self.tracks[i].id] = self._pool.submit(load_display_audio, self.tracks[i].path,
                                                                sr=DISPLAY_SR)

    def next_track(self) -> None:
        """Show the next track of ``tracks`` (stays on the last)."""
        i = self._index()
        if i < len(self.tracks) - 1:
            self.show_track(self.tracks[i + 1])

    def prev_track(self) -> None:
        """Show the previous track of ``tracks`` (stays on the first)."""
        i = self._index()
        if i > 0:
            self.show_track(self.tracks[i - 1])

    def choose(self, label: str) -> None:
        """Make ``label`` (one of :data:`workbench.labels.LABELS`) the label that :meth:`add` adds.

        Parameters
        ----------
        label : str
            One of :data:`workbench.labels.LABELS`; anything else sets :attr:`error`.
        """
        if label not in LABELS:
            self._say("error", f"label must be one of {', '.join(LABELS)}; got {label!r}")
            return
        self.current_label = label

    def set_range(self, start_beat: int, end_beat: int) -> None:
        """Select beats ``[start_beat, end_beat)`` (clipped to the track's grid).

        Parameters
        ----------
        start_beat, end_beat : int
            Beat indices of the selection, each clipped to ``[0, n_beats]``.
        """
        n = len(self.grid.beats_s) if self.grid is not None else 0
        with self._batch():
            self.start_beat = max(0, min(int(start_beat), n))
            self.end_beat = max(0, min(int(end_beat), n))
        self._redraw()

    def add(self) -> Label | None:
        """Store the current label over the selected beats; returns it (``None`` on error).

        The next selection starts where this one ended, with the same length.
        """
        if self.track is None:
            self._say("error", "no track shown")
            return None
        try:
            with self._caught() as caught:
                label = self.labels.add(self.track, self.current_label, start_beat=self.start_beat,
                                        end_beat=self.end_beat, source="user", overlap=self.overlap)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return None
        n = len(self.grid.beats_s)
        length = label.end_beat - label.start_beat
        with self._batch():
            self.selected_id = label.id
            self.start_beat, self.end_beat = label.end_beat, min(n, label.end_beat + length)
        self._tell(f"added {label.label} beats {label.start_beat}–{label.end_beat} (#{label.id})", caught)
        self._changed()
        return label

    def delete(self, label_id: int | None = None) -> Label | None:
        """Delete label ``label_id`` (default: the selected one); returns it (``None`` on error).

        Parameters
        ----------
        label_id : int or None
            The label's id; None deletes the selected label (:attr:`selected_id`).
        """
        target = self.selected_id if label_id is None else label_id
        if target is None:
            self._say("error", "select a label to delete first (the 'selected' menu)")
            return None
        try:
            gone = self.labels.delete(target)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return None
        with self._batch():
            self.selected_id = None
        self._tell(f"deleted {gone.label} beats {gone.start_beat}–{gone.end_beat} (#{gone.id})")
        self._changed()
        return gone

    def undo(self) -> str | None:
        """Undo the shown track's last label change; returns what was undone, or ``None``."""
        return self._history(lambda: self.labels.undo(track=self.track), "undone", "nothing to undo")

    def redo(self) -> str | None:
        """Redo the shown track's last undone change; returns what was redone, or ``None``."""
        return self._history(lambda: self.labels.redo(track=self.track), "redone", "nothing to redo")

    def play(self, start_beat: int | None = None) -> w.Audio | None:
        """Play the selected beats, or from ``start_beat`` (at most 30 s); returns the player (``None``
        on error, see :attr:`error`).

        The audio is cut from the decoded track (mono, 22.05 kHz).

        Parameters
        ----------
        start_beat : int in [0, n_beats) or None
            Play 30 s (at most, to the track's end) from this beat; None plays the selection.

        """
        if self.track is None or self.grid is None or len(self.grid.beats_s) == 0:
            self._say("error", "no track with a beat grid shown")
            return None
        if start_beat is None:
            if self.end_beat <= self.start_beat:
                self._say("error", f"select beats to play: end beat ({self.end_beat}) must be after start "
                                   f"beat ({self.start_beat})")
                return None
            a_s, b_s = self._time(self.start_beat), self._time(self.end_beat)
        else:
            n = len(self.grid.beats_s)
            if isinstance(start_beat, bool) or not isinstance(start_beat, int) or not 0 <= start_beat < n:
                self._say("error", f"start_beat must be an int in [0, {n - 1}]; got {start_beat!r}")
                return None
            a_s = self._time(start_beat)
            b_s = min(self.grid.duration_s, a_s + _PLAY_FROM_BEAT_S)
        _, y, sr = self._view_of(self.track)
        clip = y[int(a_s * sr):int(b_s * sr)]
        self.player = _cls(w.Audio(value=wav_bytes(clip, sr=sr), format="wav", autoplay=self.autoplay,
                                   controls=True), "wb-audio")
        self._player_box.children = [self.player]
        self._say("info", f"playing {a_s:.2f}–{b_s:.2f} s")
        return self.player

    def key(self, key: str) -> None:
        """Act on a key name as the browser gives it: "1".."7", "Enter", "Backspace", "Delete".

        Parameters
        ----------
        key : str
            The browser's key name; other keys are ignored.
        """
        if len(key) == 1 and key.isdigit() and 1 <= int(key) <= len(LABELS):
            self.choose(LABELS[int(key) - 1])
        elif key in KEYS:
            getattr(self, KEYS[key])()

    def click_at(self, t_s: float, *, shift: bool = False) -> None:
        """Set the start beat (or with ``shift`` the end beat) to the beat nearest ``t_s`` seconds.

        Parameters
        ----------
        t_s : float
            Time in seconds (under the mouse in the picture).
        shift : bool
            Move the end beat (kept at least one beat after the start) instead of the start beat.
        """
        if self.grid is None or len(self.grid.beats_s) == 0:
            return
        beat = int(self.grid.nearest_beat(float(t_s)))
        if shift:
            self.set_range(self.start_beat, max(beat, self.start_beat + 1))
        else:
            self.set_range(beat, max(self.end_beat, beat + 1))

    def refresh(self) -> None:
        """Re-read the track's labels and redraw the picture, the table and the menus."""
        if self.track is None:
            return
        rows = self.labels.for_track(self.track)
        ids = {r.id for r in rows}
        if self.selected_id not in ids:
            self.selected_id = None
        self._selected_dd.unobserve(self._on_selected_guarded, "value")
        self._selected_dd.options = [("—", _NONE)] + [(self._describe(r), r.id) for r in rows]
        self._selected_dd.value = _NONE if self.selected_id is None else self.selected_id
        self._selected_dd.observe(self._on_selected_guarded, "value")
        self._table.value = self._table_html(rows)
        with self._batch():
            self.suggestions = self._pending(self.track)
            self.status = self.labels.status(self.track)
        self._suggest_box.children = self._suggestion_rows()
        self._show_status()
        undo, redo = self.labels.history(track=self.track.id)
        self._undo_btn.disabled, self._redo_btn.disabled = not undo, not redo
        self._rows = rows
        self._redraw(rows)

    # -- helpers ------------------------------------------------------------------------
    def _changed(self) -> None:
        self.revision += 1
        self.refresh()

    def _history(self, fn: Callable[[], str | None], done: str, nothing: str) -> str | None:
        try:
            what = fn()
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return None
        self._tell(nothing if what is None else f"{done}: {what}")
        if what is not None:
            self._changed()
        return what

    def _index(self) -> int:
        return next((i for i, t in enumerate(self.tracks) if self.track is not None and t.id == self.track.id), -1)

    def _time(self, beat: int) -> float:
        """Seconds of a selection edge on ``beat`` (beat 0 is the track's start, as for labels)."""
        return float(self.grid.edge_s(beat))

    def _guard(self, handler: Callable[..., Any]) -> Callable[..., None]:
        """Wrap a browser event handler: run it on the thread that built the widget (where the
        library's SQLite connection lives) and show an unexpected exception in the message area
        instead of letting it vanish into JupyterLab's log console."""
        return self._dispatch.wrap(handler)

    @contextmanager
    def _caught(self) -> Iterator[list[str]]:
        """Collect the :class:`LabelWarning` messages of an edit (shown as notes)."""
        from workbench.labels import LabelWarning

        notes: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LabelWarning)
            yield notes
        notes += [str(c.message) for c in caught if issubclass(c.category, LabelWarning)]

    @contextmanager
    def _batch(self) -> Iterator[None]:
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1

    def _say(self, kind: str, text: str) -> None:
        """Show ``text`` as an error (``kind="error"``) or as information; clears the notes."""
        with self._batch():
            self.notes = []
            self.error, self.message = (text, "") if kind == "error" else ("", text)

    def _tell(self, text: str, notes: Sequence[str] = ()) -> None:
        """Report a change that worked, with its warnings as notes."""
        with self._batch():
            self.error, self.message, self.notes = "", text, list(notes)

    # -- observers ----------------------------------------------------------------------
    def _on_track_dd(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and (self.track is None or change["new"] != self.track.id):
            self.show_track(change["new"])

    def _on_selected_dd(self, change: dict[str, Any]) -> None:
        self.selected_id = None if change["new"] in (None, _NONE) else change["new"]
        self._table.value = self._table_html(self._rows)
        self._redraw()

    def _on_range(self, _change: dict[str, Any]) -> None:
        self._redraw()

    def _on_dom_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "keydown":
            self.key(str(event.get("key", "")))
        elif kind == "click" and self._views and self.track is not None and self.track.id in self._views:
            geom = self._views[self.track.id][0].geometry
            x = event.get("arrayX")
            if geom is not None and x is not None:
                self.click_at(geom.time_of(float(x)), shift=bool(event.get("shiftKey")))
