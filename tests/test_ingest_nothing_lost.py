"""Nothing lost: every record is ingested, a duplicate, rejected or skipped; a killed ingest leaves
whole files only; a second process gets a clear message."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import triage

MAX_RECORD = 4096  # small, so that "huge" records are cheap to generate

# -- hypothesis: malformed inputs of every kind ---------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
any_json = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [
    "timestamp",
    "level",
    "platform",
    "logger",
    "message",
    "logentry",
    "exception",
    "transaction",
    "user",
    "release",
    "environment",
    "tags",
    "fingerprint",
    "entries",
    "groupID",
    "datetime",
]


@st.composite
def event(draw):
    """An event object with wrong types in any field, sometimes a huge string."""
    ev = {"event_id": f"{draw(st.integers(0, 30)):032x}"}  # a small pool: duplicates happen
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True)):
        ev[name] = draw(any_json)
    if draw(st.integers(0, 9)) == 0:
        ev["message"] = "x" * draw(st.integers(MAX_RECORD // 2, MAX_RECORD * 2))
    return ev


# One record: (kind, bytes of one NDJSON line or None for blank).
record = st.one_of(
    event().map(lambda e: ("event", json.dumps(e).encode())),
    any_json.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: ("nonobj", json.dumps(v).encode())
    ),
    st.binary(min_size=1, max_size=40)
    .filter(lambda b: b"\n" not in b and b.strip() and not _parses(b))
    .map(lambda b: ("broken", b)),
    event().map(lambda e: ("badutf8", json.dumps(e).encode()[:-1] + b',"k":"\xff\xfe"}')),
)


def _parses(b: bytes) -> bool:
    try:
        json.loads(b)
        return True
    except ValueError:
        return False


@st.composite
def export_file(draw):
    records = draw(st.lists(record, max_size=12))
    layout = draw(st.sampled_from(["ndjson", "array", "gzip", "truncated-gzip", "empty"]))
    return layout, records


def _write(path: Path, layout: str, records) -> tuple[Path, int | None]:
    """Write the file; return it and the number of records it holds (None: cut short)."""
    lines = [b for _, b in records]
    if layout == "empty":
        path.write_bytes(b"")
        return path, 0
    if layout == "array":
        good = [json.loads(b) for k, b in records if k in ("event", "nonobj")]
        path.write_text(json.dumps(good))
        return path, len(good)
    body = b"\n".join(lines) + b"\n" if lines else b""
    # One line that is a JSON array is read as an array file (of its items): not counted here.
    count = None if len(lines) == 1 and lines[0].lstrip().startswith(b"[") else len(lines)
    if lines and not lines[0].lstrip().startswith((b"{", b"[")) and b"," in lines[0]:
        count = None  # may well be a CSV header: its rows are counted, not its lines
    if lines and lines[0].strip() == b"{":
        count = None  # a lone "{" opens a pretty-printed object: one (broken) record, one reject
    if layout == "ndjson":
        path.write_bytes(body)
        return path, count
    blob = gzip.compress(body)
    if layout == "gzip":
        path.write_bytes(blob)
        return path, count
    path.write_bytes(blob[: max(len(blob) * 2 // 3, 11)])
    return path, None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=st.lists(export_file(), min_size=1, max_size=3))
@example(files=[("ndjson", [("broken", b"{"), ("broken", b"\x00")])])  # read as one broken object
def test_every_record_is_ingested_or_rejected(files, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TRIAGE_MAX_RECORD_BYTES", str(MAX_RECORD))
    folder = tmp_path_factory.mktemp("acct")
    written = [_write(folder / f"{i}.data", layout, recs) for i, (layout, recs) in enumerate(files)]
    with triage.open(":memory:") as db:
        res = db.ingest([p for p, _ in written])
        for fr, (path, expected) in zip(res.files, written, strict=True):
            if fr.already_ingested:
                continue  # same bytes as an earlier file of the batch: a no-op, said so
            assert fr.records == fr.added + fr.duplicates + fr.rejects + fr.skipped, fr
            if expected is not None:
                assert fr.records == expected, (fr, path.read_bytes()[:300])
            for err in fr.errors:
                assert err.startswith(f"{path}:")
        stored = db.sql("SELECT count(*) AS n FROM events")["n"][0]
        assert stored == res.added
        assert db.sql("SELECT count(*) AS n FROM rejects")["n"][0] == res.rejects
        log = db.ingest_log()
        assert int(log["added"].sum()) == res.added
        for fr in res.files:
            if not fr.already_ingested:
                n = db.sql("SELECT count(*) AS n FROM events WHERE source_file = ?", [fr.path])[
                    "n"
                ][0]
                assert n == fr.added


def test_huge_and_invalid_records_are_rejected_with_file_line_and_text(db, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_MAX_RECORD_BYTES", str(MAX_RECORD))
    f = tmp_path / "mixed.ndjson"
    f.write_bytes(
        b'{"event_id": "'
        + b"a" * 32
        + b'", "message": "ok"}\n'
        + b'{"event_id": "b", "message": "'
        + b"x" * MAX_RECORD
        + b'"}\n'
        + b'{"event_id": "c", "message": "caf\xe9"}\n'
        + b"[1, 2]\n"
        + b'{"event_id": "d", "message": \n'
    )
    res = db.ingest([f]).files[0]
    assert (res.records, res.added, res.rejects) == (5, 1, 4)
    rej = db.rejects().sort_values("source_line").to_dict("records")
    assert [r["source_line"] for r in rej] == [2, 3, 4, 5]
    assert "larger than" in rej[0]["reason"] and "invalid UTF-8" in rej[1]["reason"]
    assert "not an event object" in rej[2]["reason"] and rej[2]["raw_text"] == "[1, 2]"
    assert "malformed JSON" in rej[3]["reason"]
    assert all(r["source_file"] == str(f) for r in rej)


def test_rerunning_the_same_files_is_a_no_op_that_says_so(db, tmp_path):
    f = tmp_path / "a.ndjson"
    f.write_text(json.dumps({"event_id": "a" * 32, "message": "m"}) + "\n")
    first = db.ingest([f]).files[0]
    again = db.ingest([f]).files[0]
    assert first.added == 1 and again.already_ingested and again.added == 0
    assert len(db.ingest_log()) == 1
    log = db.ingest_log().to_dict("records")[0]
    assert log["size_bytes"] == f.stat().st_size and len(log["content_hash"]) == 64
    assert log["shape"] == "raw (ndjson)" and (log["added"], log["records"]) == (1, 1)


# -- a killed ingest ---------------------------------------------------------------------

N_FILES, PER_FILE = 6, 25_000


def _write_batch(folder: Path) -> list[Path]:
    folder.mkdir()
    files = []
    for i in range(N_FILES):
        f = folder / f"part-{i}.ndjson"
        with open(f, "w") as fh:
            for j in range(PER_FILE):
                ev = {
                    "event_id": f"{i:08x}{j:024x}",
                    "timestamp": 1_700_000_000 + j,
                    "message": f"request {j} failed: timeout after {j % 90} s",
                    "tags": {"part": str(i), "n": str(j % 7)},
                    "user": {"id": str(j % 13)},
                }
                fh.write(json.dumps(ev) + "\n")
        files.append(f)
    return files


def _triage() -> str:
    return str(Path(sys.executable).with_name("triage"))


def test_a_killed_ingest_leaves_whole_files_and_reruns_to_completion(tmp_path):
    files = _write_batch(tmp_path / "exports")
    dbp = tmp_path / "t.duckdb"
    proc = subprocess.Popen(
        [_triage(), "ingest", "--db", str(dbp), str(tmp_path / "exports")],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    done = 0
    deadline = time.monotonic() + 300
    while done < 2 and time.monotonic() < deadline:  # two files committed, the third under way
        line = proc.stderr.readline()
        if not line:
            break
        done += b" records, " in line
    # Meanwhile a second process gets a clear message, not a stack trace.
    other = subprocess.run(
        [_triage(), "ingest", "--db", str(dbp), str(files[0])], capture_output=True, text=True
    )
    assert other.returncode == 2
    assert "locked" in other.stderr and "Traceback" not in other.stderr
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with triage.open(dbp) as db:
        log = db.ingest_log()
        assert 2 <= len(log) < N_FILES, "kill the ingest while it is still running"
        per_file = db.sql("SELECT source_file, count(*) AS n FROM events GROUP BY 1")
        got = dict(zip(per_file["source_file"], per_file["n"], strict=True))
        assert set(got) == set(log["source_file"])  # no events from a file not logged
        assert all(n == PER_FILE for n in got.values())  # and every logged file whole
        assert (log["added"] == PER_FILE).all()

    rerun = subprocess.run(
        [_triage(), "ingest", "--db", str(dbp), str(tmp_path / "exports")],
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count("): already ingested") == len(log)
    with triage.open(dbp) as db:
        assert db.sql("SELECT count(*) AS n FROM events")["n"][0] == N_FILES * PER_FILE
        assert len(db.ingest_log()) == N_FILES


@pytest.mark.parametrize(("limit", "shown"), [(None, "488.2 MiB"), ("64MiB", "64.0 MiB")])
def test_memory_limit_comes_from_the_environment(tmp_path, monkeypatch, limit, shown):
    if limit:
        monkeypatch.setenv("TRIAGE_MEMORY_LIMIT", limit)
    else:
        monkeypatch.delenv("TRIAGE_MEMORY_LIMIT", raising=False)
    with triage.open(tmp_path / "m.duckdb") as db:
        assert db.sql("SELECT current_setting('memory_limit') AS v")["v"][0] == shown


def test_a_bad_memory_limit_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_MEMORY_LIMIT", "lots'")
    from triage.store import StoreError

    with pytest.raises(StoreError, match="TRIAGE_MEMORY_LIMIT"):
        triage.open(tmp_path / "m.duckdb")


# -- hypothesis: folders of mixed hostile files ---------------------------------------------------

_uid = iter(range(1, 1 << 30))


def _good(n: int) -> dict:
    return {"event_id": f"{0xABC:03x}{n:029x}", "message": f"good {n}", "level": "error"}


@st.composite
def hostile_file(draw):
    """(container, [(good?, variant)], cut short?) for one file of a folder."""
    kind = draw(st.sampled_from(["array", "envelope", "csv", "ndjson", "bomb", "fifo", "dangling"]))
    bad = {
        # (No scalars: reading resumes at the next object, so a scalar right after a malformed
        # element is part of that one reject; the property above covers scalars.)
        "array": ["utf8", "malformed", "deep"],
        "envelope": ["length", "payload", "header"],
        "csv": ["quote", "fields"],
        "ndjson": ["utf8", "malformed", "deep"],
    }.get(kind, ["-"])
    recs = draw(
        st.lists(
            st.one_of(st.just(("good", "")), st.sampled_from(bad).map(lambda b: ("bad", b))),
            max_size=8,
        )
    )
    return kind, recs, kind == "array" and draw(st.booleans())


def _write_hostile(path: Path, kind: str, recs, cut: bool) -> tuple[int | None, set[str]]:
    """Write one file; return (records it holds or None when not a file read, good event ids)."""
    good_ids: set[str] = set()

    def good() -> dict:
        ev = _good(next(_uid))
        good_ids.add(ev["event_id"])
        return ev

    if kind == "fifo":
        os.mkfifo(path)
        return None, good_ids
    if kind == "dangling":
        path.symlink_to(path.with_name("nowhere"))
        return None, good_ids
    if kind == "bomb":
        import zstandard

        # text, so the inflate bound refuses it (zeros would be skipped as binary first)
        path.write_bytes(zstandard.ZstdCompressor().compress(b"x" * (1 << 20)))
        return 1, good_ids
    if kind == "csv":
        lines = ["id,title,level"]
        for ok, variant in recs:
            if ok == "good":
                ev = good()
                lines.append(f"{ev['event_id']},{ev['message']},error")
            elif variant == "quote":
                lines.append(f'{next(_uid):032x},"never closed,error')
            else:
                lines.append(f"{next(_uid):032x},a,b,c,d")
        if len(lines) == 1:
            lines.append(f"{good()['event_id']},only,error")
            recs = [("good", "")]
        path.write_text("\n".join(lines) + "\n")
        return len(recs), good_ids
    parts: list[bytes] = []
    for ok, variant in recs:
        if ok == "good":
            ev = good()
            if kind == "envelope":
                body = json.dumps(ev).encode()
                head = json.dumps({"event_id": ev["event_id"]}).encode()
                item = json.dumps({"type": "event", "length": len(body)}).encode()
                parts.append(head + b"\n" + item + b"\n" + body + b"\n")
            else:
                parts.append(json.dumps(ev).encode())
            continue
        eid = f"{next(_uid):032x}"
        if variant == "utf8":
            parts.append(b'{"event_id": "' + eid.encode() + b'", "message": "\xff\xfe"}')
        elif variant == "malformed":
            parts.append(b'{"event_id": "' + eid.encode() + b'" "message": [1, 2}')
        elif variant == "deep":
            parts.append(
                b'{"event_id": "' + eid.encode() + b'", "x": ' + b"[" * 400 + b"]" * 400 + b"}"
            )
        elif variant == "scalar":
            parts.append(b"42")
        elif variant == "length":
            parts.append(
                b'{"event_id": "' + eid.encode() + b'"}\n{"type": "event", "length": 99999}\n{}\n'
            )
        elif variant == "payload":
            parts.append(b'{"event_id": "' + eid.encode() + b'"}\n{"type": "event"}\n{"not json\n')
        elif not parts:  # a broken first header: the file is not told from NDJSON; not here
            parts.append(b'{"event_id": "' + eid.encode() + b'"}\n{"type": "event"}\n{"not json\n')
        else:  # header
            parts.append(b'{"event_id": \n{"type": "event"}\n{}\n')
    if kind == "array":
        body = b"[" + b",\n".join(parts) + b"]"
        if cut and parts:
            body = body[: len(body) - len(parts[-1]) // 2 - 1]
            if recs[-1][0] == "good":
                good_ids.discard(json.loads(parts[-1])["event_id"])
        path.write_bytes(body)
        return len(parts), good_ids
    if kind == "envelope":
        path.write_bytes(b"\n".join(parts))
        return (len(parts) if parts else 0), good_ids
    path.write_bytes(b"\n".join(parts) + (b"\n" if parts else b""))
    return len(parts), good_ids


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=st.lists(hostile_file(), min_size=1, max_size=5))
def test_mixed_hostile_folders_lose_no_good_record(files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    expected: dict[str, int | None] = {}
    good_ids: set[str] = set()
    for i, (kind, recs, cut) in enumerate(files):
        path = folder / f"{i:02d}-{kind}.data"
        n, ids = _write_hostile(path, kind, recs, cut)
        expected[str(path)] = n
        good_ids |= ids
    with triage.open(":memory:") as db:
        res = db.ingest(
            [folder],
            input_format=None,
            max_inflated_bytes=1 << 19,
        )
        assert len(res.files) == len(files)
        for fr in res.files:
            assert fr.accounted, fr
            want = expected[fr.path]
            if want is None:
                assert fr.shape == "skipped" and fr.records == 0, fr
            elif not fr.already_ingested:
                assert fr.records == want, (fr, Path(fr.path).read_bytes()[:400])
        stored = set(db.sql("SELECT event_id FROM events")["event_id"])
        assert good_ids <= stored, good_ids - stored
        assert db.sql("SELECT count(*) AS n FROM rejects")["n"][0] == res.rejects
