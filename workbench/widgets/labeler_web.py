"""The section labeler as a front-end widget: wavesurfer.js in the page, :mod:`workbench.labels` in the kernel.

An ``anywidget`` whose page (``js/src/labeler.js``, bundled by ``make install`` into
``workbench/widgets/static/labeler.js``) shows the waveform, spectrogram, minimap, a time line
and a ruler of 1-based bars, with the track's labels as regions to click, drag and resize
(snapped to beats or bars) and the model's suggestions as dashed regions. Every edit the page
makes is a message to this object, which applies it through :class:`workbench.labels.Labels`
(validation, overlaps, undo/redo per track) and sets its traitlets again: Python is the source
of truth, errors show on the page.

>>> lab = WebLabeler(workbench.Library(), suggest=active_suggester(library))   # doctest: +SKIP
>>> lab                                        # in a notebook cell: the page     # doctest: +SKIP
>>> lab.add("drop", start_beat=64, end_beat=96); lab.undo()                      # doctest: +SKIP

Every page action is also a method (:meth:`add`, :meth:`move`, :meth:`relabel`, :meth:`delete`,
:meth:`accept`, :meth:`reject`, :meth:`accept_all`, :meth:`undo`, :meth:`redo`,
:meth:`set_status`, :meth:`next_track`, :meth:`nudge_grid`), so a notebook cell or a test drives
it as the page does. The kernel-side actions live in :mod:`~workbench.widgets.labeler_actions`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from workbench.errors import ParameterError, WorkbenchError
from workbench.labels import LABEL_COLORS, LABELS, Suggestion
from workbench.labels.core import TRACK_STATUSES
from workbench.library import Library, Track
from workbench.widgets.dispatch import Dispatcher
from workbench.widgets.labeler_actions import LabelerActions, SuggestSource
from workbench.widgets.labeler_media import MediaCache, text_color
from workbench.wording import count_of

if TYPE_CHECKING:
    from workbench.labels import Labels

#: The bundled front end (built from js/ by ``make install``; not in git).
BUNDLE = Path(__file__).with_name("static") / "labeler.js"
BUILD_HINT = ("build it with `make install` (runs `npm ci && npm run build` in js/; needs Node.js 18+ and npm: "
              "https://nodejs.org or `apt-get install nodejs npm`)")


def _fixed(found: list[Suggestion]) -> Any:
    def _suggest(track: Track) -> list[Suggestion]:
        return [s for s in found if s.track_id == track.id]

    return _suggest


class BundleMissingError(WorkbenchError, FileNotFoundError):
    """The labeler's front-end bundle was not built."""


def _bundle() -> str:
    if not BUNDLE.is_file():
        raise BundleMissingError(f"the browser labeler's bundle {BUNDLE} is missing: {BUILD_HINT}")
    return BUNDLE.read_text(encoding="utf-8")


