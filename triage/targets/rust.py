"""The rule table as a self-contained Rust module (one dependency: the ``regex`` crate).

``classify(message, http_status, tags)`` gives the kind or None, ``match_fields(fields)`` the first
matching rule for any rule fields, and ``#[cfg(test)]`` tests are generated from the table's
examples. Patterns run on ``regex::bytes::Regex`` in the portable subset (``regex_subset``):
Unicode on, no flags, ASCII ``\\b`` as RE2's; case-insensitive text tests lower the text exactly as
DuckDB does (``lower_like_duckdb``), so the module agrees with the SQL classifier.
"""

from __future__ import annotations

import re

from triage.rules import All, Condition, Leaf, Not, RuleTable, fields_of
from triage.targets.common import (
    LOWER_RUNS,
    Export,
    header_lines,
    leaf_value,
    lowered_fields,
    origin,
    portable_regexes,
)

TARGET = "rust"
STATUS_TAG = "http.status_code"


def _s(text: str) -> str:
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


def _cond(cond: Condition, rx: dict[Leaf, int], fi: dict[str, int], li: dict[str, int]) -> str:
    if isinstance(cond, Leaf):
        if cond.op == "regex":
            return f"rx({rx[cond]}).is_match(v.raw[{fi[cond.field]}].as_bytes())"
        subject = f"v.raw[{fi[cond.field]}]" if cond.case_sensitive else f"v.low[{li[cond.field]}]"
        val = _s(leaf_value(cond))
        return {
            "contains": f"{subject}.contains({val})",
            "prefix": f"{subject}.starts_with({val})",
            "suffix": f"{subject}.ends_with({val})",
            "equals": f"{subject} == {val}",
        }[cond.op]
    if isinstance(cond, Not):
        return f"!({_cond(cond.item, rx, fi, li)})"
    joiner = " && " if isinstance(cond, All) else " || "
    return "(" + joiner.join(_cond(c, rx, fi, li) for c in cond.items) + ")"


