"""The typed fast path and the lenient path give the same rows, column for column.

Every input is ingested twice into fresh databases, once with the typed path allowed
(``Ingester.typed``, the default) and once without, and every table the ingest writes is compared:
all columns of ``events`` (tags, exception chain, group key, template...), ``ingest_log`` (the
per-file accounting) and ``rejects``. A spy records which files the typed path stored, so a test
of the fast path cannot pass by falling back everywhere.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import triage
from triage.ingest import ingester, typed

REPO = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared") if Path("/work/shared").exists() else REPO.parent / "shared"
sys.path.insert(0, str(REPO / "benchmarks"))

import generate  # noqa: E402  (benchmarks/ is not a package)


def _tables(db) -> dict[str, list]:
    con = db.con
    return {
        "events": con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM events ORDER BY source_file, source_line, event_id"
        ).fetchall(),
        "ingest_log": con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM ingest_log ORDER BY source_file"
        ).fetchall(),
        "rejects": con.execute(
            "SELECT * EXCLUDE (rejected_at) FROM rejects ORDER BY source_file, source_line, reason"
        ).fetchall(),
    }


@pytest.fixture
def typed_spy(monkeypatch) -> list[str]:
    """The labels of the files the typed path staged."""
    if not typed.in_step():
        pytest.skip(
            "the typed path is off: normalize_raw.sql's first half changed; bring "
            "normalize_typed.sql level with it and update triage.ingest.typed.MIRRORS"
        )
    seen: list[str] = []
    real = ingester.Ingester._typed_path

    def spy(self, path, shape, label):
        ok = real(self, path, shape, label)
        if ok:
            seen.append(label)
        return ok

    monkeypatch.setattr(ingester.Ingester, "_typed_path", spy)
    return seen


def _both(tmp_path: Path, monkeypatch, files: list[Path], *, stdin: bytes | None = None):
    """Ingest ``files`` one at a time (each through ingest_file: folders would batch them), or
    ``stdin``, with the typed path and without; return both table sets and the results."""
    out = {}
    for mode in (True, False):
        monkeypatch.setattr(ingester.Ingester, "typed", mode)
        dbp = tmp_path / f"{'typed' if mode else 'lenient'}.duckdb"
        with triage.open(dbp) as db:
            results = []
            if stdin is not None:
                monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
                results.append(db.ingest(["-"]))
            for f in files:
                results.append(db.ingest([str(f)]))
            out[mode] = (_tables(db), [fr for r in results for fr in r.files])
    return out[True], out[False]


def _assert_same(typed, lenient) -> int:
    (a, files_a), (b, files_b) = typed, lenient
    for table in a:
        assert a[table] == b[table], table
    assert [(f.records, f.added, f.duplicates, f.rejects, f.skipped) for f in files_a] == [
        (f.records, f.added, f.duplicates, f.rejects, f.skipped) for f in files_b
    ]
    assert all(f.accounted for f in files_a)
    return len(a["events"])


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    """The benchmark generator's raw SDK events, plain, gzip and zstd."""
    d = tmp_path_factory.mktemp("gen")
    plain = d / "events.ndjson"
    generate.write_events(plain, 1500, seed=7)
    data = plain.read_bytes()
    (d / "events.ndjson.gz").write_bytes(gzip.compress(data, 1))
    (d / "events.ndjson.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    return {"plain": plain, "gzip": d / "events.ndjson.gz", "zstd": d / "events.ndjson.zst"}


@pytest.mark.parametrize("comp", ["plain", "gzip", "zstd"])
def test_generated_events_typed_and_lenient_agree(
    tmp_path, monkeypatch, typed_spy, generated, comp
):
    n = _assert_same(*_both(tmp_path, monkeypatch, [generated[comp]]))
    assert n == 1500
    assert typed_spy == [str(generated[comp])]  # the fast path did the work
    print(f"generated {comp}: {n} events agree")


def test_stdin_typed_and_lenient_agree(tmp_path, monkeypatch, typed_spy, generated):
    data = generated["plain"].read_bytes()
    n = _assert_same(*_both(tmp_path, monkeypatch, [], stdin=data))
    assert n == 1500 and typed_spy == ["<stdin>"]


def test_every_shape_typed_and_lenient_agree(tmp_path, monkeypatch, typed_spy):
    """Raw (object, array, NDJSON), the JSON link and the web API, as one file each."""
    raw = {
        "event_id": "a" * 32,
        "timestamp": "2026-11-28T06:00:00Z",
        "level": "warning",
        "platform": "javascript",
        "logentry": {"message": "This is a warning: %s", "params": ["x"]},
        "tags": {"method": "m", "http.status_code": 401},
        "user": {"email": "who@example.com"},
        "fingerprint": ["{{ default }}", 7],
        "release": {"version": "1.0"},
    }
    link = {
        "id": "b" * 32,
        "datetime": "2026-11-28T06:00:01Z",
        "title": "KeyError: 'alice'",
        "culprit": "app.views in get",
        "tags": [["level", "error"], ["method", "m2"]],
        "exception": {"values": [{"type": "KeyError", "value": "'alice'"}]},
        "metadata": {"type": "KeyError"},
    }
    api = {
        "eventID": "c" * 32,
        "id": "123",
        "groupID": "313",
        "dateCreated": "2026-11-28T06:00:02Z",
        "title": "composio unavailable",
        "tags": [{"key": "level", "value": "error"}, {"key": "method", "value": 5}],
        "entries": [{"type": "message", "data": {"formatted": "composio unavailable"}}],
        "user": {"id": 42},
    }
    files = []
    for name, text in [
        ("raw.json", json.dumps(raw, indent=2)),
        ("raw-array.json", json.dumps([raw, dict(raw, event_id="d" * 32)])),
        ("raw.ndjson", json.dumps(raw) + "\n" + json.dumps(dict(raw, event_id="e" * 32)) + "\n"),
        ("link.json", json.dumps(link, indent=1)),
        ("api.json", json.dumps([api])),
    ]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        files.append(tmp_path / name)
    n = _assert_same(*_both(tmp_path, monkeypatch, files))
    assert n == 5  # "a" * 32 is in three files: stored once, a duplicate twice
    assert len(typed_spy) == len(files)


def _files_of(where: Path, every: int = 1) -> list[Path]:
    files = sorted(
        f
        for f in where.rglob("*")
        if f.is_file() and f.suffix not in (".py", ".md") and ".duckdb" not in f.name
    )
    return files[::every]


@pytest.mark.parametrize(
    "where",
    [REPO / "fixtures", SHARED / "samples", SHARED / "corpus" / "real-payloads"],
    ids=["fixtures", "samples", "real-payloads"],
)
def test_real_exports_typed_and_lenient_agree(tmp_path, monkeypatch, typed_spy, where):
    if not where.exists():
        pytest.skip(f"{where} is absent")
    files = _files_of(where)
    n = _assert_same(*_both(tmp_path, monkeypatch, files))
    print(f"{where.name}: {len(files)} files, {n} events agree; typed path took {len(typed_spy)}")
    assert typed_spy  # the fast path took some of them


# Odd values the typed columns must read as the lenient path does, or refuse (then the lenient
# path reads the file): numbers as strings, nested nulls, objects where text is expected...
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["1780000000", "2026-11-28T06:00:00Z", "40", "error", "{{auto}}", ""]),
)
_value = st.one_of(
    _scalar,
    st.lists(_scalar, max_size=3),
    st.dictionaries(st.text(max_size=4), _scalar, max_size=3),
)
_tags = st.one_of(
    st.dictionaries(st.sampled_from(["level", "release", "method", "a", ""]), _scalar, max_size=4),
    st.lists(st.tuples(st.text(max_size=5), _scalar).map(list), max_size=3),
    _scalar,
)


