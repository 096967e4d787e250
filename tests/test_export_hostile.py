"""Hostile ids, kinds, names and values through every target (issue 16).

Rule ids, kinds and the table's name are free text: a newline, U+2028, ``*/`` or a quote in one
must never end a comment or a literal of a generated file and become code. The table below
carries payloads that, if written raw, would run at module load under node (write a marker
file), stop the Rust build (``compile_error!``) or add a live Sentry fingerprint rule. The
generated code is then built and run: no marker, a clean build, and the same rule as the SQL
classifier for every message of a corpus made of the hostile values themselves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from parity_corpus import sql_classify, variants
from rust_crate import cargo, offline_crate
from test_export_parity import (
    RUST_HEX_PRELUDE,
    TS_EXAMPLES_TEST,
    TSC,
    _encode,
)

import triage
from triage.rules import Leaf, leaves, parse
from triage.targets.base import runtime, table_fields
from triage.targets.python import compile_table
from triage.targets.sql import SQL, compile_blocked

TS_RUN = "require('fs').writeFileSync(process.env.PWN_MARKER, 'ran');"
RUST_RUN = 'compile_error!("injected");'
FP_RUN = 'error.type:"*" -> pwned'
# The runners print the matching rule's index: an id may hold any line break.
TS_RUNNER = r"""
const fs = require("fs");
const m = require("./rules0.js");
const dec = (h) => Buffer.from(h, "hex").toString("utf8");
const out = [];
for (const line of fs.readFileSync(0, "utf8").split("\n")) {
  if (!line) continue;
  const fields = {};
  for (const p of line.split("\t").slice(1)) {
    const [k, v] = p.split("=");
    fields[dec(k)] = dec(v);
  }
  const hit = m.matchFields(fields);
  out.push(hit ? String(m.RULES.indexOf(hit)) : "-");
}
fs.writeFileSync(1, out.join("\n") + "\n");
"""
RUST_MAIN = (
    RUST_HEX_PRELUDE
    + r"""
fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let rules = &triage_parity::rules0::RULES;
    let mut out = String::new();
    for line in input.lines() {
        let owned: Vec<(String, String)> = line
            .split('\t')
            .skip(1)
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (dec(k), dec(v))
            })
            .collect();
        let fields: Vec<(&str, &str)> =
            owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        match triage_parity::rules0::match_fields(&fields) {
            Some(m) => out.push_str(&rules.iter().position(|r| r == m).unwrap().to_string()),
            None => out.push('-'),
        }
        out.push('\n');
    }
    std::io::stdout().write_all(out.as_bytes()).unwrap();
}
"""
)
BREAKS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\u0085", "\x0b", "\x0c"]


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, \\uXXXX included)."""
    return json.dumps(text, ensure_ascii=True)


def _leaf(field: str, op: str, value: str, case_sensitive: bool = False) -> str:
    cs = ", case_sensitive = true" if case_sensitive else ""
    return f"{{ field = {_toml(field)}, {op} = {_toml(value)}{cs} }}"


def hostile_table() -> str:
    """(id, kind, condition, a message it matches) with payloads in every free-text slot."""
    rules: list[tuple[str, str, str, str | None]] = []
    for n, br in enumerate(BREAKS):
        rid = f"id{n}{br}{TS_RUN}{br}{RUST_RUN}{br}{FP_RUN}{br}//"
        kind = f"kind{n}{br}{FP_RUN}{br}{TS_RUN}"
        value = f"line{n}{br}break"
        rules.append((rid, kind, _leaf("message", "contains", value), f"x {value} y"))
    odd = "*/ /* quote\" apos' `${x}` \\"
    regex = r'quo"te\n|back\\slash|[*]/x'
    rules += [
        (
            f"block */ {TS_RUN} /* {RUST_RUN} */",
            '*/ pwned /* kind, with {{ default }} and "quotes"',
            _leaf("message", "prefix", odd),
            odd + " tail",
        ),
        (
            'quote" \' ` ${TS} \\" \\',
            'kind"\\',
            _leaf("message", "suffix", "ends with \\"),
            "it ends with \\",
        ),
        ("regex\u2028rule", "k\u2029k", _leaf("message", "regex", regex), 'a quo"te\nb'),
        ("tag'name", "tagged", _leaf("tags.x'y\"z", "equals", 'v\u2028"1'), None),
        (
            "not\nrule",
            "negated",
            f"{{ all = [{_leaf('exception.type', 'equals', 'Err' + chr(10) + '*/', True)}, "
            f"{{ not = {_leaf('message', 'contains', 'skip/*')} }}] }}",
            None,
        ),
    ]
    out = [f"name = {_toml('hostile' + chr(10) + TS_RUN + chr(0x2028) + RUST_RUN)}", ""]
    for rid, kind, cond, match in rules:
        out += ["[[rules]]", f"id = {_toml(rid)}", f"kind = {_toml(kind)}", 'level = "info"']
        out.append(f"when = {cond}")
        if match is not None:
            out.append(f"examples.match = [{_toml(match)}]")
        out.append("")
    return "\n".join(out)


