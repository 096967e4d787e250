"""Rich output in Jupyter: the ``_repr_html_`` of reports, diffs and bursts share this table.

pandas escapes every cell (``escape=True``), and the caption is escaped here, so event text shows
as text in a notebook too.
"""

from __future__ import annotations

import html

import pandas as pd


def html_table(caption: str, df: pd.DataFrame, *, limit: int = 50) -> str:
    """A DataFrame as an HTML table under a one-line caption, at most ``limit`` rows."""
    shown = df.head(limit)
    more = f"<p>... {len(df) - limit:,} more rows</p>" if len(df) > limit else ""
    return (
        f"<div><p>{html.escape(caption)}</p>"
        + shown.to_html(index=False, escape=True, na_rep="")
        + more
        + "</div>"
    )