@st.composite
def _event(draw, i: int = 0):
    ev = {
        "event_id": draw(
            st.one_of(st.just(f"{i:032x}"), st.just(f"{i:08x}-0000-0000-0000-{i:012x}"))
        )
    }
    for key in (
        "timestamp",
        "level",
        "platform",
        "logger",
        "transaction",
        "culprit",
        "release",
        "environment",
        "project",
        "message",
        "user",
        "fingerprint",
    ):
        if draw(st.booleans()):
            ev[key] = draw(_value)
    if draw(st.booleans()):
        ev["tags"] = draw(_tags)
    if draw(st.booleans()):
        ev["exception"] = {"values": [{"type": draw(_scalar), "value": draw(_scalar)}]}
    if draw(st.booleans()):
        ev["logentry"] = {"message": draw(_scalar), "params": draw(st.lists(_scalar, max_size=2))}
    return ev


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=4, unique=True).flatmap(
        lambda ids: st.tuples(*[_event(i) for i in ids])
    )
)
@example(events=({"event_id": "0" * 32, "project": 1e16, "fingerprint": [2.5e-5]},))
def test_odd_types_typed_and_lenient_agree(tmp_path_factory, monkeypatch, events):
    tmp = tmp_path_factory.mktemp("odd")
    f = tmp / "odd.ndjson"
    f.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    _assert_same(*_both(tmp, monkeypatch, [f]))
    shutil.rmtree(tmp, ignore_errors=True)


def test_cli_ingest_from_stdin_uses_the_typed_path(tmp_path, generated):
    """End to end through the CLI: stdin (spooled), the typed path, every event stored."""
    dbp = tmp_path / "cli.duckdb"
    data = generated["zstd"].read_bytes()
    res = subprocess.run(
        [str(Path(sys.executable).with_name("triage")), "ingest", "--db", str(dbp), "-q", "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr.decode()
    with triage.open(dbp, read_only=True) as db:
        assert db.con.execute("SELECT count(*) FROM events").fetchone()[0] == 1500