@pytest.fixture(scope="module")
def table():
    return parse(hostile_table(), source="hostile.toml")


@pytest.fixture(scope="module")
def rows(table) -> list[dict[str, str]]:
    """Every hostile value inside messages and in its own field, with case variants."""
    out: list[dict[str, str]] = []
    values = [lf for r in table.rules for lf in leaves(r.condition)]
    for leaf in values:
        text = leaf.value if leaf.op != "regex" else 'quo"te\n'
        for v in [text, f"pre {text} post", f"{text} post", f"pre {text}", "back\\slash"]:
            for var in variants(v):
                out.append({"message": var})
                out.append({leaf.field: var})
                out.append({"exception.type": var, "message": var})
    out += [{"tags.x'y\"z": 'v\u2028"1'}, {"exception.type": "Err\n*/", "message": "skip/*"}]
    out += [{"exception.type": "Err\n*/", "message": "go"}]
    unique = {json.dumps(r, sort_keys=True): r for r in out}
    return list(unique.values())


@pytest.fixture(scope="module")
def reference(table, rows) -> list[str | None]:
    got = sql_classify(table, rows)
    assert sum(1 for g in got if g) > 50  # the corpus exercises the rules
    assert len({g for g in got if g}) >= 10
    return got


def test_every_target_exports_hostile_text(table):
    for target in ("typescript", "rust", "json", "sentry-fingerprint"):
        text = triage.export(table, to=target).text
        for line in text.splitlines():  # every Unicode line break, not only \n
            assert not line.lstrip().startswith(TS_RUN), (target, line)
            assert not line.lstrip().startswith(RUST_RUN), (target, line)
            assert not line.startswith(FP_RUN), (target, line)
    doc = json.loads(triage.export(table, to="json").text)
    assert [r["id"] for r in doc["rules"]] == [r.id for r in table.rules]
    assert [r["kind"] for r in doc["rules"]] == [r.kind for r in table.rules]


# Sentry's fingerprinting grammar (sentry/grouping/fingerprinting/parser.py), per line.
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_MATCHER = rf'!?(?:[a-zA-Z0-9_.-]+|"[a-zA-Z0-9_.:-]+"):{_QUOTED}'
_RULE = re.compile(rf"^{_MATCHER}(?: {_MATCHER})* -> ({_QUOTED}|[^\s{{,]+)$")


def _unquote(value: str) -> str:
    """As Sentry reads a quoted argument (``sentry.utils.strings.unescape_string``)."""
    if not value.startswith('"'):
        return value
    return value[1:-1].encode("ascii", "backslashreplace").decode("unicode-escape")


def test_sentry_fingerprint_lines_are_comments_or_whole_rules(table):
    res = triage.export(table, to="sentry-fingerprint")
    fingerprints = []
    for line in re.split(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]", res.text):
        if not line or line.startswith("#"):
            continue
        m = _RULE.match(line)
        assert m, f"not a whole rule line: {line!r}"
        fingerprints.append(_unquote(m.group(1)))
    kinds = {f"triage-{r.kind}" for r in table.rules}
    assert fingerprints and set(fingerprints) <= kinds  # each line says a rule's own kind
    assert "pwned" not in fingerprints
    # a refused rule is named (escaped) in the header, with its reason
    assert any("tag'name" in n and "cannot be written" in n for n in res.notes)


def test_python_hook_agrees_with_sql_on_hostile_rules(table, rows, reference):
    m = compile_table(table)
    got = [(r.id if (r := m.match_fields(row)) else None) for row in rows]
    assert got == reference


