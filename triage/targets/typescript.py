"""The rule table as a self-contained TypeScript module (no dependencies, any JS runtime).

Exports ``classify(message, httpStatus?, tags?)`` (kind or null), ``matchFields(fields)`` (the
first matching rule for any rule fields), the rules, and ``EXAMPLES`` with ``checkExamples()``: the
table's own examples as a test table. Regexes are written in the portable subset
(``regex_subset``) with only the ``u`` flag; case-insensitive text tests lower the text exactly as
DuckDB does (``lowerLikeDuckDB``), so the module agrees with the SQL classifier.
"""

from __future__ import annotations

import json

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

TARGET = "typescript"
STATUS_TAG = "http.status_code"


def _s(text: str) -> str:
    """A JS string literal (JSON's escaping is valid JS, U+2028 included with ensure_ascii)."""
    return json.dumps(text, ensure_ascii=True)


def _cond(cond: Condition, rx: dict[Leaf, int]) -> str:
    if isinstance(cond, Leaf):
        if cond.op == "regex":
            return f"RX[{rx[cond]}].test(raw[{_s(cond.field)}])"
        src = "raw" if cond.case_sensitive else "low"
        subject = f"{src}[{_s(cond.field)}]"
        v = _s(leaf_value(cond))
        return {
            "contains": f"{subject}.includes({v})",
            "prefix": f"{subject}.startsWith({v})",
            "suffix": f"{subject}.endsWith({v})",
            "equals": f"{subject} === {v}",
        }[cond.op]
    if isinstance(cond, Not):
        return f"!({_cond(cond.item, rx)})"
    joiner = " && " if isinstance(cond, All) else " || "
    return "(" + joiner.join(_cond(c, rx) for c in cond.items) + ")"


