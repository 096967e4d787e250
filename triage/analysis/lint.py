"""Check a rule table before it ships: dead rules, failing examples, patterns that catch too much.

Everything runs through the SQL the classifier runs (triage.targets.sql), on the rule examples and,
given a database, on the stored events, so lint and classification cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import re2

from triage.analysis.examples import example_column, load_examples
from triage.rules import All, Any_, Condition, Example, Leaf, Not, RuleTable, fields_of, leaves
from triage.store import sqlfiles as sqlfiles
from triage.targets.sql import compile_condition, event_field_sql, gate_valid, necessary_gate

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
            *_examples(table, scratch),
            *_generic_patterns(table),
            *_personal_data(table),
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
    """Regexes DuckDB's RE2 refuses. Checked 256 to a statement (10k rules: 40 statements, not
    10k); a batch that fails is checked one by one to name the pattern."""
    items = [
        (rule.id, leaf)
        for rule in table.rules
        for leaf in leaves(rule.condition)
        if leaf.op == "regex"
    ]
    out = []
    for start in range(0, len(items), 256):
        batch = items[start : start + 256]
        params: list[str] = []
        cols = []
        for _, leaf in batch:
            params += [leaf.value, "" if leaf.case_sensitive else "i"]
            cols.append("regexp_matches('', ?, ?)")
        try:
            con.execute(f"SELECT {', '.join(cols)}", params).fetchone()
            continue
        except duckdb.Error:
            pass
        for rule_id, leaf in batch:
            flags = "" if leaf.case_sensitive else "i"
            try:
                con.execute("SELECT regexp_matches('', ?, ?)", [leaf.value, flags]).fetchone()
            except duckdb.Error as exc:
                out.append(
                    Finding(
                        "error",
                        "invalid",
                        rule_id,
                        f"DuckDB refuses regex {leaf.value!r}: {str(exc).splitlines()[0]}",
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------
# Every condition against many rows, in long form
#
# Why: a 10,000-rule table evaluated as one wide row per input (a CASE of 10k arms plus a column
# per rule and per sub-condition) made DuckDB plan and hold 20k columns: 5 GB and no answer in
# 10 minutes on 30 events. Here conditions run in blocks, each block gated by one combined regex
# of what its conditions need (as the classifier's fast form, triage.targets.sql), and only the
# (row, condition) pairs that hold are kept: a sparse table whatever the number of rules. The
# first-match winner of a row is its smallest matching rule index, the CASE chain's answer.

HIT_BLOCK = 64


def _long_hits(
    con: duckdb.DuckDBPyConnection,
    conds: list[Condition],
    source: str,
    column: Any,
    out: str,
    lower_column: Any = None,
    ks: list[int] | None = None,
) -> None:
    """TEMP ``out (id, k)``: every row ``id`` of ``source`` where condition ``k`` holds (``k``
    the 0-based position in ``conds``, or ``ks[position]``). Appends when ``out`` exists."""
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {out} (id BIGINT, k INTEGER)")
    numbered = list(zip(ks if ks is not None else range(len(conds)), conds, strict=True))
    for start in range(0, len(numbered), HIT_BLOCK):
        block = numbered[start : start + HIT_BLOCK]
        params: list[str] = []  # in placeholder order: the arms, then the gate
        arms = [
            f"CASE WHEN {compile_condition(c, column, params, lower_column)} THEN {k} END"
            for k, c in block
        ]
        gate = _block_gate([c for _, c in block], column, lower_column, params)
        con.execute(
            f"INSERT INTO {out} SELECT id, k FROM (SELECT id, unnest([{', '.join(arms)}]) AS k "
            f"FROM {source}{f' WHERE {gate}' if gate else ''}) WHERE k IS NOT NULL",
            params,
        )


def _block_gate(conds: list[Condition], column: Any, lower_column: Any, params: list[str]) -> str:
    """A test every row that any of ``conds`` matches passes (empty: no such test)."""
    merged: dict[tuple[str, bool], list[str]] = {}
    for c in conds:
        g = necessary_gate(c)
        if g is None:
            return ""
        for key, pieces in g.items():
            merged.setdefault(key, []).extend(pieces)
    # One RE2 check per field and block (not per rule): a block whose combined pattern RE2
    # refuses runs ungated, which is slower, never different.
    if not all(gate_valid("|".join(dict.fromkeys(v))) for v in merged.values()):
        return ""
    tests = []
    for (fld, lowered), pieces in merged.items():
        subject = column(fld)
        if lowered:
            subject = lower_column(fld) if lower_column else f"lower({subject})"
        params.append("|".join(dict.fromkeys(pieces)))
        tests.append(f"regexp_matches({subject}, ?)")
    return " OR ".join(tests)


# ---------------------------------------------------------------------------------------------
# Examples: each rule's own, then against the rules above it


def _examples(table: RuleTable, con: duckdb.DuckDBPyConnection) -> list[Finding]:
    """Each rule's examples against its own condition (failing examples), and every match example
    against the whole first-match table (shadowing), from one evaluation of every rule on every
    example.

    An example its own rule matches but an earlier rule wins is *taken*; a rule whose examples
    are all taken can never match what it was written for.
    """
    items: list[tuple[int, bool, Example]] = [
        (owner, expect, ex)
        for owner, r in enumerate(table.rules)
        for expect, exs in ((True, r.match_examples), (False, r.no_match_examples))
        for ex in exs
    ]
    own: dict[int, bool] = {}
    winner: dict[int, int | None] = {}
    if items:
        load_examples(con, [ex for _, _, ex in items])
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ex_owner AS "
            "SELECT unnest(?::INTEGER[]) AS i, unnest(?::INTEGER[]) AS owner",
            [list(range(len(items))), [o for o, _, _ in items]],
        )
        conds = [r.condition for r in table.rules]
        con.execute("DROP TABLE IF EXISTS ex_hits")
        _long_hits(con, conds, "(SELECT i AS id, * FROM ex)", example_column, "ex_hits")
        for i, first, is_own in con.execute(
            "SELECT o.i, min(h.k), coalesce(bool_or(h.k = o.owner), false) "
            "FROM ex_owner o LEFT JOIN ex_hits h ON h.id = o.i GROUP BY o.i"
        ).fetchall():
            own[i], winner[i] = bool(is_own), first
        con.execute("DROP TABLE IF EXISTS ex_hits")

    out = []
    taken: dict[int, list[tuple[Example, int]]] = {}
    own_ok: dict[int, int] = {}
    k = 0
    for owner, rule in enumerate(table.rules):
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
            for ex in exs:
                got = own[k]
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
                elif expect:
                    own_ok[owner] = own_ok.get(owner, 0) + 1
                    w = winner[k]
                    if w is not None and w < owner:
                        taken.setdefault(owner, []).append((ex, w))
                k += 1
    for owner, items_taken in sorted(taken.items()):
        out.append(_shadow_finding(table, owner, items_taken, own_ok[owner]))
    return out


def _shadow_finding(
    table: RuleTable, owner: int, items: list[tuple[Example, int]], own_ok: int
) -> Finding:
    rule = table.rules[owner]
    by = list(dict.fromkeys(table.rules[w].id for _, w in items))
    first = table.rules[items[0][1]]
    details = {
        "shadowed_by": by,
        "examples": [{"example": ex.label, "taken_by": table.rules[w].id} for ex, w in items],
    }
    if len(items) == own_ok:
        return Finding(
            "error",
            "shadowed",
            rule.id,
            f"can never match its examples: earlier rule {', '.join(by)} takes all "
            f"{len(items)} (e.g. {items[0][0].label!r} -> {first.id}, "
            f"{first.kind}/{first.level})",
            details,
        )
    return Finding(
        "warning",
        "shadowed_example",
        rule.id,
        f"{len(items)} of its {own_ok} examples are taken by earlier rule "
        f"{', '.join(by)} (e.g. {items[0][0].label!r} -> {first.id})",
        details,
    )


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


# ---------------------------------------------------------------------------------------------
# Personal data written into a rule
#
# Detectors: an email address (local@domain.tld, the TLD letters only, so `app@1.2.3` is a
# release); an IPv4 address of four octets <= 255 not glued to a letter, digit, dot or `v` (so
# `v1.2.3.4` and `10.15.7` are versions); an IPv6 address with `::` or eight groups and a digit,
# checked by the ipaddress module. Regex text is read with groups, alternatives and backslash
# escapes removed, so `10\.0\.0\.1` and `(a|b)@x\.org` count; classes such as `[\w.]+@[\w.]+`
# hold no literal address and do not.

_EMAIL_RE = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
_IPV6_RE = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def personal_data(text: str) -> list[str]:
    """The email and IP address literals in ``text`` (see the detectors above)."""
    import ipaddress

    found = [f"email {m}" for m in _EMAIL_RE.findall(text)]
    for m in _IPV4_RE.findall(text):
        if all(int(part) <= 255 for part in m.split(".")):
            found.append(f"IP {m}")
    for m in _IPV6_RE.findall(text):
        if ("::" not in m and m.count(":") != 7) or not any(c.isdigit() for c in m):
            continue  # a::b is a path (Rust, C++) far more often than an address
        try:
            ipaddress.IPv6Address(m)
        except ValueError:
            continue
        found.append(f"IP {m}")
    return found


def _personal_data(table: RuleTable) -> list[Finding]:
    """Rules that test for one person's address: personal data shipped in every export of the
    table (TypeScript, Rust, Sentry fingerprints), and a rule about a user, not a condition."""
    out = []
    for rule in table.rules:
        hits: list[str] = []
        for leaf in leaves(rule.condition):
            text = leaf.value
            if leaf.op == "regex":  # groups and alternatives read as words: (a|b)@x.org -> b@x.org
                text = re.sub(r"\(\?:|[()]", "", text).replace("|", " ")
                text = re.sub(r"\\(.)", r"\1", text)
            hits += [h for h in personal_data(text) if h not in hits]
        if hits:
            out.append(
                Finding(
                    "warning",
                    "personal_data",
                    rule.id,
                    f"tests for {', '.join(hits)}: personal data in a rule table ships with every "
                    "export of it; match the condition, not the person",
                    {"literals": hits},
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
    _evaluate(con, table, unit_list)
    try:
        return [
            *_no_hits(con, table, total_events),
            *_broad(con, unit_list, total_groups, broad_share, broad_min_groups),
            *_unmatched(con, top),
        ]
    finally:
        for name in ("lint_inputs", "lint_events", "lint_rule_hits", "lint_unit_hits"):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def _evaluate(con: duckdb.DuckDBPyConnection, table: RuleTable, unit_list: list) -> None:
    """TEMP ``lint_events``: per event, its distinct input (``input_id``) and the winning rule
    (``rule_idx``, 1-based); TEMP ``lint_rule_hits`` / ``lint_unit_hits`` ``(id, k)``: the inputs
    each rule's own condition, and each deciding sub-condition, matches (long form, see
    :func:`_long_hits`).

    As in triage.classify, the conditions run once per distinct input and join back to events.
    """
    fields = ["message"]
    for rule in table.rules:
        fields += [f for f in fields_of(rule.condition) if f not in fields]
    alias = {f: f"f{i}" for i, f in enumerate(fields)}
    lowered = {f: f"l{i}" for i, f in enumerate(fields)}
    select_distinct = ", ".join(f"{event_field_sql(f)} AS {alias[f]}" for f in fields)
    lowers = ", ".join(f"lower({alias[f]}) AS {lowered[f]}" for f in fields)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE lint_inputs AS SELECT row_number() OVER () AS id, *, "
        f"{lowers} FROM (SELECT DISTINCT {select_distinct} FROM events)"
    )
    for name in ("lint_rule_hits", "lint_unit_hits"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    conds = [r.condition for r in table.rules]
    _long_hits(con, conds, "lint_inputs", alias.__getitem__, "lint_rule_hits", lowered.__getitem__)
    # A deciding sub-condition that is its rule's whole condition (no top-level any) has the
    # rule's hits: only the arms of an any are evaluated again.
    index = {id(r): i for i, r in enumerate(table.rules)}
    same = [(index[id(r)], k) for k, (r, u) in enumerate(unit_list) if u is r.condition]
    con.execute("CREATE TEMP TABLE lint_unit_hits (id BIGINT, k INTEGER)")
    if same:
        con.execute(
            "INSERT INTO lint_unit_hits SELECT h.id, m.unit FROM lint_rule_hits h JOIN "
            "(SELECT unnest(?::INTEGER[]) AS rule, unnest(?::INTEGER[]) AS unit) m "
            "ON m.rule = h.k",
            [[r for r, _ in same], [k for _, k in same]],
        )
    arms = [(k, u) for k, (r, u) in enumerate(unit_list) if u is not r.condition]
    _long_hits(
        con,
        [u for _, u in arms],
        "lint_inputs",
        alias.__getitem__,
        "lint_unit_hits",
        lowered.__getitem__,
        ks=[k for k, _ in arms],
    )
    join_on = " AND ".join(f"{event_field_sql(f)} = m.{alias[f]}" for f in fields)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lint_events AS "
        "SELECT e.group_key, e.template, e.user_id, e.level, m.id AS input_id, w.rule_idx "
        f"FROM events e JOIN lint_inputs m ON {join_on} "
        "LEFT JOIN (SELECT id, min(k) + 1 AS rule_idx FROM lint_rule_hits GROUP BY id) w "
        "ON w.id = m.id"
    )


def _no_hits(con: duckdb.DuckDBPyConnection, table: RuleTable, total: int) -> list[Finding]:
    """Rules that win no event: nothing matches them, or earlier rules take every match."""
    hits = {idx for (idx, _n, _g) in con.execute(sqlfiles.load("lint_rule_hits.sql")).fetchall()}
    taken: dict[int, list[tuple[int, int]]] = {}
    for own, idx, n in con.execute(sqlfiles.load("lint_taken_by.sql")).fetchall():
        taken.setdefault(own, []).append((idx, n))
    out = []
    for i, rule in enumerate(table.rules, start=1):
        if i in hits:
            continue
        if i not in taken:
            out.append(
                Finding("info", "no_hits", rule.id, f"matches none of the {total:,} stored events")
            )
            continue
        by = [(table.rules[idx - 1].id, n) for idx, n in taken[i]]
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
    counts = dict(
        con.execute(
            "SELECT h.k, count(DISTINCT e.group_key) FROM lint_unit_hits h "
            "JOIN lint_events e ON e.input_id = h.id GROUP BY h.k"
        ).fetchall()
    )
    out = []
    for k, (rule, unit) in enumerate(unit_list):
        groups = counts.get(k, 0)
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
