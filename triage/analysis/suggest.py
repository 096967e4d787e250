"""Suggest rules: from groups that stay errors to proven additions to the rule table.

The data already says which error groups are expected conditions rather than bugs: one user's
polling loop, a single user's share of the group, auth / rate-limit / timeout / transport wording
in the message, a message like a known kind's examples. For each such cluster (the open events of
one group and message template: in error volume, no rule matching them) this module writes a
rule in the table's own TOML, then proves it with the existing machinery:

1. ``queries/suggest_clusters.sql`` describes every cluster under the current table (state of its
   events, users, top user's share, burst evidence, crash types, where the text lives);
2. a cluster is proposed only with an expected-condition signal (wording, or a known kind's
   examples); polling and a single user's share rank it and are shown as evidence, but alone
   they are not enough (a loop can repeat a real bug). Crash exception types are never
   proposed unless asked;
3. the condition: word windows of the cluster's most frequent text, around the phrase that named
   the condition, checked over every stored event at once (``queries/suggest_conditions.sql``);
   the narrowest window that covers the cluster and matches nothing outside it wins, then two
   literals, then a regex built from the text;
4. ``examples.match`` from its real messages, ``examples.no_match`` from the nearest groups that
   stay errors; the table with every candidate appended is diffed against the current one
   (:mod:`triage.diff`) and linted (:mod:`triage.lint`); a candidate that fails lint or moves a
   group it was not made for is dropped, with the reason.

Candidates are appended after the table's rules, so a rule the table already has always wins.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import re2

from triage.analysis.bursts import format_period, install_macro
from triage.analysis.classify import classify
from triage.analysis.diff import Diff, compare
from triage.analysis.examples import example_column, load_examples
from triage.analysis.lint import Finding, generic_reason, lint, personal_data
from triage.analysis.verdicts import DEFAULT_THRESHOLD
from triage.common.text import jsonable as _jsonable
from triage.common.text import md_cell as _md
from triage.common.text import short as _short
from triage.rules import LEVEL_RANK, Example, Leaf, RuleTable, parse
from triage.rules.casefold import lower as casefold_lower
from triage.store import sqlfiles
from triage.targets.sql import compile_condition

SCHEMA = "triage.suggest/1"
DEFAULT_MIN_EVENTS = 5
# A cluster whose top user has at least this share of its events is "one user's".
SINGLE_USER_SHARE = 0.8
# At least this share of the cluster's events in polling runs makes it a polling cluster.
POLLING_SHARE = 0.5
# Word-set similarity to a rule example above which the cluster reads as that rule's kind.
EXAMPLE_SIMILARITY = 0.6
MAX_WINDOW_WORDS = 10
MIN_LITERAL_CHARS = 8
EXAMPLES_MATCH = 3
EXAMPLES_NO_MATCH = 3

# Exception types of crashes: bugs in the code, never expected conditions.
CRASH_TYPES = (
    "panic",
    "typeerror",
    "referenceerror",
    "syntaxerror",
    "rangeerror",
    "urierror",
    "evalerror",
    "internalerror",
    "nullpointerexception",
    "nullreferenceexception",
    "indexoutofboundsexception",
    "arrayindexoutofboundsexception",
    "stringindexoutofboundsexception",
    "classcastexception",
    "illegalstateexception",
    "illegalargumentexception",
    "concurrentmodificationexception",
    "numberformatexception",
    "arithmeticexception",
    "stackoverflowerror",
    "outofmemoryerror",
    "attributeerror",
    "keyerror",
    "indexerror",
    "nameerror",
    "unboundlocalerror",
    "zerodivisionerror",
    "assertionerror",
    "recursionerror",
    "notimplementederror",
    "invalidcastexception",
    "argumentnullexception",
    "argumentoutofrangeexception",
    "nsinvalidargumentexception",
    "nsrangeexception",
    "exc_bad_access",
    "sigsegv",
    "sigabrt",
    "sigbus",
    "sigill",
    "fatal error",
)


@dataclass(frozen=True)
class Family:
    """Wording of one expected condition. ``stays_error``: named, but kept at error."""

    kind: str
    level: str
    pattern: str  # RE2, matched case-insensitively against the cluster's real messages
    stays_error: bool = False


# Order matters: the first family whose pattern matches names the condition. Patterns avoid
# words that also occur in bugs ("token" alone, "rate limiter", "timeout value").
FAMILIES = (
    Family(
        "auth_expired",
        "info",
        r"session (?:has |is )?expired|expired session|no (?:\w+ ){0,2}session token"
        r"|session (?:token|jwt) (?:is )?(?:required|missing|invalid|not found)"
        r"|(?:jwt|access token|auth token|refresh token|credentials?) (?:has |is |are )?expired"
        r"|(?:token|jwt|credentials) (?:is |are )?(?:missing|not found|revoked)"
        r"|sign(?:ed)?[ -]?in (?:first|again|required)|log(?:ged)?[ -]?in (?:first|again|required)"
        r"|complete login|please (?:sign|log)[ -]?in|not (?:signed|logged)[ -]?in"
        r"|login required|authentication required|not authenticated|unauthenticated"
        r"|re-?authenticat|session_expired|token_expired",
    ),
    Family(
        "rate_limited",
        "warning",
        r"rate[ _-]?limit(?:ed|s)?\b|too many requests|\b429\b|quota exceeded|throttl",
    ),
    Family(
        "timeout",
        "warning",
        r"timed out|time[ -]?out after|deadline exceeded|request timeout|timeout exceeded"
        r"|timeout of \d+|etimedout",
    ),
    Family(
        "transport",
        "warning",
        r"connection (?:refused|reset|closed|aborted)|econnrefused|econnreset|enotfound"
        r"|network (?:is )?unreachable|no route to host|dns error|failed to fetch"
        r"|network ?error|error sending request|tls handshake|socket hang up"
        r"|err_internet_disconnected|(?:device|client) is offline",
    ),
    Family(
        "transient_upstream",
        "warning",
        r"bad gateway|service unavailable|gateway timeout|\b50[234]\b",
    ),
    Family(
        "provider_auth",
        "error",
        r"\b401\b|unauthori[sz]ed|invalid api key|incorrect api key|\b403\b|forbidden",
        stays_error=True,
    ),
)

# The variable parts triage_template masks (queries/macros.sql): a window holding one is not a
# stable literal. 4xx/5xx status codes are kept: they are part of the condition.
_VARIABLE = re.compile(
    r"://|@|\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}|\b(?:0x[0-9a-fA-F]+|[0-9a-fA-F]{8,})\b|\b\d+(?:\.\d+)?\b"
)
_STATUS = re.compile(r"^\W*[45]\d\d\W*$")
_TOKEN = re.compile(r"\S+")
_WORD = re.compile(r"[a-z0-9_]+")
_STRIP = " \t.,;:()[]{}\"'`"
_SENTENCE_BREAK = re.compile(r"[.;!?]\s")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_IP = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b")


@dataclass(frozen=True)
class Signal:
    """One piece of evidence that a cluster is an expected condition (or noise)."""

    name: str  # wording | example | polling | single_user
    text: str
    kind: str | None = None
    level: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.name, "text": self.text, "kind": self.kind, "level": self.level}


@dataclass
class Cluster:
    """The events of one group and message template, as the current table leaves them."""

    group_key: str
    group: str  # Sentry's short id when known, else the key
    template: str
    group_title: str
    group_events: int
    events: int
    open_events: int
    kept_events: int
    handled_events: int
    users: int
    top_user_share: float
    burst_events: int
    bursting_users: int
    period_s: float | None
    kept_rules: list[str]
    exc_type: str | None
    fatal_events: int
    crash_events: int
    raw_events: int
    in_app_events: int
    field: str
    top_texts: list[tuple[str, int]]
    signals: list[Signal] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.group} ({_short(self.template, 70)})"


@dataclass
class Candidate:
    """A proposed rule, its TOML and its evidence."""

    id: str
    cluster: Cluster
    kind: str
    level: str
    condition: dict[str, Any]  # the TOML condition keys (field/contains, all, or regex)
    describe: str
    match_examples: list[str]
    no_match_examples: list[str]
    signals: list[Signal]
    events: int  # open events it moves
    events_per_day: float
    toml: str = ""
    # The broader condition passed over because it also matched other groups, if any.
    narrowed: dict[str, Any] | None = None
    moved_groups: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    lint: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        c = self.cluster
        return {
            "id": self.id,
            "group": c.group,
            "group_key": c.group_key,
            "title": c.template,
            "kind": self.kind,
            "level": self.level,
            "condition": self.condition,
            "events": self.events,
            "events_per_day": self.events_per_day,
            "users": c.users,
            "top_user_share": c.top_user_share,
            "burst": (
                {
                    "events": c.burst_events,
                    "users": c.bursting_users,
                    "period_s": _jsonable(c.period_s),
                }
                if c.burst_events
                else None
            ),
            "signals": [s.to_dict() for s in self.signals],
            "examples": {"match": self.match_examples, "no_match": self.no_match_examples},
            "narrowed": self.narrowed,
            "moved_groups": self.moved_groups,
            "warnings": self.warnings,
            "lint": [f.to_dict() for f in self.lint],
            "toml": self.toml,
        }


@dataclass(frozen=True)
class Decision:
    """Why one cluster was or was not proposed."""

    group_key: str
    group: str
    template: str
    open_events: int
    proposed: bool
    reason: str
    candidate: str | None = None
    signals: tuple[Signal, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "group_key": self.group_key,
            "title": self.template,
            "open_events": self.open_events,
            "proposed": self.proposed,
            "candidate": self.candidate,
            "reason": self.reason,
            "signals": [s.to_dict() for s in self.signals],
        }


@dataclass
class Suggestions:
    """The result of :func:`suggest`: ranked candidates, every decision, and the proof."""

    base: RuleTable
    head: RuleTable  # the base table with every candidate appended
    candidates: list[Candidate]
    decisions: list[Decision]
    diff: Diff | None
    days: float
    include_crashes: bool = False

    def __len__(self) -> int:
        return len(self.candidates)

    def candidate(self, cid: str) -> Candidate:
        for c in self.candidates:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def explain(self, group: str) -> list[Decision]:
        """The decisions about one group (its key, short id, or a unique key prefix)."""
        exact = [d for d in self.decisions if group in (d.group_key, d.group)]
        if exact:
            return exact
        keys = {d.group_key for d in self.decisions if d.group_key.startswith(group)}
        if len(keys) > 1:
            raise KeyError(f"group prefix {group!r} is ambiguous: {', '.join(sorted(keys))}")
        return [d for d in self.decisions if d.group_key in keys]

    def table_text(self, accept: list[str] | None = None) -> str:
        """The base table's TOML with the accepted candidates (all when ``accept`` is None)."""
        chosen = self._accepted(accept)
        return _with_rules(self.base, [c.toml for c in chosen])

    def _accepted(self, accept: list[str] | None) -> list[Candidate]:
        if accept is None:
            return list(self.candidates)
        unknown = [a for a in accept if a not in {c.id for c in self.candidates}]
        if unknown:
            known = ", ".join(c.id for c in self.candidates) or "none"
            raise KeyError(f"no candidate {', '.join(unknown)} (candidates: {known})")
        return [c for c in self.candidates if c.id in accept]

    def to_dict(self) -> dict[str, Any]:
        t = self.diff.totals if self.diff is not None else {}
        return {
            "schema": SCHEMA,
            "rules": {"name": self.base.name, "hash": self.base.hash},
            "days": self.days,
            "totals": {
                "candidates": len(self.candidates),
                "events": sum(c.events for c in self.candidates),
                "events_per_day": round(sum(c.events for c in self.candidates) / self.days, 2),
                "error_events_before": t.get("error_events_before"),
                "error_events_after": t.get("error_events_after"),
            },
            "candidates": [c.to_dict() for c in self.candidates],
            "not_proposed": [d.to_dict() for d in self.decisions if not d.proposed],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=str)

    def to_markdown(self) -> str:
        """Candidates for a pull request: evidence, then the TOML to paste."""
        total = sum(c.events for c in self.candidates)
        lines = [
            f"### Suggested rules for `{_md(self.base.name)}`",
            "",
            f"{len(self.candidates)} candidate(s) would move {total:,} events out of error "
            f"volume, {total / self.days:,.1f} per day over {self.days:.1f} days.",
            "",
        ]
        if self.candidates:
            lines += [
                "| # | rule | group | events | per day | users | kind · level | evidence |",
                "|---:|---|---|---:|---:|---:|---|---|",
            ]
        for i, c in enumerate(self.candidates, 1):
            lines.append(
                f"| {i} | `{_md(c.id)}` "
                f"| `{_md(c.cluster.group)}` {_md(_short(c.cluster.template, 60))}"
                f" | {c.events:,} | {c.events_per_day:,.1f} | {c.cluster.users:,} "
                f"| {_md(c.kind)} · {c.level} | {_md('; '.join(s.text for s in c.signals))} |"
            )
        for c in self.candidates:
            lines += ["", f"#### `{_md(c.id)}`", ""]
            if c.narrowed:
                n = c.narrowed
                lines.append(
                    f"- narrowed from {_md(n['from'])}, which also matches "
                    f"{n['other_events']:,} events in {n['other_groups']:,} other group(s)"
                )
            for w in c.warnings:
                lines.append(f"- **{w['check']}**: {_md(w['message'])}")
            for f in c.lint:
                lines.append(f"- lint {f.severity} {f.check}: {_md(f.message)}")
            # Event text may hold backticks: the fence is longer than any run of them.
            runs = [len(m) for m in re.findall(r"`+", c.toml)]
            fence = "`" * max(3, max(runs, default=0) + 1)
            lines += ["", f"{fence}toml", c.toml.rstrip(), fence]
        skipped = [d for d in self.decisions if not d.proposed and d.open_events]
        if skipped:
            lines += ["", f"<details><summary>Not proposed ({len(skipped)})</summary>", ""]
            for d in skipped[:30]:
                lines.append(
                    f"- `{_md(d.group)}` {_md(_short(d.template, 60))} "
                    f"({d.open_events:,} error events): {_md(d.reason)}"
                )
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Signals


