"""The rule table as a self-contained Rust module (one dependency: the ``regex`` crate).

``classify(message, http_status, tags)`` gives the kind or None, ``match_fields(fields)`` the first
matching rule for any rule fields, and ``#[cfg(test)]`` tests are generated from the table's
examples. The fixed code is ``runtime/classify.rs`` (a real module); only the table is generated
here. Patterns run on ``regex::bytes::Regex`` in the portable subset (``regex_subset``): Unicode
on, no flags, ASCII ``\\b`` as RE2's; case-insensitive text tests lower the text exactly as DuckDB
does (``lower_like_duckdb``), so the module agrees with the SQL classifier.
"""

from __future__ import annotations

import re

from triage.rules import Leaf, RuleTable
from triage.rules.casefold_data import LOWER_RUNS
from triage.targets.base import Export, Generator, fill, lowered_fields, runtime, table_fields


def _ident(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "rule"


class Rust(Generator):
    """Rust: its own string methods, fields read by index from ``Values``."""

    TARGET = "rust"
    REGEX_FLAVOR = "rust"
    RUNTIME = "classify.rs"
    OPERATORS = {
        "contains": "{subject}.contains({value})",
        "prefix": "{subject}.starts_with({value})",
        "suffix": "{subject}.ends_with({value})",
        "equals": "{subject} == {value}",
    }

    def __init__(self, table: RuleTable):
        super().__init__(table)
        self.fields = table_fields(table.rules)
        self.lowered = lowered_fields(table.rules)
        self.fi = {f: i for i, f in enumerate(self.fields)}
        self.li = {f: i for i, f in enumerate(self.lowered)}

    def literal(self, text: str) -> str:
        """A Rust string literal; everything outside printable ASCII is a \\u{..} escape."""
        out = ['"']
        for ch in text:
            if ch == "\\":
                out.append("\\\\")
            elif ch == '"':
                out.append('\\"')
            elif " " <= ch <= "~":
                out.append(ch)
            else:
                out.append(f"\\u{{{ord(ch):x}}}")
        out.append('"')
        return "".join(out)

    def comment(self, text: str, *, escaped: bool = False) -> str:
        # Rust block comments nest: neither "/*" nor "*/" may reach the file unescaped.
        body = super().comment(text, escaped=escaped)
        return body[:3] + body[3:].replace("*/", "*\\/").replace("/*", "/\\*")

    def raw(self, field: str) -> str:
        return f"v.raw[{self.fi[field]}]"

    def lower(self, field: str) -> str:
        return f"v.low[{self.li[field]}]"

    def regex_test(self, leaf: Leaf, pattern: str) -> str:
        return f"rx({self.pattern_ids[leaf]}).is_match({self.raw(leaf.field)}.as_bytes())"

    def generate(self) -> Export:
        t = self.table
        tests = self.compile_rules()
        lit = self.literal
        n = len(t.rules)
        runs = [f"    ({a}, {b}, {d}, {s})," for a, b, d, s in LOWER_RUNS]
        rule_fns = []
        for i, (rule, test) in enumerate(zip(t.rules, tests, strict=True)):
            rule_fns += [self.comment(rule.id), f"fn rule_{i}(v: &Values) -> bool {{"]
            rule_fns += [f"    {test}", "}", ""]
        blocks = {
            "header": self.header(),
            "table_name": [f"pub const TABLE_NAME: &str = {lit(t.name)};"],
            "table_hash": [f"pub const TABLE_HASH: &str = {lit(t.hash)};"],
            "rules": [
                f"pub static RULES: [RuleMatch; {n}] = [",
                *(
                    f"    RuleMatch {{ rule: {lit(r.id)}, kind: {lit(r.kind)}, "
                    f"level: {lit(r.level)} }},"
                    for r in t.rules
                ),
                "];",
            ],
            "lower_runs": [
                f"const LOWER_RUNS: [(u32, u32, i32, u32); {len(runs)}] = [",
                *runs,
                "];",
            ],
            "patterns": [
                f"const PATTERNS: [&str; {len(self.patterns)}] = [",
                *(
                    line
                    for leaf, p in self.patterns.items()
                    for line in (f"    {self.origin(leaf)}", f"    {lit(p)},")
                ),
                "];",
            ],
            "fields": [
                f"const FIELDS: [&str; {len(self.fields)}] = "
                f"[{', '.join(lit(f) for f in self.fields)}];"
            ],
            "lowered": [
                f"const LOWERED: [usize; {len(self.lowered)}] = "
                f"[{', '.join(str(self.fi[f]) for f in self.lowered)}];"
            ],
            "rule_tests": rule_fns,
            "rule_list": [
                f"const RULE_TESTS: [fn(&Values) -> bool; {n}] = "
                f"[{', '.join(f'rule_{i}' for i in range(n))}];"
            ],
            "tests": self.example_tests(),
        }
        return Export(self.TARGET, fill(runtime(self.RUNTIME), blocks))

    def example_tests(self) -> list[str]:
        """One ``#[test]`` per rule with examples (the rule alone, as ``rules test`` checks)."""
        out: list[str] = []
        for i, rule in enumerate(self.table.rules):
            if not rule.match_examples and not rule.no_match_examples:
                continue
            out += ["", "    #[test]", f"    fn examples_{i}_{_ident(rule.id)}() {{"]
            for expect, exs in ((True, rule.match_examples), (False, rule.no_match_examples)):
                for ex in exs:
                    pairs = ", ".join(
                        f"({self.literal(k)}, {self.literal(v)})" for k, v in ex.fields.items()
                    )
                    out.append(f"        check({i}, {'true' if expect else 'false'}, &[{pairs}]);")
            out.append("    }")
        return out


def export_rust(table: RuleTable) -> Export:
    return Rust(table).generate()
