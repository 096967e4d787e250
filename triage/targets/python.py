"""The rule table compiled to one Python function: the live hook's classifier.

Same semantics as the SQL classifier (``triage.compile_sql``), which is the reference: a missing
field reads as ``""``; case-insensitive ``contains``/``equals``/``prefix``/``suffix`` compare
DuckDB-lowered text (``triage.casefold.lower``) with the DuckDB-lowered value; ``regex`` runs on
RE2 (the ``google-re2`` binding, the engine DuckDB embeds) with RE2's case folding.

Compiled once, to Python source: one ``if`` per rule, in order, with every value a ``repr``
literal from the (trusted) rule table; event text is only ever data. All regexes reading one field
go into one ``re2.Set``, scanned once per event, and only when a rule that needs it is reached.
This keeps a classification to a few microseconds, where a tree of closures costs ten times more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import re2

from triage.rules import All, Condition, Leaf, Not, Rule, RuleTable, fields_of, leaves
from triage.rules.casefold import lower


class _Gen:
    """Source for one function ``match(fields) -> int`` (index of the first matching rule, -1)."""

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.patterns: dict[str, list[str]] = {}
        self.scanned: set[str] = set()

    def var(self, f: str) -> int:
        if f not in self.fields:
            self.fields.append(f)
        return self.fields.index(f)

    def regex(self, leaf: Leaf) -> tuple[int, int]:
        pats = self.patterns.setdefault(leaf.field, [])
        pat = leaf.value if leaf.case_sensitive else "(?i)" + leaf.value
        if pat not in pats:
            pats.append(pat)
        return self.var(leaf.field), pats.index(pat)

    def cond(self, c: Condition) -> str:
        if isinstance(c, Leaf):
            if c.op == "regex":
                i, k = self.regex(c)
                return f"({k} in h{i})"
            i = self.var(c.field)
            subject = f"r{i}" if c.case_sensitive else f"l{i}"
            v = repr(c.value if c.case_sensitive else lower(c.value))
            return {
                "contains": f"({v} in {subject})",
                "prefix": f"{subject}.startswith({v})",
                "suffix": f"{subject}.endswith({v})",
                "equals": f"({subject} == {v})",
            }[c.op]
        if isinstance(c, Not):
            return f"(not {self.cond(c.item)})"
        joiner = " and " if isinstance(c, All) else " or "
        return "(" + joiner.join(self.cond(x) for x in c.items) + ")"

    def function(self, conditions: list[Condition]) -> Callable[[Mapping[str, str | None]], int]:
        tests = [self.cond(c) for c in conditions]
        regex_fields_per_rule = [
            [lf.field for lf in leaves(c) if lf.op == "regex"] for c in conditions
        ]
        body = ["def match(fields):", "    get = fields.get"]
        for i, f in enumerate(self.fields):
            body.append(f"    r{i} = get({f!r}) or ''")
            body.append(f"    l{i} = lower(r{i})")
        for n, (test, rfields) in enumerate(zip(tests, regex_fields_per_rule, strict=True)):
            for f in dict.fromkeys(rfields):
                if f not in self.scanned:  # first rule that needs this field's regexes
                    self.scanned.add(f)
                    i = self.fields.index(f)
                    body.append(f"    h{i} = frozenset(S{i}.Match(r{i}) or ())")
            body.append(f"    if {test}:")
            body.append(f"        return {n}")
        body.append("    return -1")
        namespace: dict[str, object] = {"lower": lower}
        for f, pats in self.patterns.items():
            s = re2.Set.SearchSet()
            for p in pats:
                s.Add(p)
            s.Compile()
            namespace[f"S{self.fields.index(f)}"] = s
        exec(compile("\n".join(body), "<triage rule table>", "exec"), namespace)  # noqa: S102
        return namespace["match"]  # type: ignore[return-value]


def compile_condition(cond: Condition) -> Callable[[Mapping[str, str]], bool]:
    """One condition alone, as a predicate over a dict of fields (missing reads as "")."""
    fn = _Gen().function([cond])
    return lambda fields: fn(fields) == 0


@dataclass(frozen=True)
class Matcher:
    """A compiled rule table: ``match_fields(fields)`` gives the first matching rule or None."""

    table: RuleTable
    fields: tuple[str, ...]
    index: Callable[[Mapping[str, str | None]], int]

    def match_fields(self, fields: Mapping[str, str | None]) -> Rule | None:
        """The first rule matching ``fields`` (rule field name -> text; missing reads as "")."""
        i = self.index(fields)
        return None if i < 0 else self.table.rules[i]


def compile_table(table: RuleTable) -> Matcher:
    """Compile every rule once (regexes included)."""
    fields: list[str] = []
    for rule in table.rules:
        fields += [f for f in fields_of(rule.condition) if f not in fields]
    fn = _Gen().function([r.condition for r in table.rules])
    return Matcher(table, tuple(fields), fn)
