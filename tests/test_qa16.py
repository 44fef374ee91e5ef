"""Session 16's QA defects, one test (or a few) each: every one failed before its fix."""

from __future__ import annotations

import re

import pytest


def _body_rows(html: str) -> int:
    """How many rows a Styler's HTML shows (its hidden rows are not written)."""
    body = html.split("<tbody>", 1)[1]
    return len(re.findall(r"<tr>", body))


def test_text_left_cuts_a_styler_at_max_rows():
    """text_left(styler, max_rows=5) showed all 40 rows: max_rows applied to a DataFrame only."""
    import pandas as pd

    from workbench.report.tables import text_left

    frame = pd.DataFrame({"name": [f"t{i}" for i in range(40)], "score": [i / 40 for i in range(40)]})
    html = text_left(frame.style.highlight_max(subset=["score"]), max_rows=5).to_html()
    assert _body_rows(html) == 5, html
    assert "the first 5 of 40 rows" in html and "t4" in html and "t5<" not in html
    assert _body_rows(text_left(frame.style, max_rows=50).to_html()) == 40  # fewer rows than max_rows: all shown


def test_text_left_refuses_to_cut_a_styler_with_a_repeated_index():
    import pandas as pd

    from workbench.errors import ParameterError
    from workbench.report.tables import text_left

    frame = pd.DataFrame({"score": range(6)}, index=["a", "b", "a", "c", "d", "e"])
    with pytest.raises(ParameterError, match=r"max_rows=3.*'a'"):
        text_left(frame.style, max_rows=3)
    assert _body_rows(text_left(frame, max_rows=3).to_html()) == 3  # the frame itself is cut as before
