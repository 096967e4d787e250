"""What a scheduled job fails on: new downgraded groups, new bursting groups, new rejects.

A nightly job must fail once when something appears, not every night after: each finding has a
key (the group, or the reject's source and line), the keys already reported are kept in the
``job_findings`` table of the database, and only findings with a new key count. A job that runs on
a fresh in-memory database (``triage run`` without ``--db``) therefore reports everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from triage.analysis.report import Report

CHECKS = ("new-downgrade", "burst", "rejects")
CHECK_HELP = (
    "Exit 1 when the run finds something new of this kind (repeatable): `new-downgrade`, a group "
    "the rule table downgrades; `burst`, a group with a polling burst; `rejects`, a record that "
    "could not be ingested. Each finding fails one run: the database remembers it."
)

_TABLE = """
CREATE TABLE IF NOT EXISTS job_findings (
    "check"     VARCHAR NOT NULL,
    key         VARCHAR NOT NULL,
    group_key   VARCHAR,
    message     VARCHAR,
    first_seen  TIMESTAMPTZ DEFAULT current_timestamp,
    grouping_version INTEGER
)
"""
# Findings about groups name them by key; a memory is compared only with keys made by the same
# grouping (docs/grouping.md): a key computed differently is not the same group.
_GROUP_CHECKS = ("new-downgrade", "burst")


@dataclass(frozen=True)
class JobFinding:
    """One thing a job can fail on; ``key`` identifies it across runs."""

    check: str
    key: str
    group: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _title(text: Any, n: int = 80) -> str:
    s = "" if text is None else str(text).replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def candidates(
    con: duckdb.DuckDBPyConnection, checks: Iterable[str], report: Report | None
) -> list[JobFinding]:
    """Everything the checks find in the database now, new or not."""
    checks = set(checks)
    unknown = checks - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown --fail-on check(s): {', '.join(sorted(unknown))}")
    import pandas as pd

    from triage.analysis.bursts import format_period

    out: list[JobFinding] = []
    groups = report.groups if report is not None else pd.DataFrame()
    if "new-downgrade" in checks and len(groups):
        for r in groups[groups["verdict"] == "downgrade"].itertuples(index=False):
            out.append(
                JobFinding(
                    "new-downgrade",
                    str(r.group),
                    str(r.group),
                    f'group {r.group} "{_title(r.title)}": {r.events:,} events '
                    f"{r.level} -> {r.new_level} as {r.kind if isinstance(r.kind, str) else '?'} "
                    f"(rules: {', '.join(r.rules)})",
                )
            )
    if "burst" in checks and len(groups) and "burst_events" in groups:
        for r in groups[groups["burst_events"] > 0].itertuples(index=False):
            out.append(
                JobFinding(
                    "burst",
                    str(r.group),
                    str(r.group),
                    f'new bursting group {r.group} "{_title(r.title)}": {r.burst_events:,} of '
                    f"{r.events:,} events in polling bursts from {r.bursting_users} user(s), "
                    f"{format_period(r.period_s)}",
                )
            )
    if "rejects" in checks:
        rows = con.execute(
            "SELECT source_file, source_line, reason FROM rejects ORDER BY source_file, source_line"
        ).fetchall()
        for source, line, reason in rows:
            out.append(
                JobFinding(
                    "rejects",
                    f"{source}:{line}:{reason}",
                    None,
                    f"rejected record {source}:{line}: {_title(reason, 160)}",
                )
            )
    return out


def new_findings(
    con: duckdb.DuckDBPyConnection, found: list[JobFinding], *, remember: bool = True
) -> list[JobFinding]:
    """The findings no earlier run reported; with ``remember``, record them as reported."""
    if not found:
        return []
    import pandas as pd

    from triage.store.versions import GROUPING_VERSION

    con.execute(_TABLE)
    df = pd.DataFrame([f.to_dict() for f in found]).rename(columns={"group": "group_key"})
    con.register("job_found", df)
    try:
        known = {
            (c, k)
            for c, k in con.execute(
                'SELECT f."check", f.key FROM job_found f '
                'JOIN job_findings j ON j."check" = f."check" AND j.key = f.key '
                'AND (NOT list_contains(?, j."check") OR coalesce(j.grouping_version, 1) = ?)',
                [list(_GROUP_CHECKS), GROUPING_VERSION],
            ).fetchall()
        }
        new = [f for f in found if (f.check, f.key) not in known]
        if remember and new:
            con.execute(
                'INSERT INTO job_findings ("check", key, group_key, message, grouping_version) '
                'SELECT f."check", f.key, f.group_key, f.message, ? FROM job_found f '
                "WHERE NOT EXISTS (SELECT 1 FROM job_findings j "
                'WHERE j."check" = f."check" AND j.key = f.key '
                'AND (NOT list_contains(?, j."check") OR coalesce(j.grouping_version, 1) = ?))',
                [GROUPING_VERSION, list(_GROUP_CHECKS), GROUPING_VERSION],
            )
    finally:
        con.unregister("job_found")
    return new


def check(
    con: duckdb.DuckDBPyConnection,
    checks: Iterable[str],
    report: Report | None,
    *,
    remember: bool = True,
) -> list[JobFinding]:
    """:func:`candidates` then :func:`new_findings`: what this run should fail on."""
    checks = list(checks)
    if not checks:
        return []
    return new_findings(con, candidates(con, checks, report), remember=remember)


def summary(new: list[JobFinding], limit: int = 20) -> list[str]:
    """Lines for stderr: one per finding (rejects folded past ``limit``)."""
    lines: list[str] = []
    rejects = [f for f in new if f.check == "rejects"]
    for f in new:
        if f.check != "rejects":
            lines.append(f"fail-on {f.check}: {f.message}")
    for f in rejects[:limit]:
        lines.append(f"fail-on rejects: {f.message}")
    if len(rejects) > limit:
        lines.append(f"fail-on rejects: ... and {len(rejects) - limit} more (see `triage rejects`)")
    return lines