class WebLabeler(LabelerActions, anywidget.AnyWidget):
    """Label a track's sections with the mouse: regions on a zoomable waveform, in JupyterLab.

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
    suggest : callable or sequence of Suggestion or None
        Model suggestions: ``track -> list[Suggestion]`` (e.g. ``active_suggester(library)``)
        or a fixed list (those of the shown track are used).
    audio : bool
        Send each track's audio (Ogg Vorbis, made in the background) for playback and the
        spectrogram; False sends the peaks only (a quicker page, no sound).
    cache_peaks : bool
        Keep each track's waveform peaks in ``cache/peaks/`` beside the library's database, so
        a track is painted without decoding its file the next time.

    Raises
    ------
    BundleMissingError
        The front end was not built (``make install``).
    """

    _css = ""
    #: The shown track: id, name, duration_s, beats_s, downbeats (beat indices), bar_numbers, sent_ms.
    track = traitlets.Dict().tag(sync=True)
    #: Waveform peaks of the shown track (int8 (max, min) pairs, 100 a second).
    peaks = traitlets.Bytes(b"").tag(sync=True)
    #: Compressed audio of track ``audio_track_id`` (empty until made).
    audio = traitlets.Bytes(b"").tag(sync=True)
    audio_track_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    audio_mime = traitlets.Unicode("audio/ogg").tag(sync=True)
    #: The shown track's labels (id, label, start_beat, end_beat, start_s, end_s, source, confidence, ...).
    rows = traitlets.List().tag(sync=True)
    #: The shown track's suggestions (label, beats, seconds, bars, confidence, uncertain, uncertain_rule, model).
    suggestions = traitlets.List().tag(sync=True)
    suggest_note = traitlets.Unicode("").tag(sync=True)
    #: The tracks to move through: id, name, status.
    tracks = traitlets.List().tag(sync=True)
    statuses = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    current_label = traitlets.Unicode(LABELS[0]).tag(sync=True)
    snap = traitlets.Enum(("beat", "bar"), default_value="beat").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)
    can_redo = traitlets.Bool(False).tag(sync=True)
    #: Bumped on every stored change (the stats grid observes it).
    revision = traitlets.Int(0).tag(sync=True)
    label_names = traitlets.List(traitlets.Unicode(), list(LABELS)).tag(sync=True)
    label_colors = traitlets.Dict(dict(LABEL_COLORS)).tag(sync=True)
    label_text_colors = traitlets.Dict({k: text_color(v) for k, v in LABEL_COLORS.items()}).tag(sync=True)
    #: Milliseconds from :meth:`show_track` to the page's first paint of that track (set by the page).
    paint_ms = traitlets.Float(None, allow_none=True)

    def __init__(self, library: Library, *, tracks: Sequence[Track] | None = None, track: Track | int | None = None,
                 labels: Labels | None = None, suggest: SuggestSource | None = None, audio: bool = True,
                 cache_peaks: bool = True) -> None:
        from workbench.labels.api import Labels

        if not isinstance(library, Library):
            raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
        if suggest is not None and not callable(suggest) and not isinstance(suggest, Sequence):
            raise ParameterError(
                f"suggest must be a function track -> list of Suggestion, a list of Suggestion or None; got {suggest!r}")
        super().__init__(_esm=_bundle())
        self.library = library
        self.labels: Labels = Labels(library) if labels is None else labels
        self.track_list: list[Track] = list(library.tracks() if tracks is None else tracks)
        self.suggest = suggest
        self._suggest_fn = None if suggest is None else suggest if callable(suggest) else _fixed(list(suggest))
        self._suggested = []
        self._suggested_for: set[int] = set()
        self.send_audio = audio
        self.shown: Track | None = None
        self.media = MediaCache(Path(library.path).parent / "cache" / "peaks") if cache_peaks else MediaCache(None)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wb-labeler-audio")
        self._pending: Future[Any] | None = None
        self._generation = 0
        self.statuses = list(TRACK_STATUSES)
        # page messages may arrive on a kernel subshell thread: run them where the library's SQLite lives
        self._dispatch = Dispatcher(lambda exc: setattr(self, "error", f"unexpected {type(exc).__name__}: {exc}"))
        self.on_msg(self._dispatch.wrap(self._on_page_message))
        self._refresh_tracks()
        if track is not None:
            self.show_track(track)
        elif self.track_list:
            self.show_track(self.track_list[0])
        else:
            self.error = "The library has no tracks: run `make demo` (or `workbench scan <folder>`) first."

    # -- showing a track ---------------------------------------------------------------------
    def show_track(self, track: Track | int) -> None:
        """Show ``track`` (a Track or its id): waveform, grid, labels, suggestions, then its audio.

        Parameters
        ----------
        track : Track or int
            The track or its id; one not in the list is appended. Errors set :attr:`error`.
        """
        sent_ms = time.time() * 1000.0
        try:
            t = track if isinstance(track, Track) else self.library.track(track)
            grid = self.labels.grid(t)
            peaks, duration_s = self._peaks_of(t)
        except WorkbenchError as exc:
            self.error = str(exc)
            return
        if all(x.id != t.id for x in self.track_list):
            self.track_list.append(t)
        self.shown = t
        bars = [grid.bar_of(int(i)) for i in self._downbeat_indices(grid)]
        with self.hold_sync():
            self.selected_id = None
            self.error = ""
            self.peaks = peaks
            self.track = {"id": t.id, "name": t.name, "duration_s": max(duration_s, float(grid.duration_s)),
                          "beats_s": [round(float(b), 4) for b in grid.beats_s],
                          "downbeats": self._downbeat_indices(grid), "bar_numbers": bars, "sent_ms": sent_ms}
            self._load_labels()
            self._load_suggestions(t, now=False)
            self._refresh_tracks()
        self.message = f"{t.name}: {count_of(len(self.rows), 'label')}"
        if self.send_audio:
            self._queue_audio(t)

    def use_suggestions(self, suggest: SuggestSource | None) -> None:
        """Show suggestions from ``suggest`` from now on (e.g. after training a section model).

        Parameters
        ----------
        suggest : callable or sequence of Suggestion or None
            As in the constructor.
        """
        if suggest is not None and not callable(suggest) and not isinstance(suggest, Sequence):
            raise ParameterError(
                f"suggest must be a function track -> list of Suggestion, a list of Suggestion or None; got {suggest!r}")
        self.suggest = suggest
        self._suggest_fn = None if suggest is None else suggest if callable(suggest) else _fixed(list(suggest))
        self._suggested_for = set()
        if self.shown is not None:
            self._load_suggestions(self.shown, now=True)

    def _peaks_of(self, t: Track) -> tuple[bytes, float]:
        return self.media.peaks(t.id, t.path, t.content_hash)

    def _queue_audio(self, t: Track) -> None:
        """Send the shown track's audio (made in the background unless cached), then prefetch the
        next track's peaks and audio (so moving on paints at once). Jobs of a track no longer
        shown are dropped."""
        self._generation += 1
        cached = self.media.cached_audio(t.id)
        if cached is not None:
            self._set_audio(t.id, cached)
        else:
            self._pending = self._pool.submit(self._make_audio, t, self._generation)
        i = next((k for k, x in enumerate(self.track_list) if x.id == t.id), None)
        if i is not None and i + 1 < len(self.track_list) and self.media.cached_audio(self.track_list[i + 1].id) is None:
            self._pool.submit(self._make_audio, self.track_list[i + 1], self._generation)

    def _make_audio(self, t: Track, generation: int) -> None:
        if generation != self._generation:
            return  # the person has moved on: another track's audio comes first
        try:
            data = self.media.audio(t.id, t.path, t.content_hash)
        except Exception as exc:  # noqa: BLE001 - shown on the page, the labeler keeps working
            if self.shown is not None and self.shown.id == t.id:
                self.error = f"audio of {t.name} could not be prepared ({type(exc).__name__}: {exc}); labels still work"
            return
        if self.shown is not None and self.shown.id == t.id:
            self._set_audio(t.id, data)

    def _set_audio(self, track_id: int, data: bytes) -> None:
        with self.hold_sync():
            self.audio = data
            self.audio_track_id = track_id

    def wait_audio(self, timeout_s: float = 60.0) -> None:
        """Block until the shown track's audio is made (tests, benchmarks).

        Parameters
        ----------
        timeout_s : float
            Longest wait in seconds.
        """
        if self._pending is not None:
            self._pending.result(timeout=timeout_s)

    @staticmethod
    def _downbeat_indices(grid: Any) -> list[int]:
        import numpy as np

        if grid.downbeats_s.size == 0:
            return list(range(0, grid.n_beats, 4))
        idx = np.searchsorted(grid.beats_s, grid.downbeats_s - 1e-4)
        return sorted({int(i) for i in idx if 0 <= i < grid.n_beats})

    # -- messages from the page ----------------------------------------------------------------
    def _on_page_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        action = content.get("action")
        try:
            if action == "painted":
                if content.get("paint_ms") is not None and not content.get("audio"):
                    self.paint_ms = float(content["paint_ms"])
                if self.shown is not None and content.get("track_id") == self.shown.id \
                        and self.shown.id not in self._suggested_for and self._suggest_fn is not None:
                    self._load_suggestions(self.shown, now=True)
                return
            self.handle(action, content)
        except WorkbenchError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a page action must never kill the comm; shown on the page
            self.error = f"unexpected {type(exc).__name__}: {exc}"
