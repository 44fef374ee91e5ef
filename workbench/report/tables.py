"""Tables as a notebook shows them: text columns aligned left, numbers right.

JupyterLab right-aligns every cell of a DataFrame's HTML, so a sentence (a match's explanation, a
track's name) reads ragged against the right edge. :func:`text_left` gives pandas' own
:class:`~pandas.io.formats.style.Styler` the alignment a reader expects; the frame is unchanged.
"""

from __future__ import annotations

import re
from numbers import Real
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler


_NUMBER = re.compile(r"[-+−]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*%?")
_NO_VALUE = ("", "-", "—", "–", "nan", "n/a")


def text_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that hold text (strings, or objects that are not numbers or booleans); a column of
    numbers written as text (``"1.23"``, ``"+0.45"``, ``"—"`` for none) is not text.

    Parameters
    ----------
    frame : pd.DataFrame
        Any table.
    """
    import pandas as pd

    def _is_number(value: object) -> bool:
        """Whether ``value`` is a number, a number written as text, or no value."""
        if isinstance(value, str):
            return value.strip() in _NO_VALUE or _NUMBER.fullmatch(value.strip()) is not None
        return value is None or (isinstance(value, Real) and not isinstance(value, bool))

    def _is_text(column: pd.Series) -> bool:
        """Whether ``column`` holds text other than numbers written out."""
        if pd.api.types.is_bool_dtype(column) or not (pd.api.types.is_string_dtype(column)
                                                      or pd.api.types.is_object_dtype(column)):
            return False
        # numbers written as text ("1.23", "+0.45", "12%": a profile's mean, a gap's z) stay right, as numbers
        return not all(_is_number(v) for v in column)

    return [c for c in frame.columns if _is_text(frame[c])]


def _decimals(values: object, most: int) -> int:
    """The fewest decimals (0..``most``) that write every finite value of ``values`` exactly, ``most`` at worst."""
    import numpy as np

    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    for places in range(most):
        if np.allclose(finite, np.round(finite, places), rtol=0.0, atol=1e-9 * max(1.0, float(np.abs(finite).max(initial=0.0)))):
            return places
    return most


def _first_rows(styler: Styler, max_rows: int) -> Styler:
    """``styler`` with the rows past the first ``max_rows`` hidden and a caption saying how many there are."""
    from workbench.errors import ParameterError

    data = styler.data
    if not data.index.is_unique:
        raise ParameterError(f"max_rows={max_rows} cannot cut a Styler whose index repeats a label "
                             f"({data.index[data.index.duplicated()][0]!r}): give the DataFrame, or a "
                             "Styler of a frame with a unique index (frame.reset_index())")
    caption = f"the first {max_rows} of {len(data)} rows"
    if styler.caption:  # a Styler's own caption stays first
        caption = f"{styler.caption} ({caption})"
    return styler.hide(data.index[max_rows:], axis="index").set_caption(caption)


def text_left(frame: pd.DataFrame | Styler, *, precision: int = 3, max_rows: int | None = None) -> Styler:
    """``frame`` for display: text columns (cells and headings) and a text index aligned left, numbers right.

    Parameters
    ----------
    frame : pd.DataFrame or Styler
        The table; not modified. A Styler (``Comparison.metrics_styled()``) keeps its own formats
        and highlights and only gains the alignment.
    precision : int >= 0
        Most decimals of float cells (pandas' Styler would show 6); a float column already rounded to
        fewer shows just those (whole numbers none, a BPM rounded to 0.1 one), a column with a value
        that would read 0 (a learning rate of 1e-05) shows significant digits, a missing value "–".
        Not applied to a Styler given.
    max_rows : int >= 1 or None
        Show at most this many rows, the first ones, with a caption saying how many there are (a
        Styler shows every row: a DataFrame's own cut-off, ``display.max_rows``, does not apply to it).
        None shows every row. A Styler given keeps its rows but hides those past the first
        ``max_rows`` (its index must be unique: :class:`~workbench.errors.ParameterError` if not).

    Returns
    -------
    Styler
        Shown as HTML by Jupyter; ``.data`` is the frame. Pandas' default row numbers (0, 1, 2 ...: a frame
        built from records) are hidden: they name no row and counted from 0.
    """
    import pandas as pd
    from pandas.io.formats.style import Styler

    from workbench.validate import check_int

    check_int("precision", precision, min=0)
    if max_rows is not None:
        check_int("max_rows", max_rows, min=1)
    caption = None
    if isinstance(frame, Styler):
        styler, data = frame, frame.data
        if max_rows is not None and len(data) > max_rows:
            styler = _first_rows(styler, max_rows)
    else:
        if max_rows is not None and len(frame) > max_rows:
            caption = f"the first {max_rows} of {len(frame)} rows"
            frame = frame.iloc[:max_rows]
        styler, data = frame.style.format(precision=precision, na_rep="–"), frame
        if caption:
            styler = styler.set_caption(caption)
        # a float column already rounded to fewer decimals shows just those: whole numbers (an int column
        # with a gap: n_splits 3, not 3.000), a median BPM rounded to 0.1 (86.8, not 86.800)
        for c in data.columns:
            if pd.api.types.is_float_dtype(data[c]) and data[c].notna().any():
                values = data[c].dropna().to_numpy()
                places = _decimals(values, precision)
                if places < precision:
                    styler = styler.format(f"{{:.{places}f}}", subset=[c], na_rep="–")
                elif ((values != 0) & (abs(values) < 0.5 * 10.0 ** -precision)).any():
                    # a value that would read 0.000 (a learning rate of 1e-05): significant digits instead
                    styler = styler.format(f"{{:.{max(precision, 1)}g}}", subset=[c], na_rep="–")
    text = text_columns(data)
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
        styler = styler.set_table_styles({c: [{"selector": "th.col_heading", "props": "text-align: left"}]
                                          for c in text}, overwrite=False)
    when = _date_time_columns(data)
    if when:  # "2026-12-07 19:34" on one line, as the runs view and the jobs table show it, not "2026-12-" / "07 19:34"
        styler = styler.set_properties(subset=when, **{"white-space": "nowrap"})
    index = data.index
    if _row_numbers(index):  # pandas' own 0, 1, 2 ... names no row (a version, a gate): not shown, no row "0"
        styler = styler.hide(axis="index")
    if not isinstance(index, pd.MultiIndex) and (pd.api.types.is_string_dtype(index)
                                                 or pd.api.types.is_object_dtype(index)):
        # row names (a model, a metric): JupyterLab right-aligns every th too
        styler = styler.set_table_styles([{"selector": "th.row_heading", "props": "text-align: left"}],
                                         overwrite=False)
    return styler


def _date_time_columns(data: pd.DataFrame) -> list:
    """The columns of ``data`` whose every value is a date and time as :func:`workbench.timestamps.started_text`
    writes them (``2026-12-07 19:34``, seconds allowed) or missing; at least one value given."""
    import re

    stamp = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?")
    return [c for c in data.columns if data[c].notna().any()
            and all(isinstance(v, str) and stamp.fullmatch(v) for v in data[c].dropna())]


def _row_numbers(index: pd.Index) -> bool:
    """Whether ``index`` is pandas' default row numbering (an unnamed ``RangeIndex`` from 0, step 1)."""
    import pandas as pd

    return (isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1)
