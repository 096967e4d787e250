"""The group report: which groups a rule table moves out of error volume, and by how much."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from triage.analysis.verdicts import (  # noqa: F401 (SORT_KEYS, VERDICTS: re-exported)
    DEFAULT_THRESHOLD,
    SORT_KEYS,
    VERDICTS,
    check_threshold,
)
from triage.common.text import jsonable, md_cell, md_code, short, to_csv
from triage.rules import RuleTable
from triage.store import sqlfiles as sqlfiles

SCHEMA = "triage.report/1"
GROUP_KEYS = [
    "group",
    "title",
    "events",
    "users",
    "first_seen",
    "last_seen",
    "level",
    "kind",
    "new_level",
    "reclassified_events",
    "reclassified_share",
    "verdict",
    "rules",
    "group_key",  # the stored key (Sentry group id or computed hash) when `group` is a short id
    "sentry_events",  # Sentry's own count for the group, when an issues export gave it
    "sentry_users",  # Sentry's own userCount
    "group_source",  # sentry | matched | computed: where the group comes from (docs/grouping.md)
    "group_basis",  # the values the group's hash was computed from, readable
]
# Burst evidence per group (see queries/bursts.sql); flat in CSV and the DataFrame, one `burst`
# object (or null when no user bursts) in the JSON.
BURST_KEYS = ["burst_events", "bursting_users", "top_user_share", "period_s", "polling"]


@dataclass
class Report:
    """A report as data: ``groups`` (one row per group) and ``totals``; render with ``to_*``."""

    groups: pd.DataFrame
    totals: dict[str, Any]
    rules_name: str
    rules_hash: str

    def select(
        self,
        *,
        only: tuple[str, ...] | list[str] = (),
        sort: str | None = None,
        limit: int | None = None,
    ) -> Report:
        """The same report with fewer or reordered groups; the totals still cover every group.

        ``only``: verdicts to keep; ``sort``: one of SORT_KEYS (default: most error volume
        saved first); ``limit``: the first N groups after filtering and sorting.
        """
        df = self.groups
        if only:
            df = df[df["verdict"].isin(list(only))]
        if sort and sort != "saved":
            col, ascending = SORT_KEYS[sort]
            df = df.sort_values([col, "group"], ascending=[ascending, True], kind="stable")
        if limit:
            df = df.head(limit)
        return Report(
            groups=df.reset_index(drop=True),
            totals=self.totals,
            rules_name=self.rules_name,
            rules_hash=self.rules_hash,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract for scheduled jobs (``triage.report/1``)."""
        rows = []
        for rec in self.groups.to_dict(orient="records"):
            row = {k: jsonable(rec.get(k)) for k in GROUP_KEYS}
            row["burst"] = _burst(rec)
            rows.append(row)
        return {
            "schema": SCHEMA,
            "rules": {"name": self.rules_name, "hash": self.rules_hash},
            "totals": {k: jsonable(v) for k, v in self.totals.items()},
            "groups": rows,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_csv(self) -> str:
        """One row per group; text cells a spreadsheet would run as formulas get a ``'``."""
        df = self.groups[GROUP_KEYS + BURST_KEYS].copy()
        df["rules"] = df["rules"].map(lambda r: ";".join(r) if r is not None else "")
        return to_csv(df)

    def to_markdown(self) -> str:
        t = self.totals
        lines = [
            f"**Impact of rule table `{self.rules_name}`** (hash `{self.rules_hash}`)",
            "",
            f"- {t['events']:,} events in {t['groups']:,} groups; "
            f"{t['leaving_events']:,} events ({t['leaving_share']:.1%} of error volume) would "
            f"leave error volume, about {t['events_per_day_saved']:,.1f} per day.",
            f"- Groups downgraded: {t['downgraded_groups']}; partial: {t['partial_groups']}; "
            f"unchanged: {t['unchanged_groups']}.",
            "",
            "| verdict | group | title | events | users | level → new | kind | rules | polling |",
            "|---|---|---|---:|---:|---|---|---|---|",
        ]
        for r in self.groups.itertuples(index=False):
            rules = ", ".join(r.rules) if r.rules is not None and len(r.rules) else ""
            kind = r.kind if isinstance(r.kind, str) else ""
            lines.append(
                f"| {r.verdict} | `{md_code(r.group)}` | {md_cell(short(r.title, 80))} "
                f"| {r.events:,} | {r.users:,} | {r.level} → {r.new_level} | {md_cell(kind)} "
                f"| {md_cell(rules)} | {polling_text(r._asdict())} |"
            )
        return "\n".join(lines) + "\n"

    def _caption(self) -> str:
        t = self.totals
        return (
            f"rules {self.rules_name} ({self.rules_hash}): {t['events']:,} events in "
            f"{t['groups']:,} groups; {t['leaving_events']:,} leave error volume "
            f"({t['leaving_share']:.1%}), about {t['events_per_day_saved']:,.1f} per day; "
            f"{t['downgraded_groups']} downgrade, {t['partial_groups']} partial"
        )

    def display_frame(self) -> pd.DataFrame:
        """The groups as a reader scans them: verdict, group, title, events, users, kind first,
        times to the second, the rest after."""
        df = self.groups
        first = ["verdict", "group", "title", "events", "users", "kind", "new_level", "level"]
        rest = [c for c in GROUP_KEYS + BURST_KEYS if c not in first and c in df]
        out = df[[c for c in first if c in df] + rest].copy()
        for col in ("first_seen", "last_seen"):
            if col in out and len(out):
                out[col] = pd.to_datetime(out[col]).dt.floor("s")
        if "rules" in out:
            out["rules"] = out["rules"].map(lambda r: ", ".join(r) if r is not None else "")
        return out

    def __repr__(self) -> str:
        """A REPL: the headline and the top groups in a few lines, not a wall of columns."""
        lines = [f"<Report {self._caption()}>"]
        for r in self.groups.head(5).itertuples(index=False):
            title = short(r.title, 50)
            lines.append(f"  {r.verdict:<9} {short(r.group, 20):<20} {r.events:>7,}  {title}")
        if len(self.groups) > 5:
            lines.append(f"  ... {len(self.groups) - 5:,} more groups (.groups is the DataFrame)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter: the totals in a line, then the groups, verdict first."""
        from triage.common.notebook import html_table

        return html_table(self._caption(), self.display_frame())


def _burst(rec: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON ``burst`` object of a group: null when no user polls it."""
    if not rec.get("bursting_users"):
        return None
    return {
        "users": int(rec["bursting_users"]),
        "events": int(rec["burst_events"]),
        "period_s": jsonable(rec.get("period_s")),
        "top_user_share": jsonable(rec.get("top_user_share")),
    }


def polling_text(rec: dict[str, Any]) -> str:
    """``1 user every 5.0 s``: bursting users and the period of the group's largest burst."""
    users = rec.get("bursting_users") or 0
    if not users:
        return ""
    from triage.analysis.bursts import format_period

    noun = "user" if users == 1 else "users"
    return f"{users} {noun} {format_period(rec.get('period_s'))}"


def build(
    con: duckdb.DuckDBPyConnection,
    table: RuleTable,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    burst_min_events: int = 20,
) -> Report:
    """Report on events already classified with ``table`` (see triage.classify)."""
    check_threshold(threshold)
    from triage.analysis.bursts import install_macro

    install_macro(con)
    groups = con.execute(
        sqlfiles.load("report_groups.sql"),
        {
            "ruleset_hash": table.hash,
            "threshold": threshold,
            "burst_min_events": burst_min_events,
        },
    ).df()
    groups["rules"] = groups["rules"].map(lambda r: [] if r is None or r is pd.NA else list(r))
    span = con.execute("SELECT date_diff('second', min(ts), max(ts)) FROM events").fetchone()[0]
    days = max((span or 0) / 86400.0, 1.0)
    events = int(groups["events"].sum()) if len(groups) else 0
    error_events = int(groups["error_events"].sum()) if len(groups) else 0
    leaving = int(groups["leaving_events"].sum()) if len(groups) else 0
    verdicts = groups["verdict"].value_counts() if len(groups) else {}
    totals = {
        "events": events,
        "groups": len(groups),
        "error_events": error_events,
        "reclassified_events": int(groups["reclassified_events"].sum()) if len(groups) else 0,
        "leaving_events": leaving,
        "leaving_share": (leaving / error_events) if error_events else 0.0,
        "days": round(days, 3),
        "events_per_day_saved": round(leaving / days, 2),
        "downgraded_groups": int(verdicts.get("downgrade", 0)),
        "partial_groups": int(verdicts.get("partial", 0)),
        "unchanged_groups": int(verdicts.get("unchanged", 0)),
        "rejects": con.execute("SELECT count(*) FROM rejects").fetchone()[0],
        "burst_events": int(groups["burst_events"].sum()) if len(groups) else 0,
        "polling_groups": int(groups["polling"].sum()) if len(groups) else 0,
    }
    return Report(groups=groups, totals=totals, rules_name=table.name, rules_hash=table.hash)
