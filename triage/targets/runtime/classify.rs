// @header
// Same semantics as sentry-triage's SQL classifier: first matching rule wins, a missing
// field reads as "", case-insensitive text tests compare text lowered as DuckDB lowers it.
#![allow(dead_code, unused_parens, clippy::all)]

use regex::bytes::Regex;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMatch {
    pub rule: &'static str,
    pub kind: &'static str,
    pub level: &'static str,
}

pub const TABLE_NAME: &str = ""; // @table_name
pub const TABLE_HASH: &str = ""; // @table_hash

pub static RULES: [RuleMatch; 0] = []; // @rules

// DuckDB's lower(): (first, last, delta, step); one code point to one (not SpecialCasing).
const LOWER_RUNS: [(u32, u32, i32, u32); 0] = []; // @lower_runs

fn lower_char(c: char) -> char {
    let cp = c as u32;
    let i = LOWER_RUNS.partition_point(|r| r.1 < cp);
    match LOWER_RUNS.get(i) {
        Some(&(first, _, delta, step)) if cp >= first && (cp - first) % step == 0 => {
            char::from_u32((cp as i64 + delta as i64) as u32).unwrap_or(c)
        }
        _ => c,
    }
}

/// Lowercase exactly as DuckDB's lower() does (str::to_lowercase differs beyond ASCII).
pub fn lower_like_duckdb(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.chars().map(lower_char).collect()
    }
}

// RE2 patterns rewritten to the portable subset: explicit classes, case folding expanded.
const PATTERNS: [&str; 0] = []; // @patterns

fn rx(i: usize) -> &'static Regex {
    static RX: OnceLock<Vec<Regex>> = OnceLock::new();
    &RX.get_or_init(|| {
        PATTERNS
            .iter()
            .map(|p| Regex::new(p).expect("generated pattern compiles"))
            .collect()
    })[i]
}

const FIELDS: [&str; 0] = []; // @fields
const LOWERED: [usize; 0] = []; // @lowered

struct Values<'a> {
    raw: Vec<&'a str>,
    low: Vec<String>,
}

fn values<'a>(fields: &[(&str, &'a str)]) -> Values<'a> {
    let raw: Vec<&'a str> = FIELDS
        .iter()
        .map(|f| fields.iter().find(|(k, _)| k == f).map(|(_, v)| *v).unwrap_or(""))
        .collect();
    let low = LOWERED.iter().map(|&i| lower_like_duckdb(raw[i])).collect();
    Values { raw, low }
}

// @rule_tests
const RULE_TESTS: [fn(&Values) -> bool; 0] = []; // @rule_list

/// The first rule matching the event's fields ("message", "exception.type",
/// "tags.NAME", ...; a missing field reads as ""), or None.
pub fn match_fields(fields: &[(&str, &str)]) -> Option<&'static RuleMatch> {
    let v = values(fields);
    RULE_TESTS.iter().position(|t| t(&v)).map(|i| &RULES[i])
}

/// The kind of an error message, or None when no rule matches. An HTTP status, when given,
/// reads as the tag http.status_code (unless the tags carry it).
pub fn classify(message: &str, http_status: Option<u16>, tags: &[(&str, &str)]) -> Option<&'static str> {
    let keys: Vec<String> = tags.iter().map(|(k, _)| format!("tags.{}", k)).collect();
    let mut fields: Vec<(&str, &str)> = vec![("message", message)];
    for (key, (_, value)) in keys.iter().zip(tags) {
        fields.push((key.as_str(), value));
    }
    let status = http_status.map(|s| s.to_string());
    let status_key = "tags.http.status_code";
    if let Some(s) = &status {
        if !fields.iter().any(|(k, _)| *k == status_key) {
            fields.push((status_key, s.as_str()));
        }
    }
    match_fields(&fields).map(|m| m.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rule: usize, expect: bool, fields: &[(&str, &str)]) {
        let v = values(fields);
        assert_eq!(RULE_TESTS[rule](&v), expect, "rule {} on {:?}", RULES[rule].rule, fields);
    }
    // @tests
}