def _ident(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "rule"


def export_rust(table: RuleTable) -> Export:
    patterns = portable_regexes(table, "rust", TARGET)
    rx_index = {leaf: i for i, leaf in enumerate(patterns)}
    fields: list[str] = []
    lowered: list[str] = []
    for rule in table.rules:
        fields += [f for f in fields_of(rule.condition) if f not in fields]
        lowered += [f for f in lowered_fields(rule.condition) if f not in lowered]
    fi = {f: i for i, f in enumerate(fields)}
    li = {f: i for i, f in enumerate(lowered)}
    n = len(table.rules)
    out = [f"// {line}" for line in header_lines(table, TARGET)]
    out += [
        "// Same semantics as sentry-triage's SQL classifier: first matching rule wins, a missing",
        '// field reads as "", case-insensitive text tests compare text lowered as DuckDB lowers it.',
        "#![allow(dead_code, unused_parens, clippy::all)]",
        "",
        "use regex::bytes::Regex;",
        "use std::sync::OnceLock;",
        "",
        "#[derive(Debug, Clone, Copy, PartialEq, Eq)]",
        "pub struct RuleMatch {",
        "    pub rule: &'static str,",
        "    pub kind: &'static str,",
        "    pub level: &'static str,",
        "}",
        "",
        f"pub const TABLE_NAME: &str = {_s(table.name)};",
        f"pub const TABLE_HASH: &str = {_s(table.hash)};",
        "",
        f"pub static RULES: [RuleMatch; {n}] = [",
        *(
            f"    RuleMatch {{ rule: {_s(r.id)}, kind: {_s(r.kind)}, level: {_s(r.level)} }},"
            for r in table.rules
        ),
        "];",
        "",
        "// DuckDB's lower(): (first, last, delta, step); one code point to one (not SpecialCasing).",
        f"const LOWER_RUNS: [(u32, u32, i32, u32); {len(LOWER_RUNS)}] = [",
        *(f"    ({a}, {b}, {d}, {s})," for a, b, d, s in LOWER_RUNS),
        "];",
        "",
        "fn lower_char(c: char) -> char {",
        "    let cp = c as u32;",
        "    let i = LOWER_RUNS.partition_point(|r| r.1 < cp);",
        "    match LOWER_RUNS.get(i) {",
        "        Some(&(first, _, delta, step)) if cp >= first && (cp - first) % step == 0 => {",
        "            char::from_u32((cp as i64 + delta as i64) as u32).unwrap_or(c)",
        "        }",
        "        _ => c,",
        "    }",
        "}",
        "",
        "/// Lowercase exactly as DuckDB's lower() does (str::to_lowercase differs beyond ASCII).",
        "pub fn lower_like_duckdb(text: &str) -> String {",
        "    if text.is_ascii() {",
        "        text.to_ascii_lowercase()",
        "    } else {",
        "        text.chars().map(lower_char).collect()",
        "    }",
        "}",
        "",
        "// RE2 patterns rewritten to the portable subset: explicit classes, case folding expanded.",
        f"const PATTERNS: [&str; {len(patterns)}] = [",
        *(
            line
            for leaf, p in patterns.items()
            for line in (f"    // {origin(leaf)}", f"    {_s(p)},")
        ),
        "];",
        "",
        "fn rx(i: usize) -> &'static Regex {",
        "    static RX: OnceLock<Vec<Regex>> = OnceLock::new();",
        "    &RX.get_or_init(|| {",
        "        PATTERNS",
        "            .iter()",
        '            .map(|p| Regex::new(p).expect("generated pattern compiles"))',
        "            .collect()",
        "    })[i]",
        "}",
        "",
        f"const FIELDS: [&str; {len(fields)}] = [{', '.join(_s(f) for f in fields)}];",
        f"const LOWERED: [usize; {len(lowered)}] = [{', '.join(str(fi[f]) for f in lowered)}];",
        "",
        "struct Values<'a> {",
        "    raw: Vec<&'a str>,",
        "    low: Vec<String>,",
        "}",
        "",
        "fn values<'a>(fields: &[(&str, &'a str)]) -> Values<'a> {",
        "    let raw: Vec<&'a str> = FIELDS",
        "        .iter()",
        '        .map(|f| fields.iter().find(|(k, _)| k == f).map(|(_, v)| *v).unwrap_or(""))',
        "        .collect();",
        "    let low = LOWERED.iter().map(|&i| lower_like_duckdb(raw[i])).collect();",
        "    Values { raw, low }",
        "}",
        "",
    ]
    for i, rule in enumerate(table.rules):
        out += [
            f"// {rule.id}",
            f"fn rule_{i}(v: &Values) -> bool {{",
            f"    {_cond(rule.condition, rx_index, fi, li)}",
            "}",
            "",
        ]
    out += [
        f"const RULE_TESTS: [fn(&Values) -> bool; {n}] = [{', '.join(f'rule_{i}' for i in range(n))}];",
        "",
        '/// The first rule matching the event\'s fields ("message", "exception.type",',
        '/// "tags.NAME", ...; a missing field reads as ""), or None.',
        "pub fn match_fields(fields: &[(&str, &str)]) -> Option<&'static RuleMatch> {",
        "    let v = values(fields);",
        "    RULE_TESTS.iter().position(|t| t(&v)).map(|i| &RULES[i])",
        "}",
        "",
        "/// The kind of an error message, or None when no rule matches. An HTTP status, when given,",
        f"/// reads as the tag {STATUS_TAG} (unless the tags carry it).",
        "pub fn classify(message: &str, http_status: Option<u16>, tags: &[(&str, &str)]) -> Option<&'static str> {",
        '    let keys: Vec<String> = tags.iter().map(|(k, _)| format!("tags.{}", k)).collect();',
        '    let mut fields: Vec<(&str, &str)> = vec![("message", message)];',
        "    for (key, (_, value)) in keys.iter().zip(tags) {",
        "        fields.push((key.as_str(), value));",
        "    }",
        "    let status = http_status.map(|s| s.to_string());",
        f"    let status_key = {_s('tags.' + STATUS_TAG)};",
        "    if let Some(s) = &status {",
        "        if !fields.iter().any(|(k, _)| *k == status_key) {",
        "            fields.push((status_key, s.as_str()));",
        "        }",
        "    }",
        "    match_fields(&fields).map(|m| m.kind)",
        "}",
        "",
        "#[cfg(test)]",
        "mod tests {",
        "    use super::*;",
        "",
        "    fn check(rule: usize, expect: bool, fields: &[(&str, &str)]) {",
        "        let v = values(fields);",
        '        assert_eq!(RULE_TESTS[rule](&v), expect, "rule {} on {:?}", RULES[rule].rule, fields);',
        "    }",
    ]
    for i, rule in enumerate(table.rules):
        if not rule.match_examples and not rule.no_match_examples:
            continue
        out += ["", "    #[test]", f"    fn examples_{i}_{_ident(rule.id)}() {{"]
        for expect, exs in ((True, rule.match_examples), (False, rule.no_match_examples)):
            for ex in exs:
                pairs = ", ".join(f"({_s(k)}, {_s(v)})" for k, v in ex.fields.items())
                out.append(f"        check({i}, {'true' if expect else 'false'}, &[{pairs}]);")
        out.append("    }")
    out += ["}", ""]
    return Export(TARGET, "\n".join(out))
