"""Epoch progress bars that end green when training stops early on purpose.

``tqdm.notebook`` paints a bar red ("danger") when it is closed before its total: the sign of an
error or an interrupt. Early stopping closes the epoch bar at, say, 13 of 40 epochs, and the
notebook then showed a healthy run as a failed one. :func:`close_stopped` sets the total to the
epochs done and says why, so the bar ends full and green; an exception still leaves it red.
"""

from __future__ import annotations

from typing import Any


def close_stopped(bar: Any, why: str | None = None) -> None:
    """Close a tqdm epoch ``bar`` after training ended, early on purpose or at its total.

    Parameters
    ----------
    bar : tqdm.tqdm
        The epoch bar (``tqdm.auto``: a widget in a notebook, text in a terminal); may be disabled.
    why : str or None
        Shown after the count when the bar stopped before its total, e.g. ``"early stop"``.
    """
    done = int(bar.n)
    if not bar.disable and bar.total and done < bar.total:
        started = bar.start_t
        bar.reset(total=done)  # in a notebook this also sets the widget's maximum
        bar.start_t = started  # keep the elapsed time and rate of the epochs done
        bar.update(done)
        if why:
            bar.set_postfix_str(why, refresh=False)
        bar.refresh()
    bar.close()
