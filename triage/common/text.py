"""Text and value helpers shared by every output format: JSON, markdown, CSV and terminal tables.

Untrusted event text is made inert for CSV and markdown here.
CSV (:func:`to_csv`): a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read as a formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``,
``=cmd|...``); OWASP's advice, followed here, is to put a ``'`` before it, which spreadsheets
show as text. Only text cells are touched: a negative number stays a number.

Markdown: event text (titles, kinds, rule ids, messages) must render as the characters it is, not
as an image, a link, emphasis, strike-through, code or HTML. Every character CommonMark could read
as inline markup is backslash-escaped (``&``, ``<``, ``>`` as entities), and newlines become
spaces, so a table row stays one row. Code spans (examples) cannot hold markup at all: there only
the backtick is replaced.
"""

from __future__ import annotations

import io
import math
from typing import Any

CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_MD_ESCAPE = {c: "\\" + c for c in "\\`*_[]!~|"}  # ( ) open a link only after ]
_MD_ESCAPE.update({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": " ", "\r": " "})
_MD_TABLE = str.maketrans(_MD_ESCAPE)


def short(text: Any, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis, ``""`` for None."""
    s = "" if text is None else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def md_cell(text: Any) -> str:
    """Text safe anywhere in a markdown line, a table cell included: no image, link, emphasis,
    strike-through, code or HTML (``<num>`` in a template is not read as a tag)."""
    return ("" if text is None else str(text)).translate(_MD_TABLE)


def md_code(text: Any) -> str:
    """Text for inside a single-backtick code span: no backticks, no line breaks, pipes escaped
    (GitHub splits table cells on ``|`` even inside code)."""
    s = "" if text is None else str(text)
    return s.replace("`", "'").replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def csv_cell(value: Any) -> Any:
    """``value`` with a ``'`` before it when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(CSV_TRIGGERS):
        return "'" + value
    return value


def to_csv(df: Any) -> str:
    """A DataFrame as CSV text for people's spreadsheets: formula cells neutralised, rows ended
    by CRLF (RFC 4180), which also makes the writer quote a cell holding a lone carriage return
    (with ``\\n`` endings it does not, and a reader then splits the row there)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(csv_cell)
    out.columns = [csv_cell(c) if isinstance(c, str) else c for c in out.columns]
    buf = io.StringIO(newline="")
    out.to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue()


def jsonable(v: Any) -> Any:
    """A DataFrame cell (numpy scalar, Timestamp, NaN/NaT/NA, array) as a plain JSON value."""
    import pandas as pd  # only callers that hold DataFrames get here

    if v is None:
        return None
    if isinstance(v, pd.Timestamp) or hasattr(v, "isoformat"):
        return None if v is pd.NaT else v.isoformat()
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "item"):
        return v.item()
    return v
