"""What-if between two rule tables: which groups move in or out of error volume, and what to check.

Both tables classify the stored events (``classifications`` keeps one set of rows per table hash),
and ``queries/diff_groups.sql`` joins the two per group. Groups fall in four sections: newly
downgraded, no longer downgraded, changed kind (or level), and unchanged (counted only). Warnings
point at likely collateral: a newly downgraded group that does not look like the rest of its rule's
matches, a group a base rule deliberately kept at error level, and rules that match only part of
a group whose other events stay errors.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pandas as pd

from triage.analysis.classify import classify
from triage.analysis.verdicts import DEFAULT_THRESHOLD, check_threshold
from triage.common.text import jsonable, md_cell, md_code, short
from triage.rules import RuleTable
from triage.store import sqlfiles as sqlfiles

SCHEMA = "triage.diff/1"
SECTIONS = ("newly_downgraded", "no_longer_downgraded", "changed_kind", "unchanged")
SECTION_TITLES = {
    "newly_downgraded": "Newly downgraded",
    "no_longer_downgraded": "No longer downgraded",
    "changed_kind": "Changed kind or level",
    "unchanged": "Unchanged",
}
BASE_DIMENSIONS = ("exception.type", "platform", "logger")
ERROR_LEVELS = ("error", "fatal")
EXAMPLES_PER_WARNING = 3


@dataclass(frozen=True)
class DiffWarning:
    """Something a reviewer should look at before the head table ships.

    ``check`` is ``collateral`` (a newly downgraded group unlike the rest of its rule's matches),
    ``overrides_error_rule`` (the base table had a rule keeping this group at error level) or
    ``partial_group`` (the rule matches some events of a group whose other events stay errors).
    """

    check: str
    rule: str
    group: str
    title: str
    message: str
    examples: tuple[str, ...] = ()
    staying_examples: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["examples"] = list(self.examples)
        d["staying_examples"] = list(self.staying_examples)
        return d


@dataclass
class Diff:
    """A diff as data: ``groups`` (one row per group, with its ``section``), totals, warnings."""

    base_name: str
    base_hash: str
    head_name: str
    head_hash: str
    groups: pd.DataFrame
    totals: dict[str, Any]
    warnings: list[DiffWarning]
    threshold: float = DEFAULT_THRESHOLD
    tags: tuple[str, ...] = ()

    def section(self, name: str) -> pd.DataFrame:
        """The groups of one section (``newly_downgraded``, ``no_longer_downgraded``, ...)."""
        if name not in SECTIONS:
            raise ValueError(f"unknown section {name!r}; one of {', '.join(SECTIONS)}")
        return self.groups[self.groups["section"] == name].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (``triage.diff/1``)."""
        sections: dict[str, Any] = {}
        for name in SECTIONS[:-1]:
            sections[name] = [_group_dict(r) for r in self.section(name).to_dict(orient="records")]
        unchanged = self.section("unchanged")
        sections["unchanged"] = {
            "groups": len(unchanged),
            "events": int(unchanged["events"].sum()) if len(unchanged) else 0,
        }
        return {
            "schema": SCHEMA,
            "base": {"name": self.base_name, "hash": self.base_hash},
            "head": {"name": self.head_name, "hash": self.head_hash},
            "threshold": self.threshold,
            "tags": list(self.tags),
            "totals": {k: jsonable(v) for k, v in self.totals.items()},
            "sections": sections,
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_markdown(self) -> str:
        """An "Impact" section for a pull request."""
        t = self.totals
        net = t["net_leaving_per_day"]
        direction = "fewer" if net >= 0 else "more"
        lines = [
            f"### Impact: `{md_code(self.base_name)}` → `{md_code(self.head_name)}`",
            "",
            f"- **{abs(net):,.1f} {direction} error events per day** "
            f"({t['leaving_events']:,} events leave error volume, "
            f"{t['entering_events']:,} enter, over {t['days']:.1f} days of "
            f"{t['events']:,} events).",
            f"- Error volume: {t['error_events_before']:,} → {t['error_events_after']:,} events.",
            f"- Groups: {t['newly_downgraded']} newly downgraded, "
            f"{t['no_longer_downgraded']} no longer downgraded, {t['changed_kind']} changed kind "
            f"or level, {t['unchanged']} unchanged.",
        ]
        for name in SECTIONS[:-1]:
            df = self.section(name)
            if df.empty:
                continue
            lines += [
                "",
                f"#### {SECTION_TITLES[name]} ({len(df)})",
                "",
                "| group | title | events | users | before | after | moving | rules |",
                "|---|---|---:|---:|---|---|---|---|",
            ]
            for r in df.itertuples(index=False):
                label = r.short_id if isinstance(r.short_id, str) else r.group
                lines.append(
                    f"| `{md_code(label)}` | {_mdt(short(r.title, 80))} "
                    f"| {r.events:,} | {r.users:,} "
                    f"| {md_cell(state_text(r.base_kind, r.base_level))} "
                    f"| {md_cell(state_text(r.head_kind, r.head_level))} "
                    f"| {md_cell(moving_text(r))} | {md_cell(rules_text(r))} |"
                )
        if self.warnings:
            lines += ["", f"#### Warnings ({len(self.warnings)})", ""]
            for w in self.warnings:
                lines.append(f"- **{w.check}**, rule `{md_code(w.rule)}`: {_mdt(w.message)}")
                for ex in w.examples:
                    lines.append(f"  - matched: `{_code(ex)}`")
                for ex in w.staying_examples:
                    lines.append(f"  - stays an error: `{_code(ex)}`")
        unchanged = self.section("unchanged")
        lines += [
            "",
            f"_Unchanged: {len(unchanged)} groups, "
            f"{int(unchanged['events'].sum()) if len(unchanged) else 0:,} events. "
            f"Rule tables `{self.base_name}` ({self.base_hash}) → `{self.head_name}` "
            f"({self.head_hash})._",
        ]
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        cols = [
            "section",
            "group",
            "title",
            "events",
            "users",
            "base_kind",
            "base_level",
            "head_kind",
            "head_level",
            "moving_events",
            "moving_users",
            "base_rules",
            "head_rules",
        ]
        shown = self.groups[self.groups["section"] != "unchanged"][cols]
        html = [
            f"<p><b>{_h(self.base_name)}</b> → <b>{_h(self.head_name)}</b>: "
            f"{self.totals['leaving_events']:,} events leave error volume, "
            f"{self.totals['entering_events']:,} enter "
            f"({self.totals['net_leaving_per_day']:,.1f} fewer per day); "
            f"{self.totals['unchanged']} groups unchanged.</p>",
            shown.to_html(index=False),
        ]
        if self.warnings:
            items = "".join(
                f"<li><b>{_h(w.check)}</b> rule <code>{_h(w.rule)}</code>: {_h(w.message)}</li>"
                for w in self.warnings
            )
            html.append(f"<ul>{items}</ul>")
        return "\n".join(html)


def _mdt(text: Any) -> str:
    """Markdown-safe text: also escape ``<`` so a template's ``<num>`` is not read as HTML."""
    return md_cell(text)


def _h(text: Any) -> str:
    import html

    return html.escape("" if text is None else str(text))


def _code(text: str) -> str:
    return md_code(short(text, 160))


def state_text(kind: Any, level: Any) -> str:
    k = kind if isinstance(kind, str) else ""
    return f"{k} · {level}" if k else str(level)


def moving_text(r: Any) -> str:
    if not r.moving_events:
        return f"{r.changed_events:,} events re-classified" if r.changed_events else ""
    parts = []
    if r.leaving_events:
        parts.append(f"{r.leaving_events:,} leave")
    if r.entering_events:
        parts.append(f"{r.entering_events:,} enter")
    users = "user" if r.moving_users == 1 else "users"
    return f"{', '.join(parts)} ({r.moving_users:,} {users})"


def rules_text(r: Any) -> str:
    base = ", ".join(r.base_rules)
    head = ", ".join(r.head_rules)
    if base and head and base != head:
        return f"{base} → {head}"
    return head or (f"was {base}" if base else "")


def _group_dict(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "group": rec["group"],
        "title": rec["title"],
        "events": int(rec["events"]),
        "users": int(rec["users"]),
        "first_seen": jsonable(rec["first_seen"]),
        "last_seen": jsonable(rec["last_seen"]),
        "level": rec["level"],
        "before": {
            "kind": jsonable(rec["base_kind"]),
            "level": rec["base_level"],
            "verdict": rec["base_verdict"],
            "rules": list(rec["base_rules"]),
        },
        "after": {
            "kind": jsonable(rec["head_kind"]),
            "level": rec["head_level"],
            "verdict": rec["head_verdict"],
            "rules": list(rec["head_rules"]),
        },
        "leaving_events": int(rec["leaving_events"]),
        "entering_events": int(rec["entering_events"]),
        "moving_events": int(rec["moving_events"]),
        "moving_users": int(rec["moving_users"]),
        "changed_events": int(rec["changed_events"]),
    }


# ---------------------------------------------------------------------------------------------
# Building a diff


def compare(
    con: duckdb.DuckDBPyConnection,
    base: RuleTable,
    head: RuleTable,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    tags: tuple[str, ...] | list[str] = (),
    reclassify: bool = True,
) -> Diff:
    """Classify the events with both tables (unless told not to) and diff them."""
    if reclassify:
        classify(con, base)
        if head.hash != base.hash:
            classify(con, head)
    return build(con, base, head, threshold=threshold, tags=tags)


def build(
    con: duckdb.DuckDBPyConnection,
    base: RuleTable,
    head: RuleTable,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    tags: tuple[str, ...] | list[str] = (),
) -> Diff:
    """Diff two tables whose classifications are already stored."""
    check_threshold(threshold)
    tags = tuple(dict.fromkeys(t.removeprefix("tags.") for t in tags))
    groups = con.execute(
        sqlfiles.load("diff_groups.sql"),
        {"base": base.hash, "head": head.hash, "threshold": threshold},
    ).df()
    for col in ("base_rules", "head_rules"):
        groups[col] = groups[col].map(lambda r: [] if r is None or r is pd.NA else list(r))
    matches = con.execute(
        sqlfiles.load("diff_rule_matches.sql"), {"head": head.hash, "tags": list(tags)}
    ).df()
    dims = [*BASE_DIMENSIONS, *(f"tags.{t}" for t in tags)]
    warnings = _warnings(groups, matches, dims)
    warnings = _with_examples(con, head, warnings)
    return Diff(
        base_name=base.name,
        base_hash=base.hash,
        head_name=head.name,
        head_hash=head.hash,
        groups=groups,
        totals=_totals(con, groups),
        warnings=warnings,
        threshold=threshold,
        tags=tags,
    )


def _totals(con: duckdb.DuckDBPyConnection, groups: pd.DataFrame) -> dict[str, Any]:
    span = con.execute("SELECT date_diff('second', min(ts), max(ts)) FROM events").fetchone()[0]
    days = max((span or 0) / 86400.0, 1.0)
    leaving = int(groups["leaving_events"].sum()) if len(groups) else 0
    entering = int(groups["entering_events"].sum()) if len(groups) else 0
    counts = groups["section"].value_counts() if len(groups) else {}
    totals: dict[str, Any] = {
        "events": int(groups["events"].sum()) if len(groups) else 0,
        "groups": len(groups),
        "days": round(days, 3),
        "error_events_before": _sum(groups, "base_error_events"),
        "error_events_after": _sum(groups, "head_error_events"),
        "leaving_events": leaving,
        "entering_events": entering,
        "net_leaving_events": leaving - entering,
        "leaving_per_day": round(leaving / days, 2),
        "entering_per_day": round(entering / days, 2),
        "net_leaving_per_day": round((leaving - entering) / days, 2),
    }
    for name in SECTIONS:
        totals[name] = int(counts.get(name, 0))
    return totals


def _sum(groups: pd.DataFrame, col: str) -> int:
    return int(groups[col].sum()) if len(groups) else 0


def _warnings(groups: pd.DataFrame, matches: pd.DataFrame, dims: list[str]) -> list[DiffWarning]:
    out: list[DiffWarning] = []
    new_keys = set(groups.loc[groups["section"] == "newly_downgraded", "group"])
    # Events each head rule matched per group (every event has exactly one `platform` row).
    sizes: dict[str, dict[str, int]] = defaultdict(dict)
    for r in matches[matches["dim"] == "platform"].itertuples(index=False):
        sizes[r.rule_id][r.group] = sizes[r.rule_id].get(r.group, 0) + int(r.events)
    values: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for r in matches.itertuples(index=False):
        values[(r.rule_id, r.group, r.dim)][r.value] = int(r.events)

    for g in groups.itertuples(index=False):
        if g.section == "newly_downgraded":
            for rule in g.head_rules:
                w = _collateral(g, rule, sizes[rule], values, dims, new_keys)
                if w:
                    out.append(w)
            if isinstance(g.base_kind, str) and g.base_level in ERROR_LEVELS:
                rule = ", ".join(g.head_rules)
                out.append(
                    DiffWarning(
                        check="overrides_error_rule",
                        rule=rule,
                        group=g.group,
                        title=g.title,
                        message=(
                            f"group {g.group} ({short(g.title, 60)}, {g.events:,} events) is now "
                            f"downgraded to {state_text(g.head_kind, g.head_level)} by {rule}, "
                            "but the "
                            f"base table's {', '.join(g.base_rules) or 'rules'} classified it as "
                            f"{g.base_kind} and kept it at {g.base_level}"
                        ),
                        details={"base_rules": list(g.base_rules), "base_kind": g.base_kind},
                    )
                )
        if g.head_verdict == "partial" and g.changed_events > 0:
            for rule in g.head_rules:
                matched = sizes[rule].get(g.group, 0)
                out.append(
                    DiffWarning(
                        check="partial_group",
                        rule=rule,
                        group=g.group,
                        title=g.title,
                        message=(
                            f"matches {matched:,} of the {g.events:,} events of group {g.group} "
                            f"({short(g.title, 60)}); the others stay errors: the group mixes "
                            "causes, or the rule is too narrow or too broad"
                        ),
                        details={"matched_events": matched, "events": int(g.events)},
                    )
                )
    return out


def _collateral(
    g: Any,
    rule: str,
    rule_sizes: dict[str, int],
    values: dict[tuple[str, str, str], dict[str, int]],
    dims: list[str],
    new_keys: set[str],
) -> DiffWarning | None:
    """A newly downgraded group unlike the rest of its rule's matches, or None.

    The rest is the rule's matches in other groups, preferring groups this diff does not newly
    downgrade (what the rule already covered is the best statement of its intent). The group is
    flagged when it is the smaller part of the rule's matches and, on some dimension, shares no
    value with the rest.
    """
    mine = rule_sizes.get(g.group, 0)
    others = [k for k in rule_sizes if k != g.group]
    established = [k for k in others if k not in new_keys]
    ref = established or others
    ref_events = sum(rule_sizes[k] for k in ref)
    if not ref or mine == 0 or mine >= ref_events:
        return None
    diffs = []
    for dim in dims:
        own = values.get((rule, g.group, dim), {})
        theirs: dict[str, int] = defaultdict(int)
        for k in ref:
            for v, n in values.get((rule, k, dim), {}).items():
                theirs[v] += n
        if not own or set(own) & set(theirs):
            continue
        top = sorted(theirs.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        diffs.append(
            {
                "dimension": dim,
                "group_values": sorted(own, key=lambda v: -own[v]),
                "other_values": [{"value": v, "events": n} for v, n in top],
            }
        )
    if not diffs:
        return None
    described = "; ".join(
        f"{d['dimension']} {_vals(d['group_values'])} here, elsewhere "
        + ", ".join(f"{_val(o['value'])} ({o['events']:,})" for o in d["other_values"])
        for d in diffs
    )
    return DiffWarning(
        check="collateral",
        rule=rule,
        group=g.group,
        title=g.title,
        message=(
            f"newly downgrades group {g.group} ({short(g.title, 60)}, {mine:,} events), which "
            f"differs from the rule's other {ref_events:,} matches in {len(ref)} group(s): "
            f"{described}"
        ),
        details={"differences": diffs, "matched_events": mine, "other_events": ref_events},
    )


def _val(v: str) -> str:
    return repr(v) if v else "(none)"


def _vals(vs: list[str]) -> str:
    return ", ".join(_val(v) for v in vs[:3])


def _with_examples(
    con: duckdb.DuckDBPyConnection, head: RuleTable, warnings: list[DiffWarning]
) -> list[DiffWarning]:
    if not warnings:
        return warnings
    keys = sorted({w.group for w in warnings})
    rows = con.execute(
        sqlfiles.load("diff_examples.sql"),
        {"head": head.hash, "groups": keys, "per": EXAMPLES_PER_WARNING},
    ).fetchall()
    texts: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for group, rule_id, text, _n in rows:
        texts[(group, rule_id)].append(text)
    out = []
    for w in warnings:
        matched = [t for r in w.rule.split(", ") for t in texts.get((w.group, r), [])]
        staying = texts.get((w.group, None), []) if w.check == "partial_group" else []
        out.append(
            DiffWarning(
                check=w.check,
                rule=w.rule,
                group=w.group,
                title=w.title,
                message=w.message,
                examples=tuple(matched[:EXAMPLES_PER_WARNING]),
                staying_examples=tuple(staying[:EXAMPLES_PER_WARNING]),
                details=w.details,
            )
        )
    return out