def export_typescript(table: RuleTable) -> Export:
    patterns = portable_regexes(table, "js", TARGET)
    rx_index = {leaf: i for i, leaf in enumerate(patterns)}
    fields: list[str] = []
    lowered: list[str] = []
    for rule in table.rules:
        fields += [f for f in fields_of(rule.condition) if f not in fields]
        lowered += [f for f in lowered_fields(rule.condition) if f not in lowered]
    out = [f"// {line}" for line in header_lines(table, TARGET)]
    out += [
        "// Same semantics as sentry-triage's SQL classifier: first matching rule wins, a missing",
        '// field reads as "", case-insensitive text tests compare text lowered as DuckDB lowers it.',
        "/* eslint-disable */",
        "",
        "export interface RuleMatch {",
        "  readonly rule: string;",
        "  readonly kind: string;",
        "  readonly level: string;",
        "}",
        "",
        f"export const TABLE = {{ name: {_s(table.name)}, hash: {_s(table.hash)} }} as const;",
        "",
        "export const RULES: readonly RuleMatch[] = [",
        *(
            f"  {{ rule: {_s(r.id)}, kind: {_s(r.kind)}, level: {_s(r.level)} }},"
            for r in table.rules
        ),
        "];",
        "",
        "// DuckDB's lower(): [first, last, delta, step]; one code point to one (not SpecialCasing).",
        "const LOWER_RUNS: ReadonlyArray<readonly [number, number, number, number]> = [",
        *(f"  [{a}, {b}, {d}, {s}]," for a, b, d, s in LOWER_RUNS),
        "];",
        "",
        "function lowerCodePoint(cp: number): number {",
        "  let lo = 0;",
        "  let hi = LOWER_RUNS.length - 1;",
        "  while (lo <= hi) {",
        "    const mid = (lo + hi) >> 1;",
        "    const [first, last, delta, step] = LOWER_RUNS[mid];",
        "    if (cp < first) hi = mid - 1;",
        "    else if (cp > last) lo = mid + 1;",
        "    else return (cp - first) % step === 0 ? cp + delta : cp;",
        "  }",
        "  return cp;",
        "}",
        "",
        "const ASCII = /^[\\x00-\\x7f]*$/;",
        "",
        "/** Lowercase exactly as DuckDB's lower() does (String#toLowerCase differs beyond ASCII). */",
        "export function lowerLikeDuckDB(text: string): string {",
        "  if (ASCII.test(text)) return text.toLowerCase();",
        '  let out = "";',
        "  for (const ch of text) out += String.fromCodePoint(lowerCodePoint(ch.codePointAt(0)!));",
        "  return out;",
        "}",
        "",
        "// RE2 patterns rewritten to the portable subset: explicit classes, case folding expanded.",
        "const RX: readonly RegExp[] = [",
        *(
            line
            for leaf, p in patterns.items()
            for line in (f"  // {origin(leaf)}", f'  new RegExp({_s(p)}, "u"),')
        ),
        "];",
        "",
        "type Values = Readonly<Record<string, string>>;",
        "",
        "const RULE_TESTS: ReadonlyArray<(raw: Values, low: Values) => boolean> = [",
    ]
    for rule in table.rules:
        out.append(f"  // {rule.id}")
        out.append(f"  (raw, low) => {_cond(rule.condition, rx_index)},")
    out += [
        "];",
        "",
        f"const FIELDS: readonly string[] = {json.dumps(fields)};",
        f"const LOWERED: readonly string[] = {json.dumps(lowered)};",
        "",
        "function values(fields: Readonly<Record<string, string | undefined>>): [Values, Values] {",
        "  const raw: Record<string, string> = {};",
        "  const low: Record<string, string> = {};",
        '  for (const f of FIELDS) raw[f] = fields[f] ?? "";',
        "  for (const f of LOWERED) low[f] = lowerLikeDuckDB(raw[f]);",
        "  return [raw, low];",
        "}",
        "",
        '/** The first rule matching the event\'s fields ("message", "exception.type",',
        ' *  "tags.NAME", ...; a missing field reads as ""), or null. */',
        "export function matchFields(",
        "  fields: Readonly<Record<string, string | undefined>>,",
        "): RuleMatch | null {",
        "  const [raw, low] = values(fields);",
        "  for (let i = 0; i < RULE_TESTS.length; i++) {",
        "    if (RULE_TESTS[i](raw, low)) return RULES[i];",
        "  }",
        "  return null;",
        "}",
        "",
        "/** The kind of an error message, or null when no rule matches. An HTTP status, when given,",
        f" *  reads as the tag {STATUS_TAG} (unless the tags carry it). */",
        "export function classify(",
        "  message: string,",
        "  httpStatus?: number,",
        "  tags?: Readonly<Record<string, string>>,",
        "): string | null {",
        "  const fields: Record<string, string> = { message };",
        "  for (const [k, v] of Object.entries(tags ?? {})) fields[`tags.${k}`] = v;",
        f"  const statusKey = {_s('tags.' + STATUS_TAG)};",
        "  if (httpStatus !== undefined && !(statusKey in fields)) fields[statusKey] = String(httpStatus);",
        "  return matchFields(fields)?.kind ?? null;",
        "}",
        "",
        "export interface Example {",
        "  readonly rule: string;",
        '  readonly expect: "match" | "no_match";',
        "  readonly fields: Readonly<Record<string, string>>;",
        "}",
        "",
        "/** The table's own examples: each rule must match its `match` examples and not its",
        " *  `no_match` ones (the rule alone, as `triage rules test` checks them). */",
        "export const EXAMPLES: readonly Example[] = [",
    ]
    for rule in table.rules:
        for expect, exs in (("match", rule.match_examples), ("no_match", rule.no_match_examples)):
            for ex in exs:
                out.append(
                    f"  {{ rule: {_s(rule.id)}, expect: {_s(expect)}, "
                    f"fields: {json.dumps(ex.fields, ensure_ascii=True)} }},"
                )
    out += [
        "];",
        "",
        "/** Failing examples as readable lines; empty when the table's examples all hold. */",
        "export function checkExamples(): string[] {",
        "  const failures: string[] = [];",
        "  for (const ex of EXAMPLES) {",
        "    const i = RULES.findIndex((r) => r.rule === ex.rule);",
        "    const [raw, low] = values(ex.fields);",
        "    const got = RULE_TESTS[i](raw, low);",
        '    if (got !== (ex.expect === "match")) {',
        '      failures.push(`rule ${ex.rule}: ${JSON.stringify(ex.fields)} should ${ex.expect === "match" ? "match" : "not match"}`);',
        "    }",
        "  }",
        "  return failures;",
        "}",
        "",
    ]
    return Export(TARGET, "\n".join(out))
