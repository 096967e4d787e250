"""Parity, proven: the SQL classifier (the reference), the live hook, and the generated TypeScript
and Rust classifiers give the same rule for every message of one corpus.

The corpus (tests/parity_corpus.py): every rule example of every table below, every message of the
demo fixtures and every string in ../shared/samples, each with case and Unicode variants. The
TypeScript part needs node and the ``typescript`` package (``npm ci``); the Rust part cargo and
Debian's ``librust-regex-dev`` (crates.io is not reachable). They skip, saying which, only when
those are missing; .ci/run installs them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from parity_corpus import REPO, TABLES, corpus, sql_classify
from rust_crate import cargo, offline_crate

import triage
from triage.rules import load
from triage.sentry import classify_event
from triage.targets import export
from triage.targets.python import compile_table

TSC = REPO / "node_modules" / "typescript" / "bin" / "tsc"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return corpus()


@pytest.fixture(scope="module")
def reference(rows) -> dict[str, list[str | None]]:
    return {spec: sql_classify(load(spec), rows) for spec in TABLES}


def _report(capsys, target: str, rows: list, reference: dict, mismatches: int) -> None:
    with capsys.disabled():
        matched = sum(1 for spec in TABLES for r in reference[spec] if r)
        print(
            f"\nparity {target}: {len(rows)} messages x {len(TABLES)} tables = "
            f"{len(rows) * len(TABLES)} classifications compared with SQL "
            f"({matched} matched a rule), {mismatches} disagreements"
        )


def _assert_same(target: str, rows, reference, got: dict[str, list[str | None]]) -> int:
    bad = []
    for spec in TABLES:
        for row, want, have in zip(rows, reference[spec], got[spec], strict=True):
            if want != have:
                bad.append(f"{Path(spec).stem}: {row!r}: SQL {want} vs {target} {have}")
    assert not bad, f"{len(bad)} disagreements, first: " + "\n".join(bad[:10])
    return len(bad)


def test_corpus_covers_examples_fixtures_samples_and_variants(rows, samples):
    msgs = {r.get("message") for r in rows}
    seed = "composio unavailable: no backend session token. Sign in first (auth_store_session)."
    assert seed in msgs
    assert "NO BACKEND SESSION TOKEN" in msgs
    assert any("no backend \u017fe\u017f\u017fion token" in (m or "") for m in msgs)  # variant
    assert any("Cannot read properties" in (m or "") for m in msgs)  # demo fixture
    assert "This is an example Python exception" in msgs  # a ../shared/samples string
    assert len(rows) > 5000


def test_python_hook_agrees_with_sql(rows, reference, capsys):
    got = {}
    for spec in TABLES:
        m = compile_table(load(spec))
        got[spec] = [(r.id if (r := m.match_fields(row)) else None) for row in rows]
    _report(capsys, "python-hook", rows, reference, _assert_same("hook", rows, reference, got))


def _raw_events(paths: list[Path]) -> list[dict]:
    out = []
    for p in paths:
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".ndjson":
            out += [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            doc = json.loads(text)
            out += doc if isinstance(doc, list) else [doc]
    return out


def test_hook_reads_raw_events_as_the_ingester_does(tmp_path, samples):
    """Whole events, not just messages: ingest + SQL classify vs the hook on the same dicts."""
    from events_factory import raw_event, write_ndjson

    crafted = [
        raw_event("c", 0, logentry={"message": "RPC %s timed out after %sms", "params": ["x", 5]}),
        raw_event("c", 1, logentry={"message": "Hello %s"}),  # placeholders, no params
        raw_event("c", 2, message={"message": "SESSION_EXPIRED %s", "params": {"a": 1}}),
        raw_event("c", 3, exc=("RpcError", "Invalid Token"), tags={"method": "OpenHuman.a"}),
        raw_event("c", 4, exception=[{"type": "E", "value": "ECONNREFUSED"}], message=""),
        raw_event("c", 5, logentry={"formatted": "", "message": "no backend session token"}),
        raw_event("c", 6, tags=[["method", "openhuman.x"]], exc=("RpcError", "x"), level="WARN"),
        raw_event("c", 7, platform="javascript", environment="staging-2", culprit="/api/v1/z"),
        raw_event("c", 8, message="ΣΊΣΥΦΟΣ"),
        raw_event("c", 9, message=12345, release=None),
    ]
    demo = [f for p in triage.demo_paths() for f in ([p] if p.is_file() else p.rglob("*.ndjson"))]
    paths = [
        *demo,
        *sorted(samples.glob("raw-*.json")),
        write_ndjson(tmp_path / "crafted.ndjson", crafted),
    ]
    events = [e for e in _raw_events(paths) if e.get("event_id")]
    with triage.open(tmp_path / "p.duckdb") as db:
        db.ingest(paths)
        for spec in TABLES:
            table = load(spec)
            db.classify(table)
            sql = dict(
                db.con.execute(
                    "SELECT event_id, rule_id FROM classifications WHERE ruleset_hash = ?",
                    [table.hash],
                ).fetchall()
            )
            m = compile_table(table)
            for ev in events:
                eid = str(ev["event_id"]).replace("-", "").lower()
                hook = classify_event(ev, m)
                assert sql.get(eid) == (hook.id if hook else None), (spec, ev)
    assert len(events) > 250


# --- generated TypeScript and Rust --------------------------------------------------------------


def _encode(rows: list[dict[str, str]], table_index: int) -> list[str]:
    return [
        "\t".join(
            [str(table_index)] + [f"{k.encode().hex()}={v.encode().hex()}" for k, v in row.items()]
        )
        for row in rows
    ]


def _split(out: str, rows, n_tables: int) -> dict[str, list[str | None]]:
    lines = out.splitlines()
    assert len(lines) == len(rows) * n_tables
    got = {}
    for t, spec in enumerate(TABLES):
        part = lines[t * len(rows) : (t + 1) * len(rows)]
        got[spec] = [None if x == "-" else x for x in part]
    return got


TS_RUNNER = r"""
const fs = require("fs");
const mods = [%s].map((m) => require(m));
const dec = (h) => Buffer.from(h, "hex").toString("utf8");
const out = [];
for (const line of fs.readFileSync(0, "utf8").split("\n")) {
  if (!line) continue;
  const [t, ...pairs] = line.split("\t");
  const fields = {};
  for (const p of pairs) { const [k, v] = p.split("="); fields[dec(k)] = dec(v); }
  const m = mods[Number(t)].matchFields(fields);
  out.push(m ? m.rule : "-");
}
fs.writeFileSync(1, out.join("\n") + "\n");
"""

TS_EXAMPLES_TEST = r"""
const test = require("node:test");
const assert = require("node:assert");
for (const name of [%s]) {
  test(`generated examples of ${name}`, () => {
    const m = require(name);
    assert.ok(m.EXAMPLES.length > 0);
    assert.deepStrictEqual(m.checkExamples(), []);
  });
}
"""


@pytest.fixture(scope="module")
def ts_build(tmp_path_factory) -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (.ci/run installs nodejs)")
    if not TSC.exists():
        pytest.skip("the typescript package is not installed: run `npm ci` (as .ci/run does)")
    d = tmp_path_factory.mktemp("ts")
    sources = []
    for i, spec in enumerate(TABLES):
        src = d / f"rules{i}.ts"
        export(spec, to="typescript", output=src)
        sources.append(str(src))
    subprocess.run(
        ["node", str(TSC), "--strict", "--target", "es2020", "--module", "commonjs",
         "--outDir", str(d / "out"), *sources],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    mods = ", ".join(json.dumps(f"./rules{i}.js") for i in range(len(TABLES)))
    (d / "out" / "run.js").write_text(TS_RUNNER % mods, encoding="utf-8")
    (d / "out" / "examples.test.js").write_text(TS_EXAMPLES_TEST % mods, encoding="utf-8")
    return d / "out"


def test_typescript_generated_examples_pass_under_node(ts_build):
    res = subprocess.run(
        ["node", "--test", str(ts_build / "examples.test.js")],
        capture_output=True, text=True, cwd=ts_build,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"# pass {len(TABLES)}" in res.stdout


def test_typescript_agrees_with_sql(ts_build, rows, reference, capsys):
    stdin = "\n".join(line for t in range(len(TABLES)) for line in _encode(rows, t)) + "\n"
    res = subprocess.run(
        ["node", str(ts_build / "run.js")], input=stdin, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    got = _split(res.stdout, rows, len(TABLES))
    _report(capsys, "typescript", rows, reference, _assert_same("ts", rows, reference, got))


def test_typescript_classify_takes_status_and_tags(ts_build):
    script = (
        "const m = require('./rules0.js');"
        "console.log(JSON.stringify([m.classify('NO BACKEND SESSION TOKEN'),"
        " m.classify('a real bug', 401), m.lowerLikeDuckDB('İSTANBUL'), m.TABLE.name]));"
    )
    res = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, cwd=ts_build, check=True
    )
    assert json.loads(res.stdout) == ["auth_expired", None, "istanbul", "openhuman"]


# Both Rust programs read hex-encoded lines (any byte survives the pipe) from stdin.
RUST_HEX_PRELUDE = r"""
use std::io::{Read, Write};

