"""Classify and report on ClickHouse: the rule table runs where the events live.

The same :class:`~triage.analysis.report.Report` as the DuckDB path, from the SQL twins under
``queries/clickhouse/``. Nothing is written to the store: the rule index is computed inline in
the report query, so Sentry's own event store can be read in place (``--source
sentry-clickhouse``).
"""

from __future__ import annotations

import re

import pandas as pd

from triage.analysis.report import Report
from triage.analysis.verdicts import DEFAULT_THRESHOLD
from triage.rules import RuleTable
from triage.store import sqlfiles
from triage.store.clickhouse import REJECTS_TABLE, ClickHouse
from triage.targets.clickhouse import meta_arrays, with_rule_index

_MODE = re.compile(r"\{mode\((\w+)\)\}")


def mode_sql(col: str) -> str:
    """The most frequent non-NULL value of ``col`` in the group (smallest on a tie), else NULL."""
    m = f"_mode_{col}"
    return (
        f"if(countIf({col} IS NOT NULL) = 0, NULL, arrayElement("
        f"(sumMapIf([toString(assumeNotNull({col}))], [toUInt64(1)], {col} IS NOT NULL) AS {m}).1, "
        f"indexOf({m}.2, arrayMax({m}.2))))"
    )


def classify_sql(table: RuleTable, events_sql: str) -> str:
    """``event_id, rule_idx`` for every event of ``events_sql`` (0: no rule matched)."""
    return f"SELECT event_id, rule_idx FROM ({with_rule_index(table, events_sql)})"


def report_sql(table: RuleTable, events_sql: str, threshold: float = DEFAULT_THRESHOLD) -> str:
    """The report query for ``table`` over ``events_sql`` (queries/clickhouse/report_groups.sql)."""
    meta = meta_arrays(table)
    sql = sqlfiles.load("clickhouse/report_groups.sql")
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    values = {
        "{events}": events_sql,
        "{classified}": with_rule_index(table, events_sql),
        "{rule_ids}": meta["rule_id"],
        "{kinds}": meta["kind"],
        "{levels}": meta["new_level"],
        "{threshold}": repr(float(threshold)),
    }
    sql = _MODE.sub(lambda m: mode_sql(m[1]), sql)
    return re.sub("|".join(re.escape(k) for k in values), lambda m: values[m[0]], sql)


def build(ch: ClickHouse, table: RuleTable, *, threshold: float = DEFAULT_THRESHOLD) -> Report:
    """The report of ``table`` over the store's events, computed in ClickHouse."""
    events_sql = ch.events_sql()
    groups = ch.df(report_sql(table, events_sql, threshold))
    if len(groups):
        groups["rules"] = groups["rules"].map(lambda r: [] if r is None else list(r))
        for col in ("first_seen", "last_seen"):
            if pd.api.types.is_datetime64_any_dtype(groups[col]) and groups[col].dt.tz is None:
                groups[col] = groups[col].dt.tz_localize("UTC")
    span = ch.rows(f"SELECT dateDiff('second', min(ts), max(ts)) FROM ({events_sql})")[0][0]
    days = max((span or 0) / 86400.0, 1.0)

    def total(col: str) -> int:
        return int(groups[col].sum()) if len(groups) else 0

    error_events, leaving = total("error_events"), total("leaving_events")
    verdicts = groups["verdict"].value_counts() if len(groups) else {}
    rejects = 0 if ch.read_only else int(ch.rows(f"SELECT count() FROM {REJECTS_TABLE}")[0][0])
    totals = {
        "events": total("events"),
        "groups": len(groups),
        "error_events": error_events,
        "reclassified_events": total("reclassified_events"),
        "leaving_events": leaving,
        "leaving_share": (leaving / error_events) if error_events else 0.0,
        "days": round(days, 3),
        "events_per_day_saved": round(leaving / days, 2),
        "downgraded_groups": int(verdicts.get("downgrade", 0)),
        "partial_groups": int(verdicts.get("partial", 0)),
        "unchanged_groups": int(verdicts.get("unchanged", 0)),
        "rejects": rejects,
        "burst_events": total("burst_events"),
        "polling_groups": int(groups["polling"].sum()) if len(groups) else 0,
    }
    return Report(groups=groups, totals=totals, rules_name=table.name, rules_hash=table.hash)
