"""The rule table as a self-contained TypeScript module (no dependencies, any JS runtime).

Exports ``classify(message, httpStatus?, tags?)`` (kind or null), ``matchFields(fields)`` (the
first matching rule for any rule fields), the rules, and ``EXAMPLES`` with ``checkExamples()``: the
table's own examples as a test table. The fixed code is ``runtime/classify.ts`` (a real module);
only the table is generated here. Regexes are written in the portable subset (``regex_subset``)
with only the ``u`` flag; case-insensitive text tests lower the text exactly as DuckDB does
(``lowerLikeDuckDB``), so the module agrees with the SQL classifier.
"""

from __future__ import annotations

import json

from triage.rules import Leaf, RuleTable
from triage.rules.casefold_data import LOWER_RUNS
from triage.targets.base import (
    Export,
    Generator,
    fill,
    lowered_fields,
    runtime,
    table_fields,
)


class TypeScript(Generator):
    """TypeScript: the base's operators and joiners are already JavaScript's."""

    TARGET = "typescript"
    REGEX_FLAVOR = "js"
    RUNTIME = "classify.ts"

    def literal(self, text: str) -> str:
        # JSON's escaping is valid JS; ensure_ascii also escapes U+2028/U+2029.
        return json.dumps(text, ensure_ascii=True)

    def comment(self, text: str, *, escaped: bool = False) -> str:
        # "*/" cannot end a line comment, but a block comment is never more than a step away.
        return super().comment(text, escaped=escaped).replace("*/", "*\\/")

    def raw(self, field: str) -> str:
        return f"raw[{self.literal(field)}]"

    def lower(self, field: str) -> str:
        return f"low[{self.literal(field)}]"

    def regex_test(self, leaf: Leaf, pattern: str) -> str:
        return f"RX[{self.pattern_ids[leaf]}].test({self.raw(leaf.field)})"

    def pattern_lines(self) -> list[str]:
        return [
            line
            for leaf, p in self.patterns.items()
            for line in (f"  {self.origin(leaf)}", f'  new RegExp({self.literal(p)}, "u"),')
        ]

    def generate(self) -> Export:
        t = self.table
        tests = self.compile_rules()
        lit = self.literal
        blocks = {
            "header": self.header(),
            "table": [
                f"export const TABLE = {{ name: {lit(t.name)}, hash: {lit(t.hash)} }} as const;"
            ],
            "rules": [
                f"  {{ rule: {lit(r.id)}, kind: {lit(r.kind)}, level: {lit(r.level)} }},"
                for r in t.rules
            ],
            "lower_runs": [f"  [{a}, {b}, {d}, {s}]," for a, b, d, s in LOWER_RUNS],
            "patterns": self.pattern_lines(),
            "rule_tests": [
                line
                for rule, test in zip(t.rules, tests, strict=True)
                for line in (f"  {self.comment(rule.id)}", f"  (raw, low) => {test},")
            ],
            "fields": [f"const FIELDS: readonly string[] = {self.array(table_fields(t.rules))};"],
            "lowered": [
                f"const LOWERED: readonly string[] = {self.array(lowered_fields(t.rules))};"
            ],
            "examples": [
                f"  {{ rule: {lit(rule.id)}, expect: {lit(expect)}, "
                f"fields: {json.dumps(ex.fields, ensure_ascii=True)} }},"
                for rule in t.rules
                for expect, exs in (
                    ("match", rule.match_examples),
                    ("no_match", rule.no_match_examples),
                )
                for ex in exs
            ],
        }
        return Export(self.TARGET, fill(runtime(self.RUNTIME), blocks))

    def array(self, items: list[str]) -> str:
        return "[" + ", ".join(self.literal(x) for x in items) + "]"


def export_typescript(table: RuleTable) -> Export:
    return TypeScript(table).generate()
