"""Render one track for labeling: waveform, spectrogram, beat grid, bars, sections, suggestions.

The static picture (waveform, mel spectrogram, beat grid, downbeats, bar numbers) is drawn
once per track with matplotlib's Agg backend and kept as a pixel buffer; each redraw restores
that buffer and draws only the overlay (sections, suggestions, the selection) on top, then
encodes a PNG. That keeps a redraw in the milliseconds whatever the track's length.

>>> view = TrackView(y, sr=22050, beats_s=beats, downbeats_s=downbeats, duration_s=360.0)  # doctest: +SKIP
>>> png = view.render(sections=labels, suggestions=[], selection=(32.1, 47.3))            # doctest: +SKIP
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from workbench.errors import ParameterError
from workbench.widgets.trackaudio import (  # noqa: F401  (re-exported: the labeler's audio)
    DISPLAY_SR,
    load_display_audio,
    mel_db,
    mel_filterbank,
    wav_bytes,
)

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from workbench.labels import Suggestion

#: Lane / waveform / spectrogram height ratios.
_HEIGHTS = (0.55, 1.3, 1.6)
_BAR_LABEL_MIN_PX = 26.0  # bar numbers at least this far apart
_LANE_PT, _TICK_PT = 10, 9  # the panels' names and "time (s)"; the bar and second numbers (readable scaled down)
_BEAT_LINE_MIN_PX = 3.0  # draw every beat only when beats are at least this far apart


class Span(Protocol):
    """Anything with a label, its colour and a time span: a Label or a Suggestion."""

    @property
    def label(self) -> str: ...

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...

    @property
    def color(self) -> str: ...


@dataclass(frozen=True)
class Geometry:
    """Where the time axis lies in the rendered image (pixels from the left) and its span (s)."""

    width_px: int
    height_px: int
    x0_px: float
    x1_px: float
    duration_s: float
    lane_y_px: float = 0.0  # the middle row of the section lane (pixels from the top)

    def time_of(self, x_px: float) -> float:
        """The time (s) under image column ``x_px``, clipped to the track.

        Parameters
        ----------
        x_px : float
            Image column in pixels from the left.
        """
        frac = (x_px - self.x0_px) / max(self.x1_px - self.x0_px, 1e-9)
        return float(np.clip(frac, 0.0, 1.0) * self.duration_s)

    def x_of(self, t_s: float) -> float:
        """The image column (px) of time ``t_s``.

        Parameters
        ----------
        t_s : float
            Time in seconds.
        """
        return self.x0_px + (t_s / self.duration_s) * (self.x1_px - self.x0_px)



class TrackView:
    """The picture of one track, with a cached background and a cheap overlay redraw.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Their sample rate in Hz.
    beats_s, downbeats_s : sequence of float
        Beat and downbeat times in seconds (may be empty: no grid drawn).
    duration_s : float > 0
        The track's length in seconds (the x axis).
    title : str
        Drawn above the picture.
    width_px, height_px : int
        Size of the image in pixels (at ``dpi``).
    """

    def __init__(self, y: np.ndarray, *, sr: int, beats_s: Sequence[float] | np.ndarray,
                 downbeats_s: Sequence[float] | np.ndarray,
                 duration_s: float, title: str = "", width_px: int = 1400, height_px: int = 430,
                 dpi: int = 100) -> None:
        y = np.asarray(y)
        if y.ndim != 1 or y.size == 0:
            raise ParameterError(f"y must be mono samples, shape (n,) with n > 0; got shape {y.shape}")
        if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
            raise ParameterError(f"sr must be an int > 0 (Hz); got {sr!r}")
        if not np.isfinite(duration_s) or duration_s <= 0:
            raise ParameterError(f"duration_s must be a finite float > 0; got {duration_s!r}")
        for name, size in (("width_px", width_px), ("height_px", height_px)):
            if isinstance(size, bool) or not isinstance(size, int) or not 200 <= size <= 8000:
                raise ParameterError(f"{name} must be an int in [200, 8000]; got {size!r}")
        self.y = y.astype(np.float32, copy=False)
        self.sr = int(sr)
        self.beats_s = np.asarray(beats_s, dtype=float)
        self.downbeats_s = np.asarray(downbeats_s, dtype=float)
        self.duration_s = float(duration_s)
        self.title = title
        self.width_px, self.height_px, self.dpi = width_px, height_px, dpi
        self._fig: Figure | None = None
        self._background: Any = None
        self._axes: tuple[Axes, Axes, Axes] | None = None
        self.geometry: Geometry | None = None
        self._text_px: dict[str, float] = {}  # a name's width in px as drawn (_fitting)

    # -- background ---------------------------------------------------------------------
    def _build(self) -> None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(self.width_px / self.dpi, self.height_px / self.dpi), dpi=self.dpi)
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)
        fig.patch.set_facecolor("white")
        gs = fig.add_gridspec(3, 1, height_ratios=_HEIGHTS, hspace=0.04, left=0.05, right=0.995,
                              top=0.90 if self.title else 0.95, bottom=0.085)
        lane = fig.add_subplot(gs[0])
        wave = fig.add_subplot(gs[1])  # not sharex: each panel keeps its own ticks
        spec = fig.add_subplot(gs[2])
        for ax in (lane, wave, spec):
            ax.set_xlim(0.0, self.duration_s)
            ax.margins(0)
        if self.title:
            fig.suptitle(self.title, x=0.05, ha="left", fontsize=11, y=0.985)
        self._draw_lane(lane)
        self._draw_waveform(wave)
        self._draw_spectrogram(spec)
        self._draw_grid((lane, wave, spec))
        canvas.draw()
        self._background = canvas.copy_from_bbox(fig.bbox)
        box = lane.get_window_extent()  # display pixels, origin at the bottom left
        self.geometry = Geometry(self.width_px, self.height_px, float(box.x0), float(box.x1), self.duration_s,
                                 lane_y_px=float(self.height_px - (box.y0 + box.y1) / 2))
        self._fig, self._axes = fig, (lane, wave, spec)

    def _draw_lane(self, ax: Axes) -> None:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_facecolor("#f8fafc")
        ax.tick_params(axis="x", which="both", top=True, labeltop=True, bottom=False, labelbottom=False,
                       labelsize=_TICK_PT, length=3, pad=1)
        ax.set_ylabel("sections", fontsize=_LANE_PT, rotation=0, ha="right", va="center")
        # Bar numbers: every k-th downbeat, k a power of two, so the labels never collide.
        if self.downbeats_s.size:
            axis_px = self.width_px * 0.96
            px_per_bar = axis_px * (np.median(np.diff(self.downbeats_s)) if self.downbeats_s.size > 1
                                    else self.duration_s) / self.duration_s
            step = 1
            while step * px_per_bar < _BAR_LABEL_MIN_PX and step < 1024:
                step *= 2
            bars = np.arange(1, self.downbeats_s.size + 1)
            keep = (bars - 1) % step == 0
            ax.set_xticks(self.downbeats_s[keep], [str(b) for b in bars[keep]])
        else:
            ax.set_xticks([])

    def _draw_waveform(self, ax: Axes) -> None:
        cols = max(200, int(self.width_px * 0.96))
        n = self.y.size
        edges = np.linspace(0, n, cols + 1).astype(int)
        edges[-1] = n
        starts = edges[:-1]
        valid = starts < n
        mx = np.maximum.reduceat(self.y, starts[valid])
        mn = np.minimum.reduceat(self.y, starts[valid])
        t = (starts[valid] / self.sr).astype(float)
        peak = float(max(np.abs(mx).max(initial=0.0), np.abs(mn).max(initial=0.0), 1e-6))
        ax.fill_between(t, mn / peak, mx / peak, color="#334155", linewidth=0, step="post")
        ax.set_ylim(-1.05, 1.05)
        ax.set_yticks([])
        ax.set_ylabel("wave", fontsize=_LANE_PT, rotation=0, ha="right", va="center")
        ax.tick_params(axis="x", bottom=False, labelbottom=False)

    def _draw_spectrogram(self, ax: Axes) -> None:
        cols = max(200, int(self.width_px * 0.96))
        hop = max(256, int(self.y.size // (2 * cols)))
        db = mel_db(self.y, sr=self.sr, hop=hop)
        ax.imshow(db.T, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                  extent=(0.0, db.shape[0] * hop / self.sr, 0, db.shape[1]))
        ax.set_xlim(0.0, self.duration_s)
        ax.set_yticks([])
        ax.set_ylabel("mel", fontsize=_LANE_PT, rotation=0, ha="right", va="center")
        ax.tick_params(axis="x", labelsize=_TICK_PT, length=3, pad=1)
        ax.set_xlabel("time (s)", fontsize=_LANE_PT, labelpad=1)

    def _draw_grid(self, axes: Iterable[Axes]) -> None:
        axis_px = self.width_px * 0.96
        if self.beats_s.size > 1:
            px_per_beat = axis_px * float(np.median(np.diff(self.beats_s))) / self.duration_s
        else:
            px_per_beat = 0.0
        for ax in axes:
            lo, hi = ax.get_ylim()
            if px_per_beat >= _BEAT_LINE_MIN_PX:
                ax.vlines(self.beats_s, lo, hi, colors="#94a3b8", linewidths=0.4, alpha=0.55, zorder=1.5)
            if self.downbeats_s.size:
                ax.vlines(self.downbeats_s, lo, hi, colors="#0f172a", linewidths=0.7, alpha=0.45, zorder=1.6)

    # -- overlay ------------------------------------------------------------------------
    def render(self, *, sections: Iterable[Span] = (), suggestions: Iterable[Suggestion] = (),
               selection: tuple[float, float] | None = None, highlight: int | None = None) -> bytes:
        """The picture with ``sections`` (filled), ``suggestions`` (dashed, with confidence) and
        the ``selection`` (start_s, end_s) outlined; PNG bytes. ``highlight`` is the id of a
        section drawn with a thick outline.

        Parameters
        ----------
        sections : iterable of Span
            Stored labels (anything with ``label``, ``start_s``, ``end_s``, ``color``; an ``id``
            for ``highlight``).
        suggestions : iterable of Suggestion
            Drawn dashed, labelled with their ``confidence``.
        selection : (float, float) or None
            Start and end of the selection in seconds; not drawn unless end > start.
        highlight : int or None
            Id of the section to outline.

        Returns
        -------
        bytes
            A PNG of ``width_px`` x ``height_px``.
        """
        from matplotlib.patches import Rectangle

        if self._fig is None or self._axes is None:
            self._build()
        lane, wave, spec = self._axes  # type: ignore[misc]  # set by _build
        canvas = self._fig.canvas
        canvas.restore_region(self._background)
        artists: list[tuple[Axes, Artist]] = []

        def add(ax: Axes, artist: Artist) -> None:
            """Draw ``artist`` on ``ax`` for this render only.

            Parameters
            ----------
            ax : matplotlib.axes.Axes
            artist : matplotlib.artist.Artist
            """
            artist.set_animated(True)
            ax.add_artist(artist)
            artists.append((ax, artist))

        # One collection per panel (not one artist per section): a redraw costs about the same
        # for 5 sections or 50.
        from matplotlib.collections import LineCollection, PolyCollection

        secs, sugg = list(sections), list(suggestions)
        # labels and suggestions together: each in its own band of the lane (labels above, suggestions below),
        # so that a name never lies on another's dashed box or name
        sec_band, sug_band = ((0.52, 0.92), (0.08, 0.48)) if secs and sugg else ((0.08, 0.92), (0.12, 0.88))
        if secs:
            colors = [s.color for s in secs]
            add(lane, PolyCollection([_box(s.start_s, s.end_s, *sec_band) for s in secs], facecolors=colors,
                                     edgecolors="white", linewidths=0.8, alpha=0.9))
            add(wave, PolyCollection([_box(s.start_s, s.end_s, -1.05, 1.05) for s in secs], facecolors=colors,
                                     linewidths=0, alpha=0.22))
            lo, hi = spec.get_ylim()
            add(spec, LineCollection([[(x, lo), (x, hi)] for s in secs for x in (s.start_s, s.end_s)],
                                     colors=[c for c in colors for _ in (0, 1)], linewidths=1.6))
            for s in secs:
                if highlight is not None and getattr(s, "id", None) == highlight:
                    add(lane, Rectangle((s.start_s, sec_band[0]), s.end_s - s.start_s, sec_band[1] - sec_band[0],
                                        facecolor="none",
                                        edgecolor="#0f172a", linewidth=2.2))
                if text := self._fitting(s.start_s, s.end_s, (s.label, _abbrev(s.label))):
                    add(lane, _span_text(lane, s.start_s, s.end_s, text, y=sum(sec_band) / 2, color="white",
                                         weight="bold"))
        if sugg:
            colors = [g.color for g in sugg]
            dashed = (0, (4, 2))
            add(lane, PolyCollection([_box(g.start_s, g.end_s, *sug_band) for g in sugg], facecolors="none",
                                     edgecolors=colors, linewidths=1.6, linestyles=[dashed]))
            add(wave, PolyCollection([_box(g.start_s, g.end_s, -1.0, 1.0) for g in sugg], facecolors="none",
                                     edgecolors=colors, linewidths=1.4, linestyles=[dashed]))
            for g in sugg:
                if text := self._fitting(g.start_s, g.end_s, (f"{g.label}? {g.confidence:.0%}", f"{g.label}?",
                                                               _abbrev(g.label))):
                    add(lane, _span_text(lane, g.start_s, g.end_s, text, y=sum(sug_band) / 2, color=g.color,
                                         weight="bold", bbox={"boxstyle": "round,pad=0.12", "facecolor": "white",
                                                              "edgecolor": "none", "alpha": 0.9}))  # over the grid
        if selection is not None:
            a, b = selection
            if b > a:
                for ax in (lane, wave, spec):
                    lo, hi = ax.get_ylim()
                    add(ax, Rectangle((a, lo), b - a, hi - lo, facecolor="#38bdf8", alpha=0.12,
                                      edgecolor="#0284c7", linewidth=1.5, linestyle=(0, (3, 2))))
        for ax, artist in artists:
            ax.draw_artist(artist)
        png = _encode_png(np.asarray(canvas.buffer_rgba()))
        for _, artist in artists:
            artist.remove()
        return png

    def _fitting(self, start_s: float, end_s: float, texts: Sequence[str]) -> str | None:
        """The first of ``texts`` (longest first) that fits between two times as drawn (8-pt bold,
        measured by the renderer, 3 px either side); None when none does (the name is left out, never cut)."""
        from matplotlib.font_manager import FontProperties

        g, prop = self.geometry, FontProperties(size=8, weight="bold")
        if g is None or self._fig is None:
            return None
        for text in texts:
            if text not in self._text_px:
                self._text_px[text] = self._fig.canvas.get_renderer().get_text_width_height_descent(text, prop, False)[0]
            if self._text_px[text] <= g.x_of(end_s) - g.x_of(start_s) - 6:
                return text
        return None

    def close(self) -> None:
        """Drop the cached figure (memory)."""
        self._fig = self._background = self._axes = None




def _box(x0: float, x1: float, y0: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _abbrev(label: str) -> str:  # a label's first three letters and an ellipsis ("chorus" -> "cho…")
    return f"{label[:3]}…" if len(label) > 4 else label


def _span_text(ax: Axes, start_s: float, end_s: float, text: str, *, y: float = 0.5, **kw: Any) -> Text:
    from matplotlib.text import Text

    text_artist = Text((start_s + end_s) / 2, y, text, ha="center", va="center", fontsize=8,
                       clip_on=True, **kw)
    return text_artist


def _encode_png(rgba: np.ndarray) -> bytes:
    """RGBA pixels (h, w, 4) to PNG bytes, fast (little compression: the image is local)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
