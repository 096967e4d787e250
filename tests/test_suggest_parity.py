"""Proposed rules in every target: the tables `triage suggest` writes (the demo before PR #1504,
and a planted-truth export) are exported to TypeScript and Rust and must give the SQL
classifier's rule for every message of the parity corpus (tests/parity_corpus.py), and pass their
own generated example tests under node and cargo, as tests/test_export_parity.py does for the
shipped tables (same runners, same skips when node or cargo is missing)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from parity_corpus import corpus, sql_classify, variants
from rust_crate import cargo, offline_crate
from test_export_parity import (
    RUST_MAIN,
    TS_EXAMPLES_TEST,
    TS_RUNNER,
    TSC,
    _encode,
)

import triage
from triage import scenarios
from triage.rules import load, parse
from triage.targets import export
from triage.targets.python import compile_table


@pytest.fixture(scope="module")
def suggested(tmp_path_factory) -> list[str]:
    """Paths of the suggested tables: the demo from openhuman-v0.53.20, planted seed 0."""
    d = tmp_path_factory.mktemp("suggested")
    out = []
    with triage.open(":memory:") as db:
        db.ingest(triage.demo_paths())
        res = db.suggest("openhuman-v0.53.20")
        assert len(res.candidates) >= 3
        (d / "demo.toml").write_text(res.table_text(), encoding="utf-8")
        out.append(str(d / "demo.toml"))
    sc = scenarios.planted(0)
    path = d / "planted.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in sc.events), encoding="utf-8")
    with triage.open(":memory:") as db:
        db.ingest([path], keep_raw=True)
        res = db.suggest(parse('name = "empty"\n', name="empty"))
        assert len(res.candidates) >= 10
        (d / "planted.toml").write_text(res.table_text(), encoding="utf-8")
        out.append(str(d / "planted.toml"))
    return out


@pytest.fixture(scope="module")
def rows(suggested) -> list[dict[str, str]]:
    out = corpus(suggested)
    seen = {json.dumps(r, sort_keys=True) for r in out}
    texts = {
        v["value"] if "value" in v else "" for e in scenarios.planted(0).events
        for v in e.get("exception", {}).get("values", [])
    } | {e["message"] for e in scenarios.planted(0).events if "message" in e}  # fmt: skip
    for text in sorted(texts):
        for var in variants(text):
            for row in ({"message": var}, {"exception.value": var}):
                key = json.dumps(row, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    out.append(row)
    return out


@pytest.fixture(scope="module")
def reference(suggested, rows) -> dict[str, list[str | None]]:
    return {spec: sql_classify(load(spec), rows) for spec in suggested}


def _same(target: str, suggested, rows, reference, got) -> None:
    bad = []
    for spec in suggested:
        for row, want, have in zip(rows, reference[spec], got[spec], strict=True):
            if want != have:
                bad.append(f"{Path(spec).stem}: {row!r}: SQL {want} vs {target} {have}")
    assert not bad, f"{len(bad)} disagreements, first: " + "\n".join(bad[:10])
    matched = sum(1 for spec in suggested for r in reference[spec] if r)
    print(f"\nsuggest parity {target}: {len(rows)} rows x {len(suggested)} tables, {matched} "
          "matched a rule, 0 disagreements")  # fmt: skip


def _split(out: str, rows, suggested) -> dict[str, list[str | None]]:
    lines = out.splitlines()
    assert len(lines) == len(rows) * len(suggested)
    return {
        spec: [None if x == "-" else x for x in lines[t * len(rows) : (t + 1) * len(rows)]]
        for t, spec in enumerate(suggested)
    }


def test_suggested_rules_are_hit_by_the_corpus(suggested, rows, reference):
    for spec in suggested:
        added = [r.id for r in load(spec).rules if r.description.startswith("Suggested from")]
        assert added
        assert set(added) <= set(reference[spec])  # every proposed rule wins some row


def test_hook_agrees_with_sql(suggested, rows, reference):
    got = {}
    for spec in suggested:
        m = compile_table(load(spec))
        got[spec] = [(r.id if (r := m.match_fields(row)) else None) for row in rows]
    _same("python-hook", suggested, rows, reference, got)


@pytest.fixture(scope="module")
def ts_build(suggested, tmp_path_factory) -> Path:
    import shutil

    if shutil.which("node") is None:
        pytest.skip("node is not installed (.ci/run installs nodejs)")
    if not TSC.exists():
        pytest.skip("the typescript package is not installed: run `npm ci` (as .ci/run does)")
    d = tmp_path_factory.mktemp("ts")
    sources = []
    for i, spec in enumerate(suggested):
        export(spec, to="typescript", output=d / f"rules{i}.ts")
        sources.append(str(d / f"rules{i}.ts"))
    subprocess.run(
        ["node", str(TSC), "--strict", "--target", "es2020", "--module", "commonjs",
         "--outDir", str(d / "out"), *sources],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    mods = ", ".join(json.dumps(f"./rules{i}.js") for i in range(len(suggested)))
    (d / "out" / "run.js").write_text(TS_RUNNER % mods, encoding="utf-8")
    (d / "out" / "examples.test.js").write_text(TS_EXAMPLES_TEST % mods, encoding="utf-8")
    return d / "out"


def test_typescript_examples_and_parity(ts_build, suggested, rows, reference):
    res = subprocess.run(
        ["node", "--test", str(ts_build / "examples.test.js")],
        capture_output=True, text=True, cwd=ts_build,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"# pass {len(suggested)}" in res.stdout
    stdin = "\n".join(line for t in range(len(suggested)) for line in _encode(rows, t)) + "\n"
    res = subprocess.run(
        ["node", str(ts_build / "run.js")], input=stdin, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    _same("typescript", suggested, rows, reference, _split(res.stdout, rows, suggested))


def test_rust_examples_and_parity(suggested, rows, reference, tmp_path):
    env = offline_crate(tmp_path)
    src = tmp_path / "src"
    for i, spec in enumerate(suggested):
        export(spec, to="rust", output=src / f"rules{i}.rs")
    (src / "lib.rs").write_text(
        "".join(f"pub mod rules{i};\n" for i in range(len(suggested))), encoding="utf-8"
    )
    arms = "\n".join(
        f"            {i} => triage_parity::rules{i}::match_fields(&fields).map(|m| m.rule),"
        for i in range(len(suggested))
    )
    (src / "main.rs").write_text(RUST_MAIN % arms, encoding="utf-8")
    res = cargo(tmp_path, env, "test", "--release", "--lib")
    assert res.returncode == 0, res.stdout + res.stderr
    n = sum(1 for spec in suggested for r in load(spec).rules if r.match_examples)
    assert f"{n} passed" in res.stdout
    res = cargo(tmp_path, env, "build", "--release", "--quiet")
    assert res.returncode == 0, res.stderr
    stdin = "\n".join(line for t in range(len(suggested)) for line in _encode(rows, t)) + "\n"
    res = subprocess.run(
        [str(tmp_path / "target" / "release" / "triage_parity")],
        input=stdin, capture_output=True, text=True, check=True,
    )  # fmt: skip
    _same("rust", suggested, rows, reference, _split(res.stdout, rows, suggested))
