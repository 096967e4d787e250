"""The rule table as Sentry's server-side fingerprint rules (Project Settings > Issue Grouping).

Each rule becomes one line per alternative, ``matcher:"glob" ... -> triage-KIND``: ``any`` and
regex alternations split into lines, ``all`` joins matchers on one line, ``not`` becomes Sentry's
``!`` negation. Globs follow Sentry's matchers (relay's globset): ``message``, ``error.value`` and
``level`` ignore case, ``error.type``, ``logger`` and ``tags.NAME`` do not, so a case-insensitive
test on those is spelled ``[aA]``. A rule a glob cannot express (a regex with classes or
repetition, a case-sensitive test on a case-blind matcher, a field Sentry cannot match on) is
listed in the header with the reason, never silently left out. Fingerprints group; they do not
change an event's level: that is what the live hook (``triage.sentry``) is for.

Untrusted text: globs are quoted with Sentry's escapes (``\\\\ \\" \\n \\r \\t``); a kind that
is not a plain word is quoted the same way after ``->``; every comment line (ids, kinds, reasons,
the table's name and path) is escaped so nothing in it can end the line and start a rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from triage.rules import Condition, Leaf, Rule, RuleTable, leaves
from triage.rules.casefold import fold_class
from triage.rules.regex_subset import Alt, Assert, Cat, Lit, Node, Unsupported, parse
from triage.targets.base import Export, Generator
from triage.targets.python import compile_all

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
# A fingerprint value Sentry reads unquoted (its grammar: no space, '{' or ','); else quoted.
PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")

# A glob leaf: (matcher, glob text without quoting, negated); a rule is a list of conjunctions.
GlobLeaf = tuple[str, str, bool]
DNF = list[list[GlobLeaf]]


def _printable(text: str) -> str:
    """``text`` with every non-printable character (line breaks, controls) as a Python escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


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