@pytest.fixture(scope="module")
def ts_out(table, tmp_path_factory) -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (.ci/run installs nodejs)")
    if not TSC.exists():
        pytest.skip("the typescript package is not installed: run `npm ci` (as .ci/run does)")
    d = tmp_path_factory.mktemp("ts-hostile")
    triage.export(table, to="typescript", output=d / "rules0.ts")
    # the runtime file is a real module on its own too (an empty table)
    (d / "runtime.ts").write_text(runtime("classify.ts"), encoding="utf-8")
    subprocess.run(
        ["node", str(TSC), "--strict", "--target", "es2020", "--module", "commonjs",
         "--outDir", str(d / "out"), str(d / "rules0.ts"), str(d / "runtime.ts")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (d / "out" / "run.js").write_text(TS_RUNNER, encoding="utf-8")
    (d / "out" / "examples.test.js").write_text(TS_EXAMPLES_TEST % '"./rules0.js"', "utf-8")
    return d / "out"


def _ids(table, out: str) -> list[str | None]:
    return [None if x == "-" else table.rules[int(x)].id for x in out.split("\n")[:-1]]


def test_typescript_runs_no_injected_code_and_agrees_with_sql(table, ts_out, rows, reference):
    marker = ts_out / "PWNED"
    env = {**os.environ, "PWN_MARKER": str(marker)}
    stdin = "\n".join(_encode(rows, 0)) + "\n"
    res = subprocess.run(
        ["node", str(ts_out / "run.js")], input=stdin, capture_output=True, text=True,
        check=True, env=env,
    )  # fmt: skip
    assert not marker.exists(), "code from a rule id, kind or name ran at module load"
    assert _ids(table, res.stdout) == reference
    res = subprocess.run(
        ["node", "--test", str(ts_out / "examples.test.js")],
        capture_output=True, text=True, cwd=ts_out, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert not marker.exists()


def test_rust_builds_clean_runs_its_tests_and_agrees_with_sql(table, rows, reference, tmp_path):
    env = offline_crate(tmp_path)
    src = tmp_path / "src"
    triage.export(table, to="rust", output=src / "rules0.rs")
    (src / "runtime.rs").write_text(runtime("classify.rs"), encoding="utf-8")  # compiles alone
    (src / "lib.rs").write_text("pub mod rules0;\npub mod runtime;\n", encoding="utf-8")
    (src / "main.rs").write_text(RUST_MAIN, encoding="utf-8")
    res = cargo(tmp_path, env, "test", "--release", "--lib")
    assert res.returncode == 0, res.stdout + res.stderr  # compile_error! never reached the code
    assert "warning" not in res.stderr, res.stderr
    with_examples = sum(1 for r in table.rules if r.match_examples)
    assert f"{with_examples} passed" in res.stdout
    res = cargo(
        tmp_path, env, "run", "--release", "--quiet", "--bin", "triage_parity",
        check=True, input="\n".join(_encode(rows, 0)) + "\n",
    )  # fmt: skip
    assert _ids(table, res.stdout) == reference


def test_hostile_leaf_is_really_in_the_table(table):
    # guards the fixture: the payloads reach ids, kinds, name and values
    assert "\u2028" in table.name and any("\u2028" in r.id for r in table.rules)
    values = [lf.value for r in table.rules for lf in leaves(r.condition) if isinstance(lf, Leaf)]
    assert any("\\" in v for v in values) and any("\u2028" in v for v in values)


class InlineDuckDB(SQL):
    """A dialect that writes values into the SQL text (as a dialect without parameters must)."""

    BIND = False


def test_sql_dialect_with_inline_literals_agrees_with_bound_parameters(table, rows, reference):
    import duckdb
    import pandas

    fields = table_fields(table.rules)
    col = {f: f"c{i}" for i, f in enumerate(fields)}
    compiled = compile_blocked(table, column=lambda f: col[f], dialect=InlineDuckDB)
    assert compiled.params == []
    frame = pandas.DataFrame(
        {"i": range(len(rows)), **{col[f]: [r.get(f, "") for r in rows] for f in fields}}
    )
    with duckdb.connect() as con:
        con.register("frame", frame)
        got = dict(con.execute(f"SELECT i, {compiled.expr} FROM frame").fetchall())
    ids = [r.id for r in table.rules]
    assert [ids[got[i] - 1] if got[i] else None for i in range(len(rows))] == reference