fn dec(h: &str) -> String {
    let bytes: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}
"""

RUST_MAIN = (
    RUST_HEX_PRELUDE
    + r"""
fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let mut out = String::new();
    for line in input.lines() {
        let mut parts = line.split('\t');
        let t: usize = parts.next().unwrap().parse().unwrap();
        let owned: Vec<(String, String)> = parts
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (dec(k), dec(v))
            })
            .collect();
        let fields: Vec<(&str, &str)> =
            owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let m = match t {
%s
            _ => unreachable!(),
        };
        out.push_str(m.unwrap_or("-"));
        out.push('\n');
    }
    std::io::stdout().write_all(out.as_bytes()).unwrap();
}
"""
)


@pytest.fixture(scope="module")
def rust_crate(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    d = tmp_path_factory.mktemp("rs")
    env = offline_crate(d)
    src = d / "src"
    mods = []
    for i, spec in enumerate(TABLES):
        export(spec, to="rust", output=src / f"rules{i}.rs")
        mods.append(f"pub mod rules{i};")
    (src / "lib.rs").write_text("\n".join(mods) + "\n", encoding="utf-8")
    arms = "\n".join(
        f"            {i} => triage_parity::rules{i}::match_fields(&fields).map(|m| m.rule),"
        for i in range(len(TABLES))
    )
    (src / "main.rs").write_text(RUST_MAIN % arms, encoding="utf-8")
    (src / "bin").mkdir()
    (src / "bin" / "rx.rs").write_text(RX_RS, encoding="utf-8")
    res = cargo(d, env, "build", "--release", "--quiet")
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr, res.stderr  # generated code compiles clean
    return d, env


def test_rust_generated_tests_pass_under_cargo(rust_crate):
    d, env = rust_crate
    res = cargo(d, env, "test", "--release", "--lib")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "test result: ok." in res.stdout and " 0 failed" in res.stdout
    n_rules_with_examples = sum(
        1 for spec in TABLES for r in load(spec).rules if r.match_examples or r.no_match_examples
    )
    assert f"{n_rules_with_examples} passed" in res.stdout


def test_rust_agrees_with_sql(rust_crate, rows, reference, capsys):
    d, env = rust_crate
    stdin = "\n".join(line for t in range(len(TABLES)) for line in _encode(rows, t)) + "\n"
    res = subprocess.run(
        [str(d / "target" / "release" / "triage_parity")],
        input=stdin, capture_output=True, text=True, check=True,
    )  # fmt: skip
    got = _split(res.stdout, rows, len(TABLES))
    _report(capsys, "rust", rows, reference, _assert_same("rust", rows, reference, got))


# --- random patterns through the targets' own regex engines -------------------------------------

RX_JS = r"""
const fs = require("fs");
const { patterns, texts } = JSON.parse(fs.readFileSync(0, "utf8"));
const out = patterns.map((p) => {
  const rx = new RegExp(p, "u");
  return texts.map((t) => (rx.test(t) ? "1" : "0")).join("");
});
fs.writeFileSync(1, out.join("\n") + "\n");
"""

RX_RS = (
    RUST_HEX_PRELUDE
    + r"""
fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let mut lines = input.lines();
    let n: usize = lines.next().unwrap().parse().unwrap();
    let patterns: Vec<String> = lines.by_ref().take(n).map(dec).collect();
    let texts: Vec<String> = lines.map(dec).collect();
    let mut out = String::new();
    for p in &patterns {
        let rx = regex::bytes::Regex::new(p).unwrap();
        for t in &texts {
            out.push(if rx.is_match(t.as_bytes()) { '1' } else { '0' });
        }
        out.push('\n');
    }
    std::io::stdout().write_all(out.as_bytes()).unwrap();
}
"""
)


def _random_patterns(n: int, seed: int = 6) -> list[tuple[str, bool]]:
    """Valid RE2 patterns of the portable subset, from a small grammar, deterministic."""
    import random

    import re2

    from triage.rules.regex_subset import translate

    rnd = random.Random(seed)
    lits = [
        "a",
        "k",
        "s",
        "K",
        "S",
        "ß",
        "İ",
        "ı",
        "σ",
        "Σ",
        "é",
        "0",
        " ",
        "_",
        r"\.",
        r"\x{212A}",
    ]
    perl = [".", r"\d", r"\w", r"\s", r"\D", r"\W", r"\S"]
    items = ["a", "k", "s", "ß", "σ", "0", " ", r"\d", r"\w", r"\s", "a-k", "A-Z", "ß-ſ", "Α-Ω"]
    quants = ["", "", "", "*", "+", "?", "{2}", "{1,3}", "*?"]

    def atom(depth: int) -> str:
        r = rnd.random()
        if r < 0.4:
            return rnd.choice(lits)
        if r < 0.55:
            return rnd.choice(perl)
        if r < 0.75:
            body = "".join(rnd.choice(items) for _ in range(rnd.randint(1, 3)))
            return "[" + ("^" if rnd.random() < 0.3 else "") + body + "]"
        if r < 0.85 or depth > 2:
            return rnd.choice([r"\b", r"\B", "^", "$"])
        return "(?:" + alt(depth + 1) + ")"

    def seq(depth: int) -> str:
        out = ""
        for _ in range(rnd.randint(1, 4)):
            a = atom(depth)
            out += a + ("" if a in (r"\b", r"\B", "^", "$") else rnd.choice(quants))
        return out

    def alt(depth: int) -> str:
        return "|".join(seq(depth) for _ in range(rnd.randint(1, 2)))

    out: list[tuple[str, bool]] = []
    while len(out) < n:
        p, cs = alt(0), rnd.random() < 0.5
        try:
            re2.compile(p)
            translate(p, cs, "js")
        except Exception:  # not RE2, or outside the portable subset (a repeated assertion)
            continue
        out.append((p, cs))
    return out


def _random_texts(n: int, seed: int = 7) -> list[str]:
    import random

    rnd = random.Random(seed)
    alphabet = list("akKsSiI0 _-.\n\r\t") + ["ß", "ẞ", "İ", "ı", "σ", "Σ", "ς", "é", "É", "\u212a"]
    alphabet += ["\u017f", "\u2028", "\u00a0", "Ω", "\U0001f600"]
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 10))) for _ in range(n)]


@pytest.fixture(scope="module")
def random_cases() -> tuple[list[tuple[str, bool]], list[str], list[str]]:
    import re2

    pats, texts = _random_patterns(400), _random_texts(60)
    want = []
    for p, cs in pats:
        rx = re2.compile(p if cs else "(?i)" + p)
        want.append("".join("1" if rx.search(t) else "0" for t in texts))
    return pats, texts, want


def _compare_random(target: str, pats, texts, want, got: list[str], capsys) -> None:
    assert len(got) == len(pats)
    bad = [(p, cs, w, g) for (p, cs), w, g in zip(pats, want, got, strict=True) if w != g]
    assert not bad, f"{target}: {len(bad)} patterns differ from RE2, first: {bad[:3]}"
    with capsys.disabled():
        print(
            f"\nrandom regexes {target}: {len(pats)} patterns x {len(texts)} texts agree with RE2"
        )


def test_random_patterns_under_node_match_re2(random_cases, capsys, tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed (.ci/run installs nodejs)")
    from triage.rules.regex_subset import translate

    pats, texts, want = random_cases
    (tmp_path / "rx.js").write_text(RX_JS, encoding="utf-8")
    payload = {"patterns": [translate(p, cs, "js") for p, cs in pats], "texts": texts}
    res = subprocess.run(
        ["node", str(tmp_path / "rx.js")], input=json.dumps(payload), capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    _compare_random("node", pats, texts, want, res.stdout.splitlines(), capsys)


def test_random_patterns_under_rust_regex_match_re2(rust_crate, random_cases, capsys):
    from triage.rules.regex_subset import translate

    d, env = rust_crate
    pats, texts, want = random_cases
    lines = [str(len(pats))]
    lines += [translate(p, cs, "rust").encode().hex() for p, cs in pats]
    lines += [t.encode().hex() for t in texts]
    stdin = "\n".join(lines) + "\n"
    res = subprocess.run(
        [str(d / "target" / "release" / "rx")], input=stdin, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    _compare_random("rust", pats, texts, want, res.stdout.splitlines(), capsys)
