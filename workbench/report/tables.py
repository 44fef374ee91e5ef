"""Tables as a notebook shows them: text columns aligned left, numbers right.

JupyterLab right-aligns every cell of a DataFrame's HTML, so a sentence (a match's explanation, a
track's name) reads ragged against the right edge. :func:`text_left` gives pandas' own
:class:`~pandas.io.formats.style.Styler` the alignment a reader expects; the frame is unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler


def text_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that hold text (strings, or objects that are not numbers or booleans).

    Parameters
    ----------
    frame : pd.DataFrame
        Any table.
    """
    import pandas as pd

    return [c for c in frame.columns
            if pd.api.types.is_string_dtype(frame[c]) or (pd.api.types.is_object_dtype(frame[c])
                                                         and not pd.api.types.is_bool_dtype(frame[c]))]


def text_left(frame: pd.DataFrame, *, precision: int = 3) -> Styler:
    """``frame`` for display: text columns (cells and headings) aligned left, numbers right.

    Parameters
    ----------
    frame : pd.DataFrame
        The table; not modified.
    precision : int >= 0
        Decimals of float cells (pandas' Styler would show 6).

    Returns
    -------
    Styler
        Shown as HTML by Jupyter; ``.data`` is ``frame``.
    """
    from workbench.validate import check_int

    check_int("precision", precision, min=0)
    text = text_columns(frame)
    styler = frame.style.format(precision=precision)
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
        styler = styler.set_table_styles({c: [{"selector": "th.col_heading", "props": "text-align: left"}]
                                          for c in text}, overwrite=False)
    return styler