class SentryFingerprint(Generator):
    """Disjunctive normal form of globs: negation pushed to the leaves, ``all`` a product of
    lines, ``any`` their union. A refused rule is left out with a note, not an error."""

    TARGET = TARGET
    PUSH_NOT = True
    COMMENT = "# {}"

    def __init__(self, table: RuleTable):
        super().__init__(table)
        self.body: list[str] = []
        self.notes: list[str] = []
        self.exported: list[Rule] = []

    # --- escaping -----------------------------------------------------------------------------

    def literal(self, text: str) -> str:
        """A quoted argument as Sentry's parser unescapes it (Python's ``unicode-escape``)."""
        return '"' + _printable(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'

    def comment(self, text: str, *, escaped: bool = False) -> str:
        # A comment runs to the end of the line: escape every line break and control character
        # (Sentry splits on \r and \n; editors also on U+2028, U+2029, U+0085, \v, \f).
        return self.COMMENT.format(text if escaped else _printable(text))

    def fingerprint(self, kind: str) -> str:
        value = f"triage-{kind}"
        return value if PLAIN_VALUE.match(value) else self.literal(value)

    # --- the walk -----------------------------------------------------------------------------

    def placeholder(self) -> DNF:
        return []

    def leaf(self, leaf: Leaf, negate: bool = False) -> DNF:
        alts = self.leaf_globs(leaf)
        if not negate:
            return [[(m, g, False)] for m, g in alts]
        return [[(m, g, True) for m, g in alts]]  # not (a or b) = not a and not b

    def conjunction(self, parts: list[DNF]) -> DNF:
        out: DNF = [[]]
        for p in parts:
            out = [a + b for a in out for b in p]
            if len(out) > MAX_LINES_PER_RULE:
                self.refuse(f"expands to more than {MAX_LINES_PER_RULE} lines")
        return out

    def disjunction(self, parts: list[DNF]) -> DNF:
        return [c for p in parts for c in p]

    def leaf_globs(self, leaf: Leaf) -> list[tuple[str, str]]:
        """The (matcher, glob) alternatives of one leaf (OR-ed)."""
        if leaf.field.startswith("tags."):
            name = leaf.field[5:]
            matcher, case_blind = f"tags.{name}", False
            if not KEY_RE.match(name):
                matcher = f'"tags.{name}"'
                if '"' in name or not re.match(r"^[a-zA-Z0-9_.:-]+$", name):
                    self.refuse(f"tag name {name!r} cannot be written as a Sentry matcher")
        elif leaf.field in MATCHERS:
            matcher, case_blind = MATCHERS[leaf.field]
        else:
            self.refuse(f"Sentry's fingerprint rules have no matcher for {leaf.field!r}")
        if leaf.case_sensitive and case_blind and _cased(leaf.value):
            self.refuse(
                f"{leaf.op} {leaf.value!r} is case-sensitive but Sentry's {matcher}: ignores case"
            )
        fold = not leaf.case_sensitive and not case_blind
        if leaf.op == "regex":
            alts = self.regex_alternatives(leaf.value)
        else:
            alts = [(leaf.value, leaf.op in ("prefix", "equals"), leaf.op in ("suffix", "equals"))]
        out = []
        for text, start, end in alts:
            glob = ("" if start else "*") + _glob_text(text, fold) + ("" if end else "*")
            out.append((matcher, glob))
        return out

    def regex_alternatives(self, pattern: str) -> list[tuple[str, bool, bool]]:
        """A regex that is an alternation of plain strings (optionally anchored) as
        ``(text, anchored_start, anchored_end)``; anything else is refused."""
        try:
            node = parse(pattern)
        except Unsupported as exc:
            self.refuse(f"regex {pattern!r}: {exc}")
        branches: tuple[Node, ...] = node.items if isinstance(node, Alt) else (node,)
        out = []
        for b in branches:
            items = list(b.items) if isinstance(b, Cat) else [b]
            start = bool(items) and items[0] == Assert("^")
            end = bool(items) and items[-1] == Assert("$")
            core = items[int(start) : len(items) - int(end)]
            if not core or not all(isinstance(n, Lit) for n in core):
                self.refuse(
                    f"regex {pattern!r} is not a plain alternation of strings (a glob has no "
                    "classes, repetition or word boundaries)"
                )
            out.append(("".join(chr(n.cp) for n in core if isinstance(n, Lit)), start, end))
        return out

    # --- refusals: the rule is left out, and the file says so ---------------------------------

    def refused(self, rule: Rule, reasons: list[str]) -> None:
        reason = reasons[0]
        self.notes.append(f"rule {rule.id} ({rule.kind}) not exported: {reason}")
        self.body.append(self.comment(f"{rule.id}: NOT EXPORTED ({reason})"))

    # --- the file -----------------------------------------------------------------------------

    def generate(self) -> Export:
        caveats: list[str] = []
        for rule in self.table.rules:
            conjunctions = self.rule_condition(rule)
            if conjunctions is None:
                continue
            self.exported.append(rule)
            self.body.append(self.comment(f"{rule.id} -> {rule.kind} (level {rule.level})"))
            fp = self.fingerprint(rule.kind)
            for conj in conjunctions:
                matchers = " ".join(
                    f"{'!' if neg else ''}{m}:{self.literal(g)}" for m, g, neg in conj
                )
                self.body.append(f"{matchers} -> {fp}")
            for c in dict.fromkeys(_caveats(rule.condition)):
                if c not in caveats:
                    caveats.append(c)
        notes = self.notes + self.taken_by_later()
        head = self.header() + [
            "# Paste into Project Settings > Issue Grouping > Fingerprint Rules.",
            "# First matching line wins, as in the table. Fingerprints group events by kind;",
            "# they do not change levels (use the live hook, triage.sentry, for that).",
        ]
        head += [f"# note: {c}" for c in caveats]
        if notes:
            head.append("# Not exported, and what that changes:")
            head.extend(self.comment(f"  {n}") for n in notes)
        else:
            head.append("# every rule is expressed.")
        return Export(self.TARGET, "\n".join([*head, "", *self.body, ""]), notes)

    def taken_by_later(self) -> list[str]:
        """For each rule left out, the exported rules after it that take its own examples in
        Sentry (the table gives those events to the left-out rule; Sentry's first match would
        differ). The exported rules are compiled once, into one function that lists every rule
        an example matches, so a large table costs one pass per example (not one compile per
        pair of rules)."""
        exported = self.exported
        if len(exported) == len(self.table.rules):
            return []
        position = {r.id: i for i, r in enumerate(self.table.rules)}
        matches = compile_all([r.condition for r in exported])
        exported_ids = {r.id for r in exported}
        out = []
        for rule in self.table.rules:
            if rule.id in exported_ids or not rule.match_examples:
                continue
            taken: dict[int, list[str]] = {}
            for ex in rule.match_examples:
                for j in matches(ex.fields):
                    if position[exported[j].id] > position[rule.id]:
                        taken.setdefault(j, []).append(ex.label)
            for j in sorted(taken):
                later, labels = exported[j], taken[j]
                out.append(
                    f"rule {later.id} ({later.kind}) takes {len(labels)} example(s) of "
                    f"{rule.id} ({rule.kind}) in Sentry, e.g. {labels[0]!r}"
                )
        return out


def _caveats(cond: Condition) -> Iterator[str]:
    for leaf in leaves(cond):
        if leaf.field in CAVEATS:
            yield CAVEATS[leaf.field]


def export_sentry_fingerprint(table: RuleTable) -> Export:
    return SentryFingerprint(table).generate()