def _words(text: str) -> set[str]:
    return set(_WORD.findall(casefold_lower(text)))


def _similarity(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def family_of(text: str) -> tuple[Family, tuple[int, int]] | None:
    """The first expected-condition family whose wording ``text`` holds, and where."""
    for fam in FAMILIES:
        m = re2.search("(?i)" + fam.pattern, text)
        if m:
            return fam, m.span()
    return None


def _level_for(base: RuleTable, kind: str, default: str) -> str:
    """The level the table already gives this kind (below error), else the family default."""
    levels = Counter(
        r.level for r in base.rules if r.kind == kind and LEVEL_RANK[r.level] < LEVEL_RANK["error"]
    )
    return levels.most_common(1)[0][0] if levels else default


def _signals(cl: Cluster, base: RuleTable) -> list[Signal]:
    out: list[Signal] = []
    texts = [t for t, _ in cl.top_texts] or [cl.template]
    for text in texts[:3]:
        found = family_of(text)
        if found:
            fam, (a, b) = found
            level = fam.level if fam.stays_error else _level_for(base, fam.kind, fam.level)
            out.append(
                Signal("wording", f"wording {text[a:b]!r} reads as {fam.kind}", fam.kind, level)
            )
            break
    best: tuple[float, Any, Example] | None = None
    for rule in base.rules:
        if LEVEL_RANK[rule.level] >= LEVEL_RANK["error"]:
            continue
        for ex in rule.match_examples:
            if set(ex.fields) != {"message"}:
                continue
            sim = _similarity(texts[0], ex.fields["message"])
            if sim >= EXAMPLE_SIMILARITY and (best is None or sim > best[0]):
                best = (sim, rule, ex)
    if best:
        sim, rule, ex = best
        out.append(
            Signal(
                "example",
                f"like example {ex.label!r} of rule {rule.id} ({sim:.0%} of words)",
                rule.kind,
                rule.level,
            )
        )
    if cl.open_events and cl.burst_events >= POLLING_SHARE * cl.open_events:
        users = "user" if cl.bursting_users == 1 else "users"
        out.append(
            Signal(
                "polling",
                f"polling: {cl.bursting_users} {users} {format_period(cl.period_s)}, "
                f"{cl.burst_events:,} of {cl.open_events:,} events in bursts",
            )
        )
    if cl.open_events >= DEFAULT_MIN_EVENTS and cl.top_user_share >= SINGLE_USER_SHARE:
        out.append(Signal("single_user", f"one user has {cl.top_user_share:.0%} of the events"))
    return out


def _crash_reason(cl: Cluster) -> str | None:
    if cl.fatal_events:
        return f"{cl.fatal_events:,} event(s) at level fatal: a crash"
    if not cl.crash_events:
        return None
    if cl.raw_events and not cl.in_app_events and cl.raw_events >= cl.events:
        return None  # raw payloads kept and no in-app frame: thrown by a library or the browser
    frames = (
        f"{cl.in_app_events:,} with in-app frames"
        if cl.raw_events
        else "in-app frames unknown (raw payloads not kept), so taken as in-app"
    )
    return f"exception type {cl.exc_type} is a crash ({frames})"


# ---------------------------------------------------------------------------------------------
# Conditions


def _variable(token: str) -> bool:
    return bool(_VARIABLE.search(token)) and not _STATUS.match(token)


@dataclass(frozen=True)
class _Option:
    """One condition to try for a cluster, in order of preference (lower ``rank`` first)."""

    op: str  # contains | regex
    value: str
    value2: str | None
    rank: tuple


def _windows(text: str, anchors: list[tuple[int, int]]) -> list[_Option]:
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    variable = [_variable(text[a:b]) for a, b in tokens]
    out: dict[str, _Option] = {}
    for i in range(len(tokens)):
        for j in range(i, min(len(tokens), i + MAX_WINDOW_WORDS)):
            if variable[j]:
                break
            raw = text[tokens[i][0] : tokens[j][1]]
            lit = raw.strip(_STRIP)
            if len(lit) < MIN_LITERAL_CHARS:
                continue
            start = tokens[i][0] + raw.index(lit)
            end = start + len(lit)
            if generic_reason(Leaf("message", "contains", lit)):
                continue
            held = sum(1 for a, b in anchors if start <= a and end >= b)
            words = j - i + 1
            breaks = len(_SENTENCE_BREAK.findall(lit))
            # Around the condition's wording first (all of it when it is said twice: "429 Too
            # Many Requests"); then at least three words (two are rarely one condition), fewest
            # words, no sentence break, and extended to the left (the subject: "composio
            # unavailable", "team_list_teams timed out") before the right.
            rank = (0 if held else 1, words < 3, -held, words, breaks, i, len(lit))
            key = casefold_lower(lit)
            if key not in out or rank < out[key].rank:
                out[key] = _Option("contains", lit, None, rank)
    return sorted(out.values(), key=lambda o: o.rank)


def _pairs(options: list[_Option], limit: int = 12) -> list[_Option]:
    """Two literals together, when no single one separates the cluster."""
    singles = [o for o in options if o.rank[3] <= 4][:limit]
    out = []
    for a in singles:
        for b in singles:
            if a.value < b.value and casefold_lower(a.value) not in casefold_lower(b.value):
                if casefold_lower(b.value) in casefold_lower(a.value):
                    continue
                out.append(
                    _Option(
                        "contains", a.value, b.value, (2, False, 0, a.rank[3] + b.rank[3], 0, 0, 0)
                    )
                )
    return out


def _regex_for(text: str) -> _Option:
    """The text as a regex: literal words, variable ones as \\S+ (the last resort)."""
    parts = []
    for m in _TOKEN.finditer(text):
        tok = m.group()
        parts.append(r"\S+" if _variable(tok) else re2.escape(tok))
    pattern = r"\s+".join(parts)
    return _Option("regex", pattern, None, (3, False, 0, len(parts), 0, 0, 0))


def family_spans(text: str) -> list[tuple[int, int]]:
    """Where the first family that names ``text`` says so (every match of its wording)."""
    found = family_of(text)
    if not found:
        return []
    return [m.span() for m in re2.finditer("(?i)" + found[0].pattern, text)]


def _condition_options(cl: Cluster) -> tuple[list[_Option], list[_Option], list[_Option]]:
    """Single literals first; then two literals together; then a regex, for what they miss."""
    text = cl.top_texts[0][0] if cl.top_texts else cl.template
    singles = _windows(text, family_spans(text))
    return singles, _pairs(singles), [_regex_for(text)]


_INNER = re.compile(r"[a-z0-9_]+")


def _insert_columns(
    con: duckdb.DuckDBPyConnection, name: str, rows: list[list[Any]], types: list[str]
) -> None:
    """Insert rows as one statement of column lists (executemany prepares a statement per row:
    seconds for a few thousand rows)."""
    if not rows:
        return
    cols = ", ".join(f"unnest(?::{t}[])" for t in types)
    con.execute(f"INSERT INTO {name} SELECT {cols}", [list(c) for c in zip(*rows, strict=True)])


def _inner_words(lowered: str) -> list[str]:
    """Words of a literal that do not touch its ends: any text holding it holds them whole."""
    return [m.group() for m in _INNER.finditer(lowered) if m.start() > 0 and m.end() < len(lowered)]


def _judge(
    con: duckdb.DuckDBPyConnection, work: list[tuple[int, Cluster, _Option]]
) -> dict[int, tuple[int, int, int, int]]:
    """Run every option over every stored event at once (queries/suggest_conditions.sql);
    regexes one query each (queries/suggest_regex.sql), so each compiles once."""
    out: dict[int, tuple[int, int, int, int]] = {}
    for k, cl, opt in work:
        if opt.op == "regex":
            out[k] = con.execute(
                sqlfiles.load("suggest_regex.sql"),
                {"field": cl.field, "pattern": opt.value, "group_key": cl.group_key,
                 "template": cl.template},
            ).fetchone()  # fmt: skip
    literal = [w for w in work if w[2].op != "regex"]
    if not literal:
        return out
    con.execute(
        "CREATE OR REPLACE TEMP TABLE sg_conds (cand INTEGER, group_key VARCHAR, template VARCHAR,"
        " field VARCHAR, op VARCHAR, value VARCHAR, value2 VARCHAR)"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE sg_cond_words (cand INTEGER, word VARCHAR)")
    rows, words = [], []
    for k, cl, opt in literal:
        v1 = casefold_lower(opt.value)
        v2 = casefold_lower(opt.value2) if opt.value2 else None
        for w in dict.fromkeys([*_inner_words(v1), *(_inner_words(v2) if v2 else [])]):
            words.append([k, w])
        rows.append([k, cl.group_key, cl.template, cl.field, opt.op, v1, v2])
    _insert_columns(con, "sg_conds", rows, ["INTEGER"] + ["VARCHAR"] * 6)
    _insert_columns(con, "sg_cond_words", words, ["INTEGER", "VARCHAR"])
    got = con.execute(sqlfiles.load("suggest_conditions.sql")).fetchall()
    con.execute("DROP TABLE IF EXISTS sg_conds")
    con.execute("DROP TABLE IF EXISTS sg_cond_words")
    out.update({r[0]: tuple(r[1:]) for r in got})
    return out


def _toml_condition(cl: Cluster, opt: _Option) -> dict[str, Any]:
    if opt.op == "regex":
        return {"field": cl.field, "regex": opt.value}
    if opt.value2 is None:
        return {"field": cl.field, "contains": opt.value}
    return {
        "all": [
            {"field": cl.field, "contains": opt.value},
            {"field": cl.field, "contains": opt.value2},
        ]
    }


def _describe(cond: dict[str, Any]) -> str:
    if "all" in cond:
        return " and ".join(_describe(c) for c in cond["all"])
    op = "regex" if "regex" in cond else "contains"
    return f"{cond['field']} {op} {cond[op]!r}"


# ---------------------------------------------------------------------------------------------
# TOML


def _s(text: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _inline(cond: dict[str, Any]) -> str:
    if "all" in cond:
        return "[" + ", ".join("{ " + _pairs_text(c) + " }" for c in cond["all"]) + "]"
    return _pairs_text(cond)


def _pairs_text(cond: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {_s(v)}" for k, v in cond.items())


def rule_toml(c: Candidate, description: str) -> str:
    lines = [
        "[[rules]]",
        f"id = {_s(c.id)}",
        f"kind = {_s(c.kind)}",
        f"level = {_s(c.level)}",
        f"description = {_s(description)}",
    ]
    if "all" in c.condition:
        lines.append(f"all = {_inline(c.condition)}")
    else:
        for k, v in c.condition.items():
            lines.append(f"{k} = {_s(v)}")
    fld = c.cluster.field

    def ex(text: str) -> str:
        return _s(text) if fld == "message" else f"{{ {_s(fld)} = {_s(text)} }}"

    lines.append("examples.match = [" + ", ".join(ex(x) for x in c.match_examples) + "]")
    lines.append("examples.no_match = [" + ", ".join(ex(x) for x in c.no_match_examples) + "]")
    return "\n".join(lines) + "\n"


_NAME_LINE = re.compile(r"^name\s*=.*$", re.MULTILINE)


def _with_rules(base: RuleTable, blocks: list[str]) -> str:
    text = base.content.rstrip("\n") + "\n"
    if not blocks:
        return text
    # A copy gets its own name, so a diff or report tells it from the table it came from.
    head = text.split("[[", 1)[0]
    name = f"name = {_s(base.name + '+suggest')}"
    if _NAME_LINE.search(head):
        text = _NAME_LINE.sub(name.replace("\\", "\\\\"), text, count=1)
    else:
        text = name + "\n" + text
    text += "\n# Added by `triage suggest` (candidates proven against the stored events).\n"
    return text + "\n" + "\n".join(blocks)


def _slug(text: str, n: int = 5) -> str:
    words = re.findall(r"[a-z0-9]+", casefold_lower(text))
    return "-".join(words[:n])[:40].strip("-") or "rule"


def _mask(text: str) -> str:
    """Emails and IP addresses out of an example: examples ship in every export of the table."""
    text = _IP.sub("<ip>", _EMAIL.sub("<email>", text))
    for found in personal_data(text):  # what `rules lint` calls personal data (IPv6 too)
        what, _, value = found.partition(" ")
        text = text.replace(value, "<email>" if what == "email" else "<ip>")
    return text


# ---------------------------------------------------------------------------------------------
# The whole job


def _clusters(
    con: duckdb.DuckDBPyConnection, table: RuleTable, burst_min_events: int
) -> list[Cluster]:
    install_macro(con)
    df = con.execute(
        sqlfiles.load("suggest_clusters.sql"),
        {
            "ruleset": table.hash,
            "crash_types": list(CRASH_TYPES),
            "burst_min_events": burst_min_events,
        },
    ).df()
    short = dict(
        con.execute(
            "SELECT id, any_value(short_id) FROM groups WHERE id IS NOT NULL AND short_id IS NOT "
            "NULL GROUP BY id"
        ).fetchall()
    )
    out = []
    for r in df.to_dict(orient="records"):
        period = r["period_s"]
        out.append(
            Cluster(
                group_key=r["group_key"],
                group=short.get(r["group_key"], r["group_key"]),
                template=r["template"] or "",
                group_title=r["group_title"] or "",
                group_events=int(r["group_events"]),
                events=int(r["events"]),
                open_events=int(r["open_events"]),
                kept_events=int(r["kept_events"]),
                handled_events=int(r["handled_events"]),
                users=int(r["users"]),
                top_user_share=float(r["top_user_share"]),
                burst_events=int(r["burst_events"]),
                bursting_users=int(r["bursting_users"]),
                period_s=None if period is None or period != period else float(period),
                kept_rules=list(r["kept_rules"]),
                exc_type=r["exc_type"] if isinstance(r["exc_type"], str) else None,
                fatal_events=int(r["fatal_events"]),
                crash_events=int(r["crash_events"]),
                raw_events=int(r["raw_events"]),
                in_app_events=int(r["in_app_events"]),
                field=r["field"],
                top_texts=[(t["text"], int(t["n"])) for t in r["top_texts"]],
            )
        )
    return out


def _days(con: duckdb.DuckDBPyConnection) -> float:
    span = con.execute("SELECT date_diff('second', min(ts), max(ts)) FROM events").fetchone()[0]
    return max((span or 0) / 86400.0, 1.0)


def suggest(
    con: duckdb.DuckDBPyConnection,
    table: RuleTable,
    *,
    include_crashes: bool = False,
    min_events: int = DEFAULT_MIN_EVENTS,
    threshold: float = DEFAULT_THRESHOLD,
    burst_min_events: int = 20,
) -> Suggestions:
    """Candidate rules for ``table`` from the stored events, each proven by diff and lint."""
    classify(con, table)
    clusters = _clusters(con, table, burst_min_events)
    days = _days(con)
    decisions: dict[tuple[str, str], Decision] = {}
    chosen: list[tuple[Cluster, Signal, list[Signal]]] = []
    for cl in clusters:
        key = (cl.group_key, cl.template)
        sig = _signals(cl, table) if cl.open_events else []
        cl.signals = sig

        def no(reason: str, cl: Cluster = cl, sig: list[Signal] = sig) -> Decision:
            return Decision(cl.group_key, cl.group, cl.template, cl.open_events, False, reason,
                            signals=tuple(sig))  # fmt: skip

        if not cl.open_events:
            if cl.kept_events:
                reason = f"kept at error on purpose by rule {', '.join(cl.kept_rules)}"
            elif cl.handled_events:
                reason = "the current table already moves it below error"
            else:
                reason = "reported below error already"
            decisions[key] = no(reason)
            continue
        crash = _crash_reason(cl)
        if crash and not include_crashes:
            decisions[key] = no(f"{crash}; crashes are not proposed (--include-crashes)")
            continue
        naming = [s for s in sig if s.kind]
        if not naming:
            noise = [s.text for s in sig]
            why = (
                f"{'; '.join(noise)}, but no expected-condition wording or known kind's example "
                "(a loop or one user can repeat a real bug)"
                if noise
                else "no sign of an expected condition"
            )
            decisions[key] = no(why)
            continue
        lead = naming[0]
        fam = next((f for f in FAMILIES if f.kind == lead.kind), None)
        if fam is not None and fam.stays_error and lead.name == "wording":
            decisions[key] = no(
                f"reads as {lead.kind} ({lead.text}): a third party refusing a key, which the user "
                "must act on, so it stays an error"
            )
            continue
        if cl.open_events < min_events:
            decisions[key] = no(
                f"{cl.open_events} error event(s), fewer than --min-events {min_events}"
            )
            continue
        chosen.append((cl, lead, sig))

    narrowed: dict[tuple[str, str], dict[str, Any]] = {}
    picked = _pick_conditions(con, table, [c for c, _, _ in chosen], narrowed)
    candidates: list[Candidate] = []
    used_ids = {r.id for r in table.rules}
    for cl, lead, sig in chosen:
        key = (cl.group_key, cl.template)
        got = picked.get(key)
        if got is None:
            decisions[key] = Decision(
                cl.group_key, cl.group, cl.template, cl.open_events, False,
                "no literal or regex covers its events without matching other groups",
                signals=tuple(sig),
            )  # fmt: skip
            continue
        opt, pos = got
        cid = f"{lead.kind.replace('_', '-')}-{_slug(opt.value)}"
        base_id, n = cid, 2
        while cid in used_ids:
            cid, n = f"{base_id}-{n}", n + 1
        used_ids.add(cid)
        cand = Candidate(
            id=cid,
            cluster=cl,
            kind=lead.kind or "",
            level=lead.level or "warning",
            condition=_toml_condition(cl, opt),
            describe="",
            match_examples=[],
            no_match_examples=[],
            signals=sig,
            events=pos,
            events_per_day=round(pos / days, 2),
            narrowed=narrowed.get(key),
        )
        cand.describe = _describe(cand.condition)
        candidates.append(cand)

    stay = [cl for cl in clusters if (cl.group_key, cl.template) in decisions and
            (cl.open_events or cl.kept_events)]  # fmt: skip
    scratch = duckdb.connect()
    try:
        _fill_examples(candidates, stay, scratch)
    finally:
        scratch.close()
    candidates, head, d, dropped = _prove(con, table, candidates, threshold)
    for cand, reason in dropped:
        cl = cand.cluster
        decisions[(cl.group_key, cl.template)] = Decision(
            cl.group_key, cl.group, cl.template, cl.open_events, False, reason, cand.id,
            tuple(cand.signals),
        )  # fmt: skip
    for cand in candidates:
        cl = cand.cluster
        decisions[(cl.group_key, cl.template)] = Decision(
            cl.group_key, cl.group, cl.template, cl.open_events, True,
            f"proposed as {cand.id}: {cand.kind} at {cand.level} ("
            + "; ".join(s.text for s in cand.signals) + ")",
            cand.id, tuple(cand.signals),
        )  # fmt: skip
    candidates.sort(key=lambda c: (-c.events_per_day, c.id))
    ordered = [decisions[(cl.group_key, cl.template)] for cl in clusters]
    return Suggestions(table, head, candidates, ordered, d, round(days, 3), include_crashes)


# Options are tried in order of preference, a few at a time: most clusters are settled by
# their first windows, and only the rest pay for more.
# (which list, from, to): singles in slices of preference, then pairs, then the regex.
STEPS = ((0, 0, 4), (0, 4, 16), (0, 16, None), (1, 0, None), (2, 0, None))


def _pick_conditions(
    con: duckdb.DuckDBPyConnection,
    table: RuleTable,
    clusters: list[Cluster],
    narrowed: dict[tuple[str, str], dict[str, Any]],
) -> dict[tuple[str, str], tuple[_Option, int]]:
    """Per cluster, the first option (in preference order) that covers every open event of the
    cluster and matches no event outside it. ``narrowed`` receives, per cluster, the preferred
    option that was passed over because it also matched other groups."""
    best: dict[tuple[str, str], tuple[_Option, int]] = {}
    broader: dict[tuple[str, str], tuple[_Option, int, int]] = {}
    if not clusters:
        return best
    options = {(cl.group_key, cl.template): _condition_options(cl) for cl in clusters}
    first, second = sqlfiles.load("suggest_inputs.sql").split(";", 1)[0:2]
    con.execute(first, {"ruleset": table.hash})
    con.execute(second)
    try:
        for which, lo, hi in STEPS:
            work: list[tuple[int, Cluster, _Option]] = []
            for cl in clusters:
                key = (cl.group_key, cl.template)
                if key in best:
                    continue
                for opt in options[key][which][lo:hi]:
                    work.append((len(work), cl, opt))
            if not work:
                continue
            judged = _judge(con, work)
            for k, cl, opt in work:
                pos, other, _other_open, groups = judged.get(k, (0, 0, 0, 0))
                key = (cl.group_key, cl.template)
                if pos < cl.open_events:
                    continue
                if other > 0:
                    # Covers the cluster but takes other groups too: what narrowing avoided.
                    if key not in broader or opt.rank < broader[key][0].rank:
                        broader[key] = (opt, other, groups)
                    continue
                if key not in best or opt.rank < best[key][0].rank:
                    best[key] = (opt, pos)
    finally:
        con.execute("DROP TABLE IF EXISTS sg_inputs")
        con.execute("DROP TABLE IF EXISTS sg_words")
    by_key = {(c.group_key, c.template): c for c in clusters}
    for key, (opt, other, groups) in broader.items():
        if key in best and opt.rank < best[key][0].rank:
            narrowed[key] = {
                "from": _describe(_toml_condition(by_key[key], opt)),
                "other_events": int(other),
                "other_groups": int(groups),
            }
    return best


def _fill_examples(
    candidates: list[Candidate], stay: list[Cluster], scratch: duckdb.DuckDBPyConnection
) -> None:
    """Real messages each rule must match; messages of the nearest groups that stay errors.

    Every text is loaded once and each rule's condition runs over all of them in one query,
    through the SQL the classifier compiles (triage.rule_examples).
    """
    plans = []
    wanted: dict[tuple[str, str], int] = {}
    staying = [(c, _words(c.top_texts[0][0])) for c in stay if c.top_texts]
    for cand in candidates:
        texts = list(dict.fromkeys(_mask(t) for t, _ in cand.cluster.top_texts))
        mine = _words(texts[0] if texts else cand.cluster.template)

        def nearness(item: tuple[Cluster, set[str]], mine: set[str] = mine) -> tuple:
            c, words = item
            union = len(mine | words)
            return (-(len(mine & words) / union if union else 0.0), -c.open_events, c.group_key)

        near = heapq.nsmallest(20, staying, key=nearness)
        pool = list(dict.fromkeys(_mask(c.top_texts[0][0]) for c, _ in near))
        for t in (*texts, *pool):
            wanted.setdefault((cand.cluster.field, t), len(wanted))
        plans.append((cand, texts, pool))
    examples = [Example({f: t}) for (f, t) in wanted]
    load_examples(scratch, examples)
    for cand, texts, pool in plans:
        rule = parse(_with_rules(RuleTable("x", ()), [_bare_toml(cand)]), name="x").rules[0]
        params: list[str] = []
        cond = compile_condition(rule.condition, example_column, params)
        hits = {i for (i,) in scratch.execute(f"SELECT i FROM ex WHERE {cond}", params).fetchall()}
        fld = cand.cluster.field
        cand.match_examples = [t for t in texts if wanted[(fld, t)] in hits][:EXAMPLES_MATCH]
        cand.no_match_examples = [t for t in pool if wanted[(fld, t)] not in hits][
            :EXAMPLES_NO_MATCH
        ]


def _bare_toml(cand: Candidate) -> str:
    return rule_toml(cand, "")


def _description(cand: Candidate) -> str:
    cl = cand.cluster
    users = "user" if cl.users == 1 else "users"
    return (
        f"Suggested from group {cl.group} ({cl.open_events:,} error events, {cl.users:,} {users}): "
        + "; ".join(s.text for s in cand.signals)
    )


def _prove(
    con: duckdb.DuckDBPyConnection,
    base: RuleTable,
    candidates: list[Candidate],
    threshold: float,
) -> tuple[list[Candidate], RuleTable, Diff | None, list[tuple[Candidate, str]]]:
    """Diff and lint the table with every candidate appended; drop those that fail, repeat."""
    dropped: list[tuple[Candidate, str]] = []
    for _ in range(3):
        for cand in candidates:
            cand.toml = rule_toml(cand, _description(cand))
        head = parse(
            _with_rules(base, [c.toml for c in candidates]),
            name=f"{base.name}+suggest",
            source=f"suggest:{base.source or base.name}",
        )
        if not candidates:
            return [], head, None, dropped
        d = compare(con, base, head, threshold=threshold)
        # The table checks (examples, shadowing, generic and unportable patterns). The data
        # checks (hits, breadth) are what the condition search already established on every
        # stored event: each candidate covers its cluster and matches nothing outside it.
        findings = lint(head)
        bad: list[tuple[Candidate, str]] = []
        by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
        cols = ["group", "section", "events", "leaving_events", "head_verdict", "head_rules"]
        for rec in d.groups.loc[d.groups["changed_events"] > 0, cols].to_dict(orient="records"):
            for rid in rec["head_rules"]:
                by_rule[rid].append(
                    {
                        "group": rec["group"],
                        "section": rec["section"],
                        "events": int(rec["events"]),
                        "leaving_events": int(rec["leaving_events"]),
                        "verdict": rec["head_verdict"],
                    }
                )
        findings_by = defaultdict(list)
        for f in findings:
            findings_by[f.rule].append(f)
        warnings_by = defaultdict(list)
        for w in d.warnings:
            for rid in w.rule.split(", "):
                warnings_by[rid].append(w.to_dict())
        for cand in candidates:
            cand.lint = findings_by[cand.id]
            cand.moved_groups = by_rule[cand.id]
            cand.warnings = warnings_by[cand.id]
            others = [g for g in cand.moved_groups if g["group"] != cand.cluster.group_key]
            errors = [f for f in cand.lint if f.severity in ("error", "warning")]
            if others:
                names = ", ".join(g["group"] for g in others)
                bad.append(
                    (cand, f"its rule also moves group(s) {names}, which it was not made for")
                )
            elif errors:
                bad.append((cand, f"rules lint: {errors[0].check}: {errors[0].message}"))
        if not bad:
            return candidates, head, d, dropped
        dropped += bad
        gone = {c.id for c, _ in bad}
        candidates = [c for c in candidates if c.id not in gone]
    return candidates, head, d, dropped


def apply(result: Suggestions, path: str | Path, accept: list[str] | None = None) -> RuleTable:
    """Write the table with the accepted candidates to ``path`` (a copy, never the table itself)."""
    out = Path(path)
    src = result.base.source
    if src and not src.startswith(("builtin:", "git:", "suggest:", "<")):
        if out.resolve() == Path(src).resolve():
            raise ValueError(f"{path} is the rule table itself; write the suggestions to a copy")
    from importlib import resources

    shipped = Path(str(resources.files("triage.rules.rulesets")))
    if out.resolve().parent == shipped.resolve():
        raise ValueError(f"{path} is a shipped rule table; write the suggestions to a copy")
    text = result.table_text(accept)
    table = parse(text, source=str(out))  # refuse to write what would not load
    out.write_text(text, encoding="utf-8")
    return table
