"""Two real processes on one database file: DuckDB's one-writer-or-many-readers lock.

A writer that finds the file held waits up to --wait seconds, then fails naming the process that
holds it; a notebook-style reader opens read-only between a job's writes and never sees half a file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from events_factory import raw_event, write_ndjson

import triage
from triage.cli import main
from triage.store import StoreError

REPO = Path(__file__).resolve().parent.parent


def _spawn(code: str, *args: str) -> subprocess.Popen:
    """A Python child process running ``code``; it prints ``ready`` once it holds the file."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


HOLD = """
    import sys, time, triage
    db = triage.open(sys.argv[1], read_only=sys.argv[2] == "ro")
    print("ready", flush=True)
    time.sleep(float(sys.argv[3]))
    db.close()
"""


def _hold(path: Path, mode: str, seconds: float) -> subprocess.Popen:
    proc = _spawn(HOLD, str(path), mode, str(seconds))
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


@pytest.fixture
def dbfile(tmp_path) -> Path:
    path = tmp_path / "jobs.duckdb"
    with triage.open(path) as s:
        s.ingest([write_ndjson(tmp_path / "a.ndjson", [raw_event("a", i) for i in range(3)])])
    return path


def test_writer_fails_at_once_naming_the_holding_process(dbfile):
    holder = _hold(dbfile, "rw", 30)
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreError) as err:
            triage.open(dbfile)
        assert time.monotonic() - t0 < 5
        msg = str(err.value)
        assert f"locked by process {holder.pid} (python" in msg
        assert "--wait SECONDS" in msg and str(dbfile) in msg
    finally:
        holder.kill()
        holder.wait()


def test_writer_waits_then_fails_with_the_wait_in_the_message(dbfile, tmp_path):
    holder = _hold(dbfile, "ro", 30)  # a reader holds it: a writer must wait too
    try:
        f = write_ndjson(tmp_path / "b.ndjson", [raw_event("b", 0)])
        t0 = time.monotonic()
        result = CliRunner().invoke(main, ["ingest", str(f), "--db", str(dbfile), "--wait", "1"])
        elapsed = time.monotonic() - t0
        assert result.exit_code == 2, result.output
        assert 1.0 <= elapsed < 10
        assert f"process {holder.pid}" in result.stderr
        assert "(waited 1" in result.stderr
        assert "Traceback" not in result.output
    finally:
        holder.kill()
        holder.wait()


def test_writer_waits_for_the_lock_and_then_writes(dbfile, tmp_path):
    holder = _hold(dbfile, "rw", 1.5)
    f = write_ndjson(tmp_path / "c.ndjson", [raw_event("c", i) for i in range(4)])
    result = CliRunner().invoke(main, ["ingest", str(f), "--db", str(dbfile), "--wait", "30"])
    holder.wait()
    assert result.exit_code == 0, result.output
    with triage.open(dbfile, read_only=True) as s:
        assert s.sql("SELECT count(*) AS n FROM events").n[0] == 7


def test_readers_share_the_file(dbfile):
    holder = _hold(dbfile, "ro", 30)
    try:
        with triage.open(dbfile, read_only=True) as s:  # a second reader is fine
            assert s.sql("SELECT count(*) AS n FROM events").n[0] == 3
    finally:
        holder.kill()
        holder.wait()


WRITER = """
    import json, sys, time, triage
    from pathlib import Path
    folder, db, batches, per = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for b in range(batches):
        f = folder / f"batch{b}.ndjson"
        f.write_text("".join(json.dumps({"event_id": f"{b:016x}{i:016x}", "level": "error",
                     "message": f"batch {b}", "timestamp": 1.7e9 + b * 60 + i}) + "\\n"
                     for i in range(per)))
        with triage.open(db, wait=60) as s:   # hold the lock only while writing
            s.ingest([f])
        time.sleep(0.5)
    (folder / "done").touch()
    print("writer done", flush=True)
"""

READER = """
    import json, sys, time, triage
    from pathlib import Path
    db, done, end = sys.argv[1], Path(sys.argv[2]), time.monotonic() + 120
    seen = []
    while time.monotonic() < end:
        finished = done.exists()
        with triage.open(db, read_only=True, wait=60) as s:
            seen.append(int(s.sql("SELECT count(*) AS n FROM events").n[0]))
        if finished:
            break  # this read began after the writer's last write
        time.sleep(0.05)
    print(json.dumps(seen), flush=True)
"""


def test_a_job_writes_while_a_notebook_reads(tmp_path):
    """The two run at the same time; each waits for the other's short hold of the lock."""
    db = tmp_path / "shared.duckdb"
    with triage.open(db) as s:
        s.sql("SELECT 1")  # create and migrate the file first
    batches, per = 6, 50
    reader = _spawn(READER, str(db), str(tmp_path / "done"))
    writer = _spawn(WRITER, str(tmp_path), str(db), str(batches), str(per))
    w_out, w_err = writer.communicate(timeout=120)
    r_out, r_err = reader.communicate(timeout=120)
    assert writer.returncode == 0, w_err
    assert reader.returncode == 0, r_err
    assert "writer done" in w_out
    seen = json.loads(r_out)
    assert seen[-1] == batches * per
    assert all(n % per == 0 for n in seen), seen  # whole files only, never half of one
    assert seen == sorted(seen)  # a reader never sees the data go back
    assert len(set(seen)) >= 3, seen  # it read between the writer's batches
    with triage.open(db, read_only=True) as s:
        assert s.sql("SELECT count(*) AS n FROM events").n[0] == batches * per


def test_read_only_store_reports_without_writing(demo_db):
    path = demo_db.path
    demo_db.close()
    with triage.open(path, read_only=True) as s:
        rep = s.report("openhuman")
        assert rep.totals["downgraded_groups"] >= 1
        assert s.sql("SELECT count(*) AS n FROM classifications").n[0] > 0  # in memory
    with triage.open(path, read_only=True) as s:
        assert s.sql("SELECT count(*) AS n FROM classifications").n[0] == 0  # file untouched


def test_read_only_open_of_an_older_file_migrates_it_first(tmp_path):
    import duckdb

    from triage.store import sqlfiles as sqlfiles

    path = tmp_path / "old.duckdb"
    first, *later = sqlfiles.schema_files()
    con = duckdb.connect(str(path))
    con.execute(first[2])
    con.execute(
        "CREATE TABLE schema_version (version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)"
    )
    con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [first[0], first[1]])
    con.close()
    with triage.open(path, read_only=True) as s:
        names = set(s.sql("SELECT name FROM schema_version").name)
        assert names == {n for _, n, _ in [first, *later]}
        assert s.report("openhuman").totals["events"] == 0


def test_report_reads_beside_another_reader(dbfile):
    holder = _hold(dbfile, "ro", 30)
    try:
        r = CliRunner().invoke(main, ["report", "--db", str(dbfile), "--format", "json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["totals"]["events"] == 3
    finally:
        holder.kill()
        holder.wait()
