"""Check a rule table before it ships: dead rules, failing examples, patterns that catch too much.

Everything runs through the SQL the classifier runs (triage.compile_sql), on the rule examples and,
given a database, on the stored events, so lint and classification cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import re2

from triage.analysis.examples import example_column, load_examples, matches
from triage.rules import All, Any_, Condition, Example, Leaf, Not, RuleTable, leaves
from triage.store import sqlfiles as sqlfiles
from triage.targets.sql import compile_condition, compile_table, event_field_sql

SEVERITIES = ("error", "warning", "info")
# A pattern shorter than this (after trimming) matches far more than its author meant.
MIN_PATTERN_CHARS = 4
GENERIC_WORDS = frozenset(
    "error errors err failed fail failure exception unknown invalid warning null undefined none "
    "true false http https request response timeout status code message".split()
)
# With a database: a sub-condition matching at least this share of the groups (and at least
# BROAD_MIN_GROUPS of them) is too broad to be about one condition.
BROAD_SHARE = 0.2
BROAD_MIN_GROUPS = 3


@dataclass(frozen=True)
class Finding:
    """One lint result. ``rule`` is a rule id, or ``-`` for the table as a whole."""

    severity: str
    check: str
    rule: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.severity:<7} {self.check:<18} {self.rule}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "check": self.check,
            "rule": self.rule,
            "message": self.message,
            "details": self.details,
        }


def lint(
    table: RuleTable,
    store: Any = None,
    *,
    top: int = 10,
    broad_share: float = BROAD_SHARE,
    broad_min_groups: int = BROAD_MIN_GROUPS,
) -> list[Finding]:
    """Every finding for ``table``, errors first; ``store`` (a triage Store or a DuckDB
    connection holding ``events``) adds the checks against real events."""
    scratch = duckdb.connect()
    try:
        refused = _engine_regexes(table, scratch)
        if refused:
            return refused  # the SQL checks below cannot run such a table
        findings = [
            *_example_checks(table, scratch),
            *_shadowing(table, scratch),
            *_generic_patterns(table),
            *_not_portable(table),
        ]
    finally:
        scratch.close()
    if store is not None:
        con = getattr(store, "con", store)
        findings += _against_events(table, con, top, broad_share, broad_min_groups)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: order[f.severity])


# ---------------------------------------------------------------------------------------------
# Regexes: parsing already refuses what google-re2 refuses; DuckDB bundles its own RE2 build.


def _engine_regexes(table: RuleTable, con: duckdb.DuckDBPyConnection) -> list[Finding]:
    out = []
    for rule in table.rules:
        for leaf in leaves(rule.condition):
            if leaf.op != "regex":
                continue
            flags = "" if leaf.case_sensitive else "i"
            try:
                con.execute("SELECT regexp_matches('', ?, ?)", [leaf.value, flags]).fetchone()
            except duckdb.Error as exc:
                out.append(
                    Finding(
                        "error",
                        "invalid",
                        rule.id,
                        f"DuckDB refuses regex {leaf.value!r}: {str(exc).splitlines()[0]}",
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------
# Examples: each rule's own, then against the rules above it


def _example_checks(table: RuleTable, con: duckdb.DuckDBPyConnection) -> list[Finding]:
    out = []
    for rule in table.rules:
        if not rule.match_examples:
            out.append(
                Finding(
                    "info",
                    "no_examples",
                    rule.id,
                    "no examples.match: neither the rule nor its shadowing can be checked",
                )
            )
        for expect, exs in ((True, rule.match_examples), (False, rule.no_match_examples)):
            if not exs:
                continue
            for ex, got in zip(exs, matches(rule, list(exs), con), strict=True):
                if got != expect:
                    word = "should match but does not" if expect else "matches but should not"
                    out.append(
                        Finding(
                            "error",
                            "failing_example",
                            rule.id,
                            f"{ex.label!r} {word}",
                            {"example": ex.fields, "expected": expect},
                        )
                    )
    return out


def _shadowing(table: RuleTable, con: duckdb.DuckDBPyConnection) -> list[Finding]:
    """Run the whole first-match table over every rule's match examples.

    An example its own rule matches but an earlier rule wins is *taken*; a rule whose examples
    are all taken can never match what it was written for.
    """
    owners: list[tuple[int, Example]] = [
        (i, ex) for i, r in enumerate(table.rules) for ex in r.match_examples
    ]
    if not owners:
        return []
    load_examples(con, [ex for _, ex in owners])
    compiled = compile_table(table, column=example_column)
    own_params: list[str] = []
    own_cases = []
    for i, r in enumerate(table.rules):
        cond = compile_condition(r.condition, example_column, own_params)
        own_cases.append(f"WHEN {i} THEN {cond}")
    con.execute("CREATE OR REPLACE TEMP TABLE ex_owner (i INTEGER, owner INTEGER)")
    pairs = [[k, owner] for k, (owner, _) in enumerate(owners)]
    con.executemany("INSERT INTO ex_owner VALUES (?, ?)", pairs)
    rows = con.execute(
        f"SELECT ex.i, {compiled.expr} AS winner, "
        f"CASE o.owner {' '.join(own_cases)} END AS own "
        f"FROM ex JOIN ex_owner o USING (i) ORDER BY ex.i",
        [*compiled.params, *own_params],
    ).fetchall()
    taken: dict[int, list[tuple[Example, int]]] = {}
    own_ok: dict[int, int] = {}
    for k, winner, own in rows:
        owner, ex = owners[k]
        if not own:
            continue  # a failing example, reported by _example_checks
        own_ok[owner] = own_ok.get(owner, 0) + 1
        if winner is not None and winner - 1 < owner:
            taken.setdefault(owner, []).append((ex, winner - 1))
    out = []
    for owner, items in sorted(taken.items()):
        rule = table.rules[owner]
        by = list(dict.fromkeys(table.rules[w].id for _, w in items))
        first = table.rules[items[0][1]]
        details = {
            "shadowed_by": by,
            "examples": [{"example": ex.label, "taken_by": table.rules[w].id} for ex, w in items],
        }
        if len(items) == own_ok[owner]:
            out.append(
                Finding(
                    "error",
                    "shadowed",
                    rule.id,
                    f"can never match its examples: earlier rule {', '.join(by)} takes all "
                    f"{len(items)} (e.g. {items[0][0].label!r} -> {first.id}, "
                    f"{first.kind}/{first.level})",
                    details,
                )
            )
        else:
            out.append(
                Finding(
                    "warning",
                    "shadowed_example",
                    rule.id,
                    f"{len(items)} of its {own_ok[owner]} examples are taken by earlier rule "
                    f"{', '.join(by)} (e.g. {items[0][0].label!r} -> {first.id})",
                    details,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Patterns too short or generic to mean one condition


def units(cond: Condition) -> list[Condition]:
    """The parts of a condition that decide a match on their own: the arms of a top-level any."""
    if isinstance(cond, Any_):
        return [u for c in cond.items for u in units(c)]
    return [cond]


def describe(cond: Condition) -> str:
    """A short readable form of a condition, for messages."""
    if isinstance(cond, Leaf):
        cs = " (case-sensitive)" if cond.case_sensitive else ""
        return f"{cond.field} {cond.op} {cond.value!r}{cs}"
    if isinstance(cond, Not):
        return f"not ({describe(cond.item)})"
    word = " and " if isinstance(cond, All) else " or "
    return "(" + word.join(describe(c) for c in cond.items) + ")"


def _literal_reason(text: str) -> str | None:
    t = text.strip()
    if len(t) < MIN_PATTERN_CHARS:
        return f"{text!r} is only {len(t)} character(s)"
    if t.isdigit() and len(t) <= 5:
        return f"{text!r} is a bare number (also in ids, counts, sizes and durations)"
    if t.lower() in GENERIC_WORDS:
        return f"{text!r} is a generic word"
    return None


def _regex_literals(pattern: str) -> list[str] | None:
    """The alternatives of a regex made only of literals, ``|`` and ``\\b``; else None."""
    alts: list[list[str]] = [[]]
    body = pattern.replace(r"\b", "")
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 < len(body) and not body[i + 1].isalnum():
                alts[-1].append(body[i + 1])
                i += 2
                continue
            return None  # a class such as \d or \s
        if c == "|":
            alts.append([])
        elif c in ".*+?[]{}()^$":
            return None
        else:
            alts[-1].append(c)
        i += 1
    return ["".join(a) for a in alts]


def _leaf_reason(leaf: Leaf) -> str | None:
    if leaf.op == "equals":
        return None
    if leaf.op == "regex":
        try:
            if re2.search(leaf.value, ""):
                return f"regex {leaf.value!r} matches the empty string, so every event"
        except Exception:  # refused patterns never load; keep lint total anyway
            return None
        alts = _regex_literals(leaf.value)
        if alts is None:
            return None
        for alt in alts:
            reason = _literal_reason(alt)
            if reason:
                return f"regex alternative {reason}"
        return None
    return _literal_reason(leaf.value)


def generic_reason(cond: Condition) -> str | None:
    """Why a deciding condition would match most events, or None when it looks specific."""
    if isinstance(cond, Leaf):
        return _leaf_reason(cond)
    if isinstance(cond, Not):
        if generic_reason(cond.item) is None:
            return f"{describe(cond)} matches nearly every event on its own"
        return None
    if isinstance(cond, Any_):
        for c in cond.items:
            reason = generic_reason(c)
            if reason:
                return reason
        return None
    positives = [c for c in cond.items if not isinstance(c, Not)]
    if not positives:
        return f"{describe(cond)} has only negative tests"
    reasons = [generic_reason(c) for c in positives]
    if all(reasons):
        return "; ".join(r for r in reasons if r)
    return None


def _generic_patterns(table: RuleTable) -> list[Finding]:
    out = []
    for rule in table.rules:
        for unit in units(rule.condition):
            reason = generic_reason(unit)
            if reason:
                out.append(
                    Finding(
                        "warning",
                        "generic_pattern",
                        rule.id,
                        f"{describe(unit)} decides a match on its own and {reason}",
                        {"condition": describe(unit)},
                    )
                )
    return out


def _not_portable(table: RuleTable) -> list[Finding]:
    """Regexes `triage rules export --to typescript|rust` would refuse (SQL runs them fine)."""
    from triage.rules.regex_subset import Unsupported, translate

    out = []
    for rule in table.rules:
        for leaf in leaves(rule.condition):
            if leaf.op != "regex":
                continue
            try:
                translate(leaf.value, leaf.case_sensitive, "js")
            except Unsupported as exc:
                out.append(
                    Finding(
                        "info",
                        "not_portable",
                        rule.id,
                        f"regex {leaf.value!r} cannot be exported to TypeScript or Rust: {exc}",
                        {"pattern": leaf.value},
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------
# Against the stored events


def _against_events(
    table: RuleTable,
    con: duckdb.DuckDBPyConnection,
    top: int,
    broad_share: float,
    broad_min_groups: int,
) -> list[Finding]:
    total_events, total_groups = con.execute(
        "SELECT count(*), count(DISTINCT group_key) FROM events"
    ).fetchone()
    if not total_events or not table.rules:
        return []
    unit_list = [(rule, u) for rule in table.rules for u in units(rule.condition)]
    _evaluate(con, table, [u for _, u in unit_list])
    try:
        return [
            *_no_hits(con, table, total_events),
            *_broad(con, unit_list, total_groups, broad_share, broad_min_groups),
            *_unmatched(con, top),
        ]
    finally:
        con.execute("DROP TABLE IF EXISTS lint_inputs")
        con.execute("DROP TABLE IF EXISTS lint_events")


def _evaluate(con: duckdb.DuckDBPyConnection, table: RuleTable, unit_conds: list) -> None:
    """TEMP ``lint_events``: per event, the winning rule (``rule_idx``), whether each rule's own
    condition holds (``r1..``) and each deciding sub-condition (``u0..``).

    As in triage.classify, the conditions run once per distinct input and join back to events.
    """
    fields = list(dict.fromkeys(["message", *compile_table(table).fields]))
    alias = {f: f"f{i}" for i, f in enumerate(fields)}
    column = alias.__getitem__
    compiled = compile_table(table, column=column)
    params = list(compiled.params)
    cols = [f"{compiled.expr} AS rule_idx"]
    for i, rule in enumerate(table.rules, start=1):
        cols.append(f"{compile_condition(rule.condition, column, params)} AS r{i}")
    for k, cond in enumerate(unit_conds):
        cols.append(f"{compile_condition(cond, column, params)} AS u{k}")
    select_distinct = ", ".join(f"{event_field_sql(f)} AS {alias[f]}" for f in fields)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE lint_inputs AS SELECT {', '.join(alias.values())}, "
        f"{', '.join(cols)} FROM (SELECT DISTINCT {select_distinct} FROM events)",
        params,
    )
    join_on = " AND ".join(f"{event_field_sql(f)} = m.{alias[f]}" for f in fields)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE lint_events AS SELECT e.group_key, e.template, e.user_id, "
        f"e.level, m.* EXCLUDE ({', '.join(alias.values())}) "
        f"FROM events e JOIN lint_inputs m ON {join_on}"
    )


def _no_hits(con: duckdb.DuckDBPyConnection, table: RuleTable, total: int) -> list[Finding]:
    """Rules that win no event: nothing matches them, or earlier rules take every match."""
    hits = {idx for (idx, _n, _g) in con.execute(sqlfiles.load("lint_rule_hits.sql")).fetchall()}
    out = []
    for i, rule in enumerate(table.rules, start=1):
        if i in hits:
            continue
        sql = sqlfiles.load("lint_taken_by.sql").replace("{own}", f"r{i}")
        taken = con.execute(sql).fetchall()
        if not taken:
            out.append(
                Finding("info", "no_hits", rule.id, f"matches none of the {total:,} stored events")
            )
            continue
        by = [(table.rules[idx - 1].id, n) for idx, n in taken]
        text = ", ".join(f"{rid} ({n:,})" for rid, n in by)
        out.append(
            Finding(
                "info",
                "no_hits",
                rule.id,
                f"no hits: all {sum(n for _, n in by):,} events it matches are taken by "
                f"earlier rules: {text}",
                {"taken_by": dict(by)},
            )
        )
    return out


def _broad(
    con: duckdb.DuckDBPyConnection,
    unit_list: list,
    total_groups: int,
    broad_share: float,
    broad_min_groups: int,
) -> list[Finding]:
    """Deciding sub-conditions that match a large share of the groups."""
    cols = [f"count(DISTINCT group_key) FILTER (WHERE u{k})" for k in range(len(unit_list))]
    row = con.execute(f"SELECT {', '.join(cols)} FROM lint_events").fetchone()
    out = []
    for (rule, unit), groups in zip(unit_list, row, strict=True):
        if groups >= broad_min_groups and groups >= broad_share * total_groups:
            out.append(
                Finding(
                    "warning",
                    "broad_match",
                    rule.id,
                    f"{describe(unit)} alone matches {groups:,} of the {total_groups:,} groups "
                    f"({groups / total_groups:.0%}): is it about one condition?",
                    {"condition": describe(unit), "groups": groups, "of_groups": total_groups},
                )
            )
    return out


def _unmatched(con: duckdb.DuckDBPyConnection, top: int) -> list[Finding]:
    """What stays in error volume: candidates for new rules."""
    if not top:
        return []
    out = []
    rows = con.execute(sqlfiles.load("lint_unmatched.sql"), [int(top)]).fetchall()
    for template, events, users, groups in rows:
        out.append(
            Finding(
                "info",
                "unmatched",
                "-",
                f"{_n(events, 'error event')} ({_n(users, 'user')}, {_n(groups, 'group')}) "
                f"no rule matches: {template!r}",
                {"template": template, "events": events, "users": users, "groups": groups},
            )
        )
    return out


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"
