"""The rule table as Sentry's server-side fingerprint rules (Project Settings > Issue Grouping).

Each rule becomes one line per alternative, ``matcher:"glob" ... -> triage-KIND``: ``any`` and
regex alternations split into lines, ``all`` joins matchers on one line, ``not`` becomes Sentry's
``!`` negation. Globs follow Sentry's matchers (relay's globset): ``message``, ``error.value`` and
``level`` ignore case, ``error.type``, ``logger`` and ``tags.NAME`` do not, so a case-insensitive
test on those is spelled ``[aA]``. A rule a glob cannot express (a regex with classes or
repetition, a case-sensitive test on a case-blind matcher, a field Sentry cannot match on) is
listed in the header with the reason, never silently left out. Fingerprints group; they do not
change an event's level: that is what the live hook (``triage.sentry``) is for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from triage.rules import All, Any_, Condition, Leaf, Not, Rule, RuleTable
from triage.rules.casefold import fold_class
from triage.rules.regex_subset import Alt, Assert, Cat, Lit, Node, Unsupported, parse
from triage.targets.common import Export, header_lines
from triage.targets.python import compile_condition

TARGET = "sentry-fingerprint"
MAX_LINES_PER_RULE = 32

# rule field -> (Sentry matcher, does Sentry ignore case on it)
MATCHERS = {
    "message": ("message", True),
    "exception.value": ("error.value", True),
    "exception.type": ("error.type", False),
    "logger": ("logger", False),
    "level": ("level", True),
    "release": ("release", True),
}
CAVEATS = {
    "message": "Sentry's message: also tests every exception value, not only the raised one",
    "exception.value": "Sentry's error.value: tests every exception in the chain",
    "exception.type": "Sentry's error.type: tests every exception in the chain",
    "release": "Sentry's release: is a path glob (\\ reads as /)",
}
GLOB_META = set("*?[]{}")
KEY_RE = re.compile(r"^[a-zA-Z0-9_.-]+$")


class _Inexpressible(ValueError):
    pass


# A glob leaf: (field, glob text without quoting, negated).
GlobLeaf = tuple[str, str, bool]


def _glob_char(ch: str, fold: bool) -> str:
    if fold:
        members = fold_class(ord(ch))
        if len(members) > 1:
            return "[" + "".join(chr(c) for c in members) + "]"
    if ch == "\\":
        return "\\\\"
    return f"[{ch}]" if ch in GLOB_META else ch


def _glob_text(text: str, fold: bool) -> str:
    return "".join(_glob_char(ch, fold) for ch in text)


def _cased(text: str) -> bool:
    return any(len(fold_class(ord(ch))) > 1 for ch in text)


def _regex_alternatives(pattern: str) -> list[tuple[str, bool, bool]]:
    """A regex that is an alternation of plain strings (optionally anchored) as
    ``(text, anchored_start, anchored_end)``; anything else is inexpressible."""
    try:
        node = parse(pattern)
    except Unsupported as exc:
        raise _Inexpressible(f"regex {pattern!r}: {exc}") from None
    branches: tuple[Node, ...] = node.items if isinstance(node, Alt) else (node,)
    out = []
    for b in branches:
        items = list(b.items) if isinstance(b, Cat) else [b]
        start = bool(items) and items[0] == Assert("^")
        end = bool(items) and items[-1] == Assert("$")
        core = items[int(start) : len(items) - int(end)]
        if not core or not all(isinstance(n, Lit) for n in core):
            raise _Inexpressible(
                f"regex {pattern!r} is not a plain alternation of strings (a glob has no classes, "
                "repetition or word boundaries)"
            )
        out.append(("".join(chr(n.cp) for n in core if isinstance(n, Lit)), start, end))
    return out


def _leaf_globs(leaf: Leaf) -> list[tuple[str, str]]:
    """The (matcher, glob) alternatives of one leaf (OR-ed)."""
    if leaf.field.startswith("tags."):
        name = leaf.field[5:]
        matcher, case_blind = f"tags.{name}", False
        if not KEY_RE.match(name):
            matcher = f'"tags.{name}"'
            if '"' in name or not re.match(r"^[a-zA-Z0-9_.:-]+$", name):
                raise _Inexpressible(f"tag name {name!r} cannot be written as a Sentry matcher")
    elif leaf.field in MATCHERS:
        matcher, case_blind = MATCHERS[leaf.field]
    else:
        raise _Inexpressible(f"Sentry's fingerprint rules have no matcher for {leaf.field!r}")
    if leaf.case_sensitive and case_blind and _cased(leaf.value):
        raise _Inexpressible(
            f"{leaf.op} {leaf.value!r} is case-sensitive but Sentry's {matcher}: ignores case"
        )
    fold = not leaf.case_sensitive and not case_blind
    if leaf.op == "regex":
        alts = _regex_alternatives(leaf.value)
    else:
        alts = [
            (
                leaf.value,
                leaf.op in ("prefix", "equals"),
                leaf.op in ("suffix", "equals"),
            )
        ]
    out = []
    for text, start, end in alts:
        glob = ("" if start else "*") + _glob_text(text, fold) + ("" if end else "*")
        out.append((matcher, glob))
    return out


def _dnf(cond: Condition, negate: bool = False) -> list[list[GlobLeaf]]:
    """Disjunctive normal form: a list of conjunctions of (matcher, glob, negated)."""
    if isinstance(cond, Not):
        return _dnf(cond.item, not negate)
    if isinstance(cond, Leaf):
        alts = _leaf_globs(cond)
        if not negate:
            return [[(m, g, False)] for m, g in alts]
        return [[(m, g, True) for m, g in alts]]  # not (a or b) = not a and not b
    conj = isinstance(cond, All) != negate  # De Morgan
    parts = [_dnf(c, negate) for c in cond.items]
    if not conj:
        return [c for p in parts for c in p]
    out: list[list[GlobLeaf]] = [[]]
    for p in parts:
        out = [a + b for a in out for b in p]
        if len(out) > MAX_LINES_PER_RULE:
            raise _Inexpressible(f"expands to more than {MAX_LINES_PER_RULE} lines")
    return out


def _quote(glob: str) -> str:
    esc = glob.replace("\\", "\\\\").replace('"', '\\"')
    esc = esc.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{esc}"'


def _caveats(cond: Condition) -> Iterator[str]:
    if isinstance(cond, Leaf):
        if cond.field in CAVEATS:
            yield CAVEATS[cond.field]
    elif isinstance(cond, Not):
        yield from _caveats(cond.item)
    elif isinstance(cond, All | Any_):
        for c in cond.items:
            yield from _caveats(c)


def _rule_lines(rule: Rule) -> list[str]:
    conjunctions = _dnf(rule.condition)
    fp = f"triage-{rule.kind}"
    lines = []
    for conj in conjunctions:
        matchers = " ".join(f"{'!' if neg else ''}{m}:{_quote(g)}" for m, g, neg in conj)
        lines.append(f"{matchers} -> {fp}")
    return lines


def _taken_by_later(table: RuleTable, exported: list[Rule]) -> list[str]:
    """For each rule left out, the exported rules after it that take its own examples in Sentry
    (the table gives those events to the left-out rule; Sentry's first match would differ)."""
    out = []
    for i, rule in enumerate(table.rules):
        if rule in exported:
            continue
        for later in table.rules[i + 1 :]:
            if later not in exported:
                continue
            pred = compile_condition(later.condition)
            taken = [ex.label for ex in rule.match_examples if pred(ex.fields)]
            if taken:
                out.append(
                    f"rule {later.id} ({later.kind}) takes {len(taken)} example(s) of "
                    f"{rule.id} ({rule.kind}) in Sentry, e.g. {taken[0]!r}"
                )
    return out


def export_sentry_fingerprint(table: RuleTable) -> Export:
    body: list[str] = []
    notes: list[str] = []
    caveats: list[str] = []
    exported: list[Rule] = []
    for rule in table.rules:
        try:
            lines = _rule_lines(rule)
        except _Inexpressible as exc:
            notes.append(f"rule {rule.id} ({rule.kind}) not exported: {exc}")
            body.append(f"# {rule.id}: NOT EXPORTED ({exc})")
            continue
        exported.append(rule)
        body.append(f"# {rule.id} -> {rule.kind} (level {rule.level})")
        body.extend(lines)
        for c in dict.fromkeys(_caveats(rule.condition)):
            if c not in caveats:
                caveats.append(c)
    notes += _taken_by_later(table, exported)
    head = [f"# {line}" for line in header_lines(table, TARGET)]
    head.append("# Paste into Project Settings > Issue Grouping > Fingerprint Rules.")
    head.append("# First matching line wins, as in the table. Fingerprints group events by kind;")
    head.append("# they do not change levels (use the live hook, triage.sentry, for that).")
    for c in caveats:
        head.append(f"# note: {c}")
    if notes:
        head.append("# Not exported, and what that changes:")
        head.extend(f"#   {n}" for n in notes)
    else:
        head.append("# every rule is expressed.")
    return Export(TARGET, "\n".join([*head, "", *body, ""]), notes)
