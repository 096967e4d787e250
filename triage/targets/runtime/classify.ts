// @header
// Same semantics as sentry-triage's SQL classifier: first matching rule wins, a missing
// field reads as "", case-insensitive text tests compare text lowered as DuckDB lowers it.
/* eslint-disable */

export interface RuleMatch {
  readonly rule: string;
  readonly kind: string;
  readonly level: string;
}

export const TABLE = { name: "", hash: "" } as const; // @table

export const RULES: readonly RuleMatch[] = [
  // @rules
];

// DuckDB's lower(): [first, last, delta, step]; one code point to one (not SpecialCasing).
const LOWER_RUNS: ReadonlyArray<readonly [number, number, number, number]> = [
  // @lower_runs
];

function lowerCodePoint(cp: number): number {
  let lo = 0;
  let hi = LOWER_RUNS.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [first, last, delta, step] = LOWER_RUNS[mid];
    if (cp < first) hi = mid - 1;
    else if (cp > last) lo = mid + 1;
    else return (cp - first) % step === 0 ? cp + delta : cp;
  }
  return cp;
}

const ASCII = /^[\x00-\x7f]*$/;

/** Lowercase exactly as DuckDB's lower() does (String#toLowerCase differs beyond ASCII). */
export function lowerLikeDuckDB(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  let out = "";
  for (const ch of text) out += String.fromCodePoint(lowerCodePoint(ch.codePointAt(0)!));
  return out;
}

// RE2 patterns rewritten to the portable subset: explicit classes, case folding expanded.
const RX: readonly RegExp[] = [
  // @patterns
];

type Values = Readonly<Record<string, string>>;

const RULE_TESTS: ReadonlyArray<(raw: Values, low: Values) => boolean> = [
  // @rule_tests
];

const FIELDS: readonly string[] = []; // @fields
const LOWERED: readonly string[] = []; // @lowered

function values(fields: Readonly<Record<string, string | undefined>>): [Values, Values] {
  const raw: Record<string, string> = {};
  const low: Record<string, string> = {};
  for (const f of FIELDS) raw[f] = fields[f] ?? "";
  for (const f of LOWERED) low[f] = lowerLikeDuckDB(raw[f]);
  return [raw, low];
}

/** The first rule matching the event's fields ("message", "exception.type",
 *  "tags.NAME", ...; a missing field reads as ""), or null. */
export function matchFields(
  fields: Readonly<Record<string, string | undefined>>,
): RuleMatch | null {
  const [raw, low] = values(fields);
  for (let i = 0; i < RULE_TESTS.length; i++) {
    if (RULE_TESTS[i](raw, low)) return RULES[i];
  }
  return null;
}

/** The kind of an error message, or null when no rule matches. An HTTP status, when given,
 *  reads as the tag http.status_code (unless the tags carry it). */
export function classify(
  message: string,
  httpStatus?: number,
  tags?: Readonly<Record<string, string>>,
): string | null {
  const fields: Record<string, string> = { message };
  for (const [k, v] of Object.entries(tags ?? {})) fields[`tags.${k}`] = v;
  const statusKey = "tags.http.status_code";
  if (httpStatus !== undefined && !(statusKey in fields)) fields[statusKey] = String(httpStatus);
  return matchFields(fields)?.kind ?? null;
}

export interface Example {
  readonly rule: string;
  readonly expect: "match" | "no_match";
  readonly fields: Readonly<Record<string, string>>;
}

/** The table's own examples: each rule must match its `match` examples and not its
 *  `no_match` ones (the rule alone, as `triage rules test` checks them). */
export const EXAMPLES: readonly Example[] = [
  // @examples
];

/** Failing examples as readable lines; empty when the table's examples all hold. */
export function checkExamples(): string[] {
  const failures: string[] = [];
  for (const ex of EXAMPLES) {
    const i = RULES.findIndex((r) => r.rule === ex.rule);
    const [raw, low] = values(ex.fields);
    const got = RULE_TESTS[i](raw, low);
    if (got !== (ex.expect === "match")) {
      failures.push(`rule ${ex.rule}: ${JSON.stringify(ex.fields)} should ${ex.expect === "match" ? "match" : "not match"}`);
    }
  }
  return failures;
}
