"""Text and value helpers shared by every output format: JSON, markdown and terminal tables."""

from __future__ import annotations

import math
from typing import Any


def short(text: Any, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis, ``""`` for None."""
    s = "" if text is None else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def md_cell(text: Any) -> str:
    """Markdown-table-safe text: ``<num>`` in a template must not be read as an HTML tag."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


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
