"""Small HTML builders for the report and the comparison view: escaped tables, embedded images."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

NOT_RECORDED = "not recorded"

# JupyterLab right-aligns every cell of an output's HTML (`:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td`,
# specificity 0,2,1): the doubled class outranks it, so text cells read left as in the saved page.
CSS = """
.wb-report{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;max-width:1100px;
 margin:0 auto;padding:8px 16px;line-height:1.4}
.wb-report h1{font-size:1.5em;margin:.3em 0}
.wb-report h2{font-size:1.15em;margin:1.4em 0 .5em;padding-bottom:.2em;border-bottom:1px solid #e5e7eb}
.wb-report .backbone{display:inline-block;background:#eef2ff;border:1px solid #c7d2fe;color:#312e81;
 border-radius:6px;padding:.35em .7em;font-weight:600;margin:.3em 0}
.wb-report .meta{color:#4b5563;font-size:.9em}
.wb-report table{border-collapse:collapse;font-size:.85em;margin:.4em 0}
.wb-report th,.wb-report td{border:1px solid #e5e7eb;padding:.25em .6em;text-align:left;vertical-align:top}
.wb-report.wb-report th:not(.num),.wb-report.wb-report td:not(.num){text-align:left}
.wb-report th{background:#f9fafb}
.wb-report td.num{text-align:right;font-variant-numeric:tabular-nums}
.wb-report .pass{color:#15803d;font-weight:600}.wb-report .fail{color:#b91c1c;font-weight:600}
.wb-report .na{color:#6b7280;font-style:italic}
.wb-report .best{background:#dcfce7;font-weight:600}
.wb-report img{max-width:100%;height:auto;display:block;margin:.4em 0}
.wb-report .row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.wb-report code{background:#f3f4f6;padding:0 .25em;border-radius:3px}
.wb-report h3{font-size:1em;margin:1em 0 .3em}
.wb-report figure{margin:.6em 0}
.wb-report figcaption{color:#4b5563;font-size:.85em;max-width:760px}
"""


def esc(value: Any) -> str:
    """``str(value)`` with HTML's special characters escaped.

    Parameters
    ----------
    value : object
        Any value; its ``str`` is escaped.
    """
    return html.escape(str(value))


def fmt(value: Any) -> str:
    """A cell's text: floats to 4 significant digits, None as "not recorded".

    Parameters
    ----------
    value : object
        A cell's value.
    """
    if value is None:
        return NOT_RECORDED
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Number(str):
    """A number already written as text (:func:`number`): :func:`table` keeps it as it is and aligns it right."""


def number(value: Any, *, signed: bool = False, count: bool = False) -> Number:
    """A metric's text in a table: a score with 4 fixed decimals (``"0.7450"`` beside ``"0.7452"``, where ``.4g``
    wrote ``"0.745"``), a count as an integer; ``signed`` for a difference (``"+0.0123"``, ``"+3"``).

    Parameters
    ----------
    value : float, int or None
        The value; None or NaN is "not recorded".
    signed : bool
        Write a sign (a difference from a baseline).
    count : bool
        The metric is a count (:func:`workbench.experiments_compare.count_metrics`); an ``int`` is one too.
    """
    if value is None or value != value:
        return Number(NOT_RECORDED)
    if count or isinstance(value, int):
        return Number(f"{round(value):+d}" if signed else f"{round(value):d}")
    return Number(f"{value:+.4f}" if signed else f"{value:.4f}")


def not_recorded(what: str = "") -> str:
    """A paragraph saying ``what`` was not recorded.

    Parameters
    ----------
    what : str
        What is missing (``"history.json"``); empty for a bare "not recorded".
    """
    return f'<p class="na">{esc(what + ": " if what else "")}{NOT_RECORDED}</p>'


def img(png: bytes, alt: str) -> str:
    """An ``<img>`` with the PNG inlined as a data URI (no external file).

    Parameters
    ----------
    png : bytes
        A PNG file's bytes.
    alt : str
        The alt text.
    """
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None,
          classes: Iterable[Sequence[str]] | None = None) -> str:
    """An HTML table; ``classes`` gives a CSS class per cell (parallel to ``rows``).

    Parameters
    ----------
    rows : iterable of sequences
        One sequence of cell values per row; numbers are right-aligned, None shows as "not recorded".
    header : sequence of str or None
        Column headings; None for none.
    classes : iterable of sequences of str, or None
        A CSS class (or ``""``) per cell, parallel to ``rows``.
    """
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    cls_rows = list(classes) if classes is not None else None
    for i, row in enumerate(rows):
        cells = []
        for j, v in enumerate(row):
            c = [cls_rows[i][j]] if cls_rows and cls_rows[i][j] else []
            if isinstance(v, (int, float, Number)) and not isinstance(v, bool):
                c.append("num")
            if v is None:
                c.append("na")
            attr = f' class="{" ".join(c)}"' if c else ""
            cells.append(f"<td{attr}>{esc(fmt(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def kv_table(mapping: Mapping[str, Any]) -> str:
    """A two-column table of a (flattened) mapping.

    Parameters
    ----------
    mapping : mapping of str to value
    """
    return table([(k, v) for k, v in mapping.items()], header=("key", "value"))


def document(body: str, *, title: str) -> str:
    """A complete, self-contained HTML page around ``body``.

    Parameters
    ----------
    body : str
        HTML for the page's body.
    title : str
        The page title (escaped).
    """
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title></head><body style=\"margin:0;background:#fff\">{body}</body></html>\n")
