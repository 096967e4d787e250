"""Polling bursts: one user hitting the same failing call at a steady period.

The detection is SQL (``queries/bursts.sql``, the ``triage_bursts`` table macro, window functions
over the events table); this module binds its parameters, validates them and shapes the result.
See the SQL file for the method: runs split at gaps much longer than the local period, a
regularity score of ``1 - MAD/median`` of the inter-arrival times, and a period of
``span / round(span / median)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from triage.common.text import jsonable, to_csv
from triage.store import sqlfiles

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

DEFAULT_MIN_EVENTS = 20
DEFAULT_MIN_REGULARITY = 0.8
DEFAULT_GAP_FACTOR = 6.0
SCHEMA = "triage.bursts/1"
COLUMNS = [
    "group",
    "user",
    "tag_value",
    "events",
    "start",
    "end",
    "period_s",
    "median_dt_s",
    "regularity",
    "groups",
    "group_events",
    "share",
]


def format_period(seconds: float | None) -> str:
    """A period as people say it: ``every 5.0 s``, ``every 2.5 min``, ``every 1.2 h``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    if seconds < 120:
        return f"every {seconds:.1f} s"
    if seconds < 7200:
        return f"every {seconds / 60:.1f} min"
    return f"every {seconds / 3600:.1f} h"


def install_macro(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``triage_bursts`` TEMP table macro on this connection.

    Created when needed rather than on every open: a table macro binds the events table when it
    is created, so it must come after the schema, and most commands never use it.
    """
    con.execute(sqlfiles.load("bursts.sql"))


def detect(
    con: duckdb.DuckDBPyConnection,
    *,
    min_events: int = DEFAULT_MIN_EVENTS,
    by: str | None = None,
    min_regularity: float = DEFAULT_MIN_REGULARITY,
    gap_factor: float = DEFAULT_GAP_FACTOR,
) -> pd.DataFrame:
    """Every polling burst, most events first, as a DataFrame (columns: :data:`COLUMNS`).

    ``by=None`` looks at each (group, user); ``by="method"`` at each (user, value of tag
    ``method``) across groups, which separates two loops of one user on different methods.
    """
    if int(min_events) < 3:
        raise ValueError("min_events must be at least 3 (a period needs two gaps)")
    if not 0.0 <= float(min_regularity) <= 1.0:
        raise ValueError("min_regularity must be between 0 and 1")
    if float(gap_factor) <= 1.0:
        raise ValueError("gap_factor must be greater than 1")
    if by is not None and not str(by).strip():
        raise ValueError("by must name a tag")
    install_macro(con)
    df = con.execute(
        "SELECT * FROM triage_bursts(min_events := $min_events, min_regularity := $min_regularity,"
        " gap_factor := $gap_factor, by_tag := $by_tag)",
        {
            "min_events": int(min_events),
            "min_regularity": float(min_regularity),
            "gap_factor": float(gap_factor),
            "by_tag": by,
        },
    ).df()
    # Shown by Sentry's short id when an issues export named the group, as the report does.
    df["group"] = df["short_id"].where(df["short_id"].notna(), df["group"])
    return df[COLUMNS]


@dataclass
class Bursts:
    """The bursts found in a database, with the parameters used; render with ``to_*``."""

    df: pd.DataFrame
    min_events: int = DEFAULT_MIN_EVENTS
    by: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.df)

    def records(self) -> list[dict[str, Any]]:
        """One dict per burst, JSON-ready (timestamps as ISO 8601 text)."""
        out = []
        for rec in self.df.to_dict(orient="records"):
            row = {k: jsonable(rec[k]) for k in COLUMNS}
            row["every"] = format_period(rec["period_s"])
            if self.by is None:
                row.pop("tag_value")
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "by": self.by,
            "min_events": self.min_events,
            **self.params,
            "bursts": self.records(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_csv(self) -> str:
        df = self.df.copy()
        if self.by is None:
            df = df.drop(columns=["tag_value"])
        else:
            df = df.rename(columns={"tag_value": self.by})
        return to_csv(df)  # user ids and tag values are event text

    def _repr_html_(self) -> str:
        df = self.df.copy()
        df.insert(df.columns.get_loc("period_s"), "every", df["period_s"].map(format_period))
        if self.by is None:
            df = df.drop(columns=["tag_value"])
        else:
            df = df.rename(columns={"tag_value": self.by})  # to_html escapes it
        from triage.common.notebook import html_table

        scope = f"per (user, {self.by})" if self.by else "per (group, user)"
        caption = f"{len(self.df):,} polling bursts {scope}, at least {self.min_events} events each"
        return html_table(caption, df)


def find(
    con: duckdb.DuckDBPyConnection,
    *,
    min_events: int = DEFAULT_MIN_EVENTS,
    by: str | None = None,
    min_regularity: float = DEFAULT_MIN_REGULARITY,
    gap_factor: float = DEFAULT_GAP_FACTOR,
) -> Bursts:
    """:func:`detect`, wrapped with its parameters for rendering."""
    df = detect(
        con, min_events=min_events, by=by, min_regularity=min_regularity, gap_factor=gap_factor
    )
    return Bursts(
        df=df,
        min_events=int(min_events),
        by=by,
        params={"min_regularity": float(min_regularity), "gap_factor": float(gap_factor)},
    )
