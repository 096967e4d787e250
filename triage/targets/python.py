"""The rule table compiled to one Python function: the live hook's classifier.

Same semantics as the SQL classifier (``triage.targets.sql``), which is the reference: a missing
field reads as ``""``; case-insensitive ``contains``/``equals``/``prefix``/``suffix`` compare
DuckDB-lowered text (``triage.rules.casefold.lower``) with the DuckDB-lowered value; ``regex``
runs on RE2 (the ``google-re2`` binding, the engine DuckDB embeds) with RE2's case folding.

Compiled once, to Python source: one ``if`` per rule, in order, with every value a ``repr``
literal from the rule table; event text is only ever data. All regexes reading one field go into
one ``re2.Set``, scanned once per event, and only when a rule that needs it is reached. This keeps
a classification to a few microseconds, where a tree of closures costs ten times more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import re2

from triage.rules import Condition, Leaf, Rule, RuleTable, leaves
from triage.rules.casefold import lower
from triage.targets.base import Generator, table_fields


class Python(Generator):
    """Python source over locals ``r{i}`` (raw field i), ``l{i}`` (lowered) and ``h{i}`` (the
    indexes of field i's regexes that match, from one ``re2.Set`` scan)."""

    TARGET = "python"
    OPERATORS = {
        "contains": "({value} in {subject})",
        "prefix": "{subject}.startswith({value})",
        "suffix": "{subject}.endswith({value})",
        "equals": "({subject} == {value})",
    }
    AND = " and "
    OR = " or "
    NOT = "(not {})"

    def __init__(self, table: RuleTable | None = None):
        super().__init__(table or RuleTable("", ()))
        self.fields: list[str] = []
        self.lowered: set[str] = set()
        self.field_patterns: dict[str, dict[str, int]] = {}

    def literal(self, text: str) -> str:
        return repr(text)

    def var(self, field: str) -> int:
        if field not in self.fields:
            self.fields.append(field)
        return self.fields.index(field)

    def raw(self, field: str) -> str:
        return f"r{self.var(field)}"

    def lower(self, field: str) -> str:
        self.lowered.add(field)
        return f"l{self.var(field)}"

    def regex_test(self, leaf: Leaf, pattern: str) -> str:
        pats = self.field_patterns.setdefault(leaf.field, {})
        k = pats.setdefault(pattern if leaf.case_sensitive else "(?i)" + pattern, len(pats))
        return f"({k} in h{self.var(leaf.field)})"

    def function(self, conditions: Sequence[Condition], *, first: bool = True) -> Callable:
        """``match(fields) -> int``: the index of the first condition that holds, -1 for none;
        with ``first=False``, ``matches(fields) -> list[int]``: every condition that holds."""
        tests = [self.condition(c) for c in conditions]
        regex_fields = [[lf.field for lf in leaves(c) if lf.op == "regex"] for c in conditions]
        body = ["def match(fields):", "    get = fields.get"]
        for i, f in enumerate(self.fields):
            body.append(f"    r{i} = get({f!r}) or ''")
            if f in self.lowered:
                body.append(f"    l{i} = lower(r{i})")
        if not first:
            body.append("    out = []")
        scanned: set[str] = set()
        for n, (test, rfields) in enumerate(zip(tests, regex_fields, strict=True)):
            for f in dict.fromkeys(rfields):
                if f not in scanned:  # first rule that needs this field's regexes
                    scanned.add(f)
                    i = self.fields.index(f)
                    body.append(f"    h{i} = frozenset(S{i}.Match(r{i}) or ())")
            body.append(f"    if {test}:")
            body.append(f"        return {n}" if first else f"        out.append({n})")
        body.append("    return -1" if first else "    return out")
        namespace: dict[str, object] = {"lower": lower}
        for f, pats in self.field_patterns.items():
            s = re2.Set.SearchSet()
            for p in pats:
                s.Add(p)
            s.Compile()
            namespace[f"S{self.fields.index(f)}"] = s
        exec(compile("\n".join(body), "<triage rule table>", "exec"), namespace)  # noqa: S102
        return namespace["match"]  # type: ignore[return-value]


def compile_condition(cond: Condition) -> Callable[[Mapping[str, str]], bool]:
    """One condition alone, as a predicate over a dict of fields (missing reads as "")."""
    fn = Python().function([cond])
    return lambda fields: fn(fields) == 0


def compile_all(conditions: Sequence[Condition]) -> Callable[[Mapping[str, str]], list[int]]:
    """Every condition at once: ``fn(fields)`` lists the indexes of those that hold."""
    return Python().function(conditions, first=False)


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
    fn = Python(table).function([r.condition for r in table.rules])
    return Matcher(table, tuple(table_fields(table.rules)), fn)
