"""Names written beside the points of a scatter, moved apart so that none covers another.

The explorer's embedding map and the runs scatter name each point (a track, a run). Points of
alike tracks sit close together, so names written at a fixed offset ran into each other. The
names are placed by adjustText (https://github.com/Phlya/adjustText), which pushes overlapping
texts apart and draws a thin line from a moved name back to its point; its random start is
seeded, so the same plot comes out the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.text import Text

#: A name longer than this many characters is cut, with an ellipsis.
MAX_NAME_CHARS = 28


def short_name(name: object, max_chars: int = MAX_NAME_CHARS) -> str:
    """``str(name)`` cut to ``max_chars`` characters, the cut said by a trailing "…".

    Parameters
    ----------
    name : object
        A track's or run's name.
    max_chars : int >= 2
        The most characters shown, the ellipsis included.
    """
    text = " ".join(str(name).split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip(" -_.,:;") + "…"


def name_points(ax: Axes, xs: Sequence[float], ys: Sequence[float], names: Sequence[object], *,
                fontsize: float = 7, max_chars: int = MAX_NAME_CHARS, dot_size: float = 60) -> list[Text]:
    """Write each name beside its point in data coordinates, then move them apart (adjustText).

    Call it after everything else is drawn on ``ax`` (the limits must be final).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes of the scatter; its figure is laid out once here.
    xs, ys : sequence of float, length n
        The points, in data coordinates.
    names : sequence, length n
        One name per point (cut to ``max_chars`` with "…").
    fontsize : float
        Points.
    max_chars : int
        See :func:`short_name`.
    dot_size : float
        The area (points², as ``scatter``'s ``s``) around each point that no name may cover.

    Returns
    -------
    list of matplotlib.text.Text
        The names as placed, in the order given; a moved name has a grey line to its point.
    """
    import numpy as np
    from adjustText import adjust_text

    from workbench.errors import ParameterError

    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if not (len(x) == len(y) == len(names)):
        raise ParameterError(f"xs, ys and names must have one entry per point; got {len(x)}, {len(y)}, {len(names)}")
    texts = [ax.text(a, b, short_name(n, max_chars), fontsize=fontsize, alpha=0.85)
             for a, b, n in zip(x, y, names, strict=True)]
    if not texts:
        return texts
    fig = ax.figure
    fig.draw_without_rendering()  # the final layout first: adjustText measures in pixels
    ax.set(xlim=ax.get_xlim(), ylim=ax.get_ylim())  # and the final limits: nothing drawn here rescales the plot
    # the dots as adjustText's obstacles (each one's extent), a name pushed off every dot; gone afterwards
    dots = ax.scatter(x, y, s=dot_size, alpha=0.0)
    try:
        adjust_text(texts, objects=dots, ax=ax, ensure_inside_axes=True)
    finally:
        dots.remove()
    _unstack(ax, texts)
    _lines_to_points(ax, texts, x, y, dot_size)
    return texts


def _unstack(ax: Axes, texts: list[Text]) -> None:
    """Move each name still over an earlier one (adjustText leaves some where points coincide) up or down by
    whole text heights, to the nearest place that overlaps no earlier name and stays inside the axes."""
    frame = ax.get_window_extent()  # measured with the figure's own renderer (public API, no private _get_renderer)
    placed = []
    for text in texts:
        box = text.get_window_extent()
        step = box.height + 2.0
        for k in (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 8, -8, 10, -10):
            moved = box.translated(0, k * step)
            if frame.y0 <= moved.y0 and moved.y1 <= frame.y1 and not any(moved.overlaps(b) for b in placed):
                break
        else:
            moved = box  # no free place near: left where adjustText put it
        if moved is not box:
            px, py = ax.transData.transform(text.get_position())
            text.set_position(ax.transData.inverted().transform((px, py + moved.y0 - box.y0)))
        placed.append(moved)


def _lines_to_points(ax: Axes, texts: list[Text], x: np.ndarray, y: np.ndarray, dot_size: float) -> None:
    """A thin grey line from each name that moved off its point to the point (none for a name beside it)."""
    import numpy as np

    radius_px = np.sqrt(dot_size) / 2 * ax.figure.dpi / 72
    for text, a, b in zip(texts, x, y, strict=True):
        box = text.get_window_extent()
        px, py = ax.transData.transform((a, b))
        # the nearest point of the name's box to the dot
        nx, ny = min(max(px, box.x0), box.x1), min(max(py, box.y0), box.y1)
        if np.hypot(nx - px, ny - py) > radius_px + 4:
            ax.plot(*ax.transData.inverted().transform([(px, py), (nx, ny)]).T, color="0.55", lw=0.5, zorder=1,
                    scalex=False, scaley=False)
