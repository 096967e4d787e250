"""Hostile input files: pipes and FIFOs, broken records inside containers, deep nesting,
decompression bombs, odd directory entries. Each keeps its good records, counts every record,
and never stops the files after it."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import zstandard

import triage


def _ev(i: int, **extra) -> dict:
    return {"event_id": f"{i:032x}", "message": f"event {i}", "level": "error", **extra}


def _triage() -> str:
    return str(Path(sys.executable).with_name("triage"))


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_triage(), *args], capture_output=True, text=True, timeout=300, check=False, **kw
    )


def _count(dbp: Path, sql: str = "SELECT count(*) FROM events") -> int:
    import duckdb

    con = duckdb.connect(str(dbp), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


# -- pipes, process substitution, stdin, FIFOs --------------------------------------------------


def test_process_substitution_is_read_once_and_counted(tmp_path):
    src = tmp_path / "f.ndjson"
    src.write_text("".join(json.dumps(_ev(i)) + "\n" for i in range(5)))
    dbp = tmp_path / "t.duckdb"
    res = subprocess.run(
        ["bash", "-c", f'"{_triage()}" ingest --db "{dbp}" <(cat "{src}")'],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "5 records, 5 events added" in res.stderr, res.stderr
    assert _count(dbp) == 5
    # Same content: the real file is now a no-op, and rightly so (its events are stored).
    again = _run(["ingest", "--db", str(dbp), str(src)])
    assert "already ingested" in again.stderr and _count(dbp) == 5


def test_stdin_pipe_is_read_once(tmp_path):
    body = "".join(json.dumps(_ev(i)) + "\n" for i in range(7))
    dbp = tmp_path / "t.duckdb"
    res = _run(["ingest", "--db", str(dbp), "-"], input=body)
    assert res.returncode == 0, res.stderr
    assert "<stdin>: raw (ndjson): 7 records, 7 events added" in res.stderr, res.stderr
    assert _count(dbp) == 7


def test_fifo_with_a_writer_is_read_as_a_stream(tmp_path):
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    body = "".join(json.dumps(_ev(i)) + "\n" for i in range(4)).encode()

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(body)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    with triage.open(":memory:") as db:
        fr = db.ingest([fifo]).files[0]
    t.join(5)
    assert (fr.records, fr.added, fr.rejects) == (4, 4, 0), fr


def test_fifo_without_a_writer_is_refused_after_a_timeout(tmp_path):
    fifo = tmp_path / "idle.fifo"
    os.mkfifo(fifo)
    good = tmp_path / "good.ndjson"
    good.write_text(json.dumps(_ev(1)) + "\n")
    dbp = tmp_path / "t.duckdb"
    started = time.monotonic()
    res = _run(
        ["ingest", "--db", str(dbp), str(fifo), str(good)],
        env={**os.environ, "TRIAGE_FIFO_TIMEOUT": "1"},
    )
    assert time.monotonic() - started < 60
    assert "no data" in res.stderr and "TRIAGE_FIFO_TIMEOUT" in res.stderr, res.stderr
    assert _count(dbp) == 1
    # Nothing was hashed empty: the FIFO is not "already ingested" next time.
    assert _count(dbp, "SELECT count(*) FROM ingest_log WHERE source_file LIKE '%fifo'") == 0


def test_odd_entries_in_a_folder_are_skipped_with_a_reason(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "good.ndjson").write_text(json.dumps(_ev(1)) + "\n")
    os.mkfifo(folder / "pipe")
    (folder / "dangling").symlink_to(folder / "nowhere")
    (folder / "loop").symlink_to(folder / "loop")
    sub = folder / "sub"
    sub.mkdir()
    (sub / "up").symlink_to(folder)  # a directory loop
    with triage.open(":memory:") as db:
        res = db.ingest([folder])
        by_name = {Path(f.path).name: f for f in res.files}
        assert by_name["good.ndjson"].added == 1
        for name, reason in (("pipe", "FIFO"), ("dangling", "dangling"), ("loop", "loop")):
            fr = by_name[name]
            assert fr.shape == "skipped" and reason in fr.notes[0], fr
            assert fr.accounted and fr.added == 0
        assert res.skipped_files == 3
        assert db.sql("SELECT count(*) AS n FROM events")["n"][0] == 1


def test_an_unreadable_file_is_rejected_once_not_on_every_run(tmp_path):
    sock_path = tmp_path / "s.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        with triage.open(tmp_path / "t.duckdb") as db:
            first = db.ingest([sock_path]).files[0]
            again = db.ingest([sock_path]).files[0]
            assert first.rejects == 1 and "cannot read" in first.errors[0]
            assert again.rejects == 1
            assert db.sql("SELECT count(*) AS n FROM rejects")["n"][0] == 1
    finally:
        sock.close()


# -- record-level recovery inside containers -----------------------------------------------------


def test_array_with_one_invalid_utf8_byte_keeps_the_other_records(tmp_path):
    items = [json.dumps(_ev(i)).encode() for i in range(1000)]
    items[499] = items[499].replace(b"event 499", b"event \xff 499")
    f = tmp_path / "a.json"
    f.write_bytes(b"[\n" + b",\n".join(items) + b"\n]\n")
    with triage.open(":memory:") as db:
        fr = db.ingest([f]).files[0]
        assert (fr.records, fr.added, fr.rejects) == (1000, 999, 1), fr
        rej = db.rejects().to_dict("records")[0]
        assert rej["source_line"] == 500 and "UTF-8" in rej["reason"]
        assert "event" in rej["raw_text"]


def test_array_cut_short_keeps_every_whole_record(tmp_path):
    items = [json.dumps(_ev(i), indent=1) for i in range(200)]
    text = "[" + ",".join(items) + "]"
    f = tmp_path / "cut.json"
    f.write_text(text[: text.index('"event 150"') + 5])
    with triage.open(":memory:") as db:
        fr = db.ingest([f]).files[0]
        assert (fr.records, fr.added, fr.rejects) == (151, 150, 1), fr
        assert "ends inside" in fr.errors[0]


def test_array_with_a_malformed_record_resyncs_at_the_next_object(tmp_path):
    items = [json.dumps(_ev(i)) for i in range(10)]
    items[3] = '{"event_id": "x", "message": "unterminated, "level": error}'
    items[6] = '{"event_id": "y" "no comma": [1, 2}'
    f = tmp_path / "bad.json"
    f.write_text("[" + ",\n ".join(items) + "]")
    with triage.open(":memory:") as db:
        fr = db.ingest([f]).files[0]
        assert (fr.records, fr.added, fr.rejects) == (10, 8, 2), fr
        lines = sorted(db.rejects()["source_line"])
        assert lines == [4, 7]


def _envelope(i: int) -> bytes:
    head = json.dumps({"event_id": f"{i:032x}"})
    payload = json.dumps(_ev(i))
    return f'{head}\n{{"type": "event", "length": {len(payload.encode())}}}\n{payload}\n'.encode()


def test_envelope_file_with_a_malformed_envelope_keeps_the_ones_after_it(tmp_path):
    envs = [_envelope(i) for i in range(4)]
    envs[1] = b'{"event_id": "' + b"1" * 32 + b'"}\n{"type": "event", "length": 9999}\n{"oops"\n'
    f = tmp_path / "x.envelope"
    f.write_bytes(b"\n".join(envs))
    with triage.open(":memory:") as db:
        fr = db.ingest([f], input_format="envelope").files[0]
        assert (fr.records, fr.added, fr.rejects) == (4, 3, 1), fr
        ids = set(db.sql("SELECT event_id FROM events")["event_id"])
        assert ids == {f"{i:032x}" for i in (0, 2, 3)}


def test_discover_csv_with_an_unterminated_quote_keeps_the_other_rows(tmp_path):
    rows = [f"{i:032x},boom {i},PROJ-1,2026-11-28T10:00:{i:02d}Z" for i in range(20)]
    rows[7] = f'{7:032x},"boom 7 never closed,PROJ-1,2026-11-28T10:00:07Z'
    f = tmp_path / "d.csv"
    f.write_text("id,title,issue,timestamp\n" + "\n".join(rows) + "\n")
    with triage.open(":memory:") as db:
        fr = db.ingest([f]).files[0]
        assert (fr.records, fr.added, fr.rejects) == (20, 19, 1), fr
        assert list(db.rejects()["source_line"]) == [9]  # the header is line 1


# -- nesting ---------------------------------------------------------------------------------------


def _deep(n: int) -> str:
    return '{"event_id": "' + "d" * 32 + '", "extra": ' + "[" * n + "1" + "]" * n + "}"


@pytest.mark.parametrize("layout", ["ndjson", "array", "object", "envelope"])
def test_deep_nesting_is_a_reject_and_later_files_still_land(tmp_path, layout):
    """(DuckDB's own reader is not recursive: a deep record it reads whole is stored.)"""
    deep = _deep(5000)
    f = tmp_path / "1-deep.json"
    good_ev = json.dumps(_ev(2))
    if layout == "ndjson":
        # A broken line sends the file down the record-by-record path, where Python parses.
        f.write_text(deep + "\n" + good_ev + "\n{broken\n")
    elif layout == "array":
        f.write_text("[" + deep + ", " + good_ev + ', {"broken"}]')
    elif layout == "object":
        f.write_text(deep + "\n{broken")
    else:
        payload = deep.encode()
        f.write_bytes(b'{"event_id": "' + b"d" * 32 + b'"}\n{"type": "event"}\n' + payload + b"\n")
    later = tmp_path / "2-good.ndjson"
    later.write_text(json.dumps(_ev(3)) + "\n")
    dbp = tmp_path / "t.duckdb"
    res = _run(["ingest", "--db", str(dbp), str(f), str(later)])
    assert "Traceback" not in res.stderr and "RecursionError" not in res.stderr, res.stderr
    assert "nested deeper than" in res.stderr, res.stderr
    assert _count(dbp, f"SELECT count(*) FROM events WHERE event_id = '{3:032x}'") == 1
    if layout in ("ndjson", "array"):
        assert _count(dbp, f"SELECT count(*) FROM events WHERE event_id = '{2:032x}'") == 1


# -- decompression bombs -------------------------------------------------------------------------


def _gzip_bomb(path: Path, gib: float) -> None:
    member = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    with open(path, "wb") as fh:
        for _ in range(int(gib * 16)):
            fh.write(member)


def _zstd_bomb(path: Path, gib: float, unit: bytes = b"\0") -> None:
    chunk = unit * ((64 << 20) // len(unit))
    frame = zstandard.ZstdCompressor(level=19).compress(chunk)
    with open(path, "wb") as fh:
        for _ in range(int(gib * 16)):
            fh.write(frame)


def test_bombs_are_refused_under_a_small_address_space(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    _gzip_bomb(folder / "a-zeros.json.gz", 2)
    _zstd_bomb(folder / "b-zeros.json.zst", 4)
    # Identical events, the way a polling loop fills an export: 5.5M copies of one event.
    line = json.dumps(_ev(9, message="composio unavailable: no backend session token")) + "\n"
    _zstd_bomb(folder / "c-same.ndjson.zst", 0.5, line.encode())
    (folder / "d-good.ndjson").write_text(json.dumps(_ev(1)) + "\n")
    dbp = tmp_path / "t.duckdb"
    res = subprocess.run(
        ["bash", "-c", f'ulimit -v 2000000; "{_triage()}" ingest --db "{dbp}" "{folder}"'],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr, res.stderr[-2000:]
    for name in ("a-zeros.json.gz", "b-zeros.json.zst", "c-same.ndjson.zst"):
        line = next(ln for ln in res.stderr.splitlines() if name in ln)
        assert "inflates to more than" in res.stderr.split(name, 1)[1], line
    assert "--max-inflate-ratio" in res.stderr
    assert _count(dbp) == 1
    # A refused file is not "already ingested": raising the bound reads it.
    assert _count(dbp, "SELECT count(*) FROM ingest_log") == 1


def test_the_inflate_bound_can_be_raised(tmp_path):
    """Small files that compress very well are fine; the absolute bound is a parameter."""
    line = json.dumps(_ev(9)) + "\n"
    f = tmp_path / "same.ndjson.zst"
    f.write_bytes(zstandard.ZstdCompressor(level=19).compress(line.encode() * 20_000))
    assert f.stat().st_size * 1000 < 20_000 * len(line)  # over 1000x, yet under the floor
    with triage.open(":memory:") as db:
        fr = db.ingest([f], max_inflated_bytes=100_000).files[0]
        assert fr.added == 0 and fr.rejects == 1 and "inflates to more than" in fr.errors[0]
        fr = db.ingest([f]).files[0]
        assert (fr.records, fr.added, fr.duplicates) == (20_000, 1, 19_999), fr


# -- temporary files ---------------------------------------------------------------------------


def _triage_dirs(tmp: Path) -> list[Path]:
    return [p for p in tmp.iterdir() if p.name.startswith("triage-")]


def test_temp_files_are_removed_on_every_exit_path(tmp_path):
    """Event text spooled to disk goes with the process: a clean exit, SIGTERM; what a kill -9
    leaves, the next run removes."""
    import signal

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "TRIAGE_FIFO_TIMEOUT": "120"}
    body = "".join(json.dumps(_ev(i)) + "\n" for i in range(3)) + "{broken\n"
    dbp = tmp_path / "t.duckdb"
    # A clean exit, through the record-by-record path (it writes the good records to disk).
    res = _run(["ingest", "--db", str(dbp), "-"], input=body, env=env)
    assert "3 events added" in res.stderr, res.stderr
    assert _triage_dirs(tmp) == []
    # SIGTERM while a FIFO is being spooled: the partial copy goes.
    fifo = tmp_path / "slow.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [_triage(), "ingest", "--db", str(dbp), str(fifo)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    writer = open(fifo, "wb")  # noqa: SIM115 (held open: the reader waits for more)
    writer.write(body.encode())
    writer.flush()
    deadline = time.monotonic() + 60
    while not any(d.iterdir() for d in _triage_dirs(tmp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _triage_dirs(tmp), "the spool file should exist while the FIFO is read"
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    writer.close()
    assert _triage_dirs(tmp) == []
    # kill -9 leaves the folder; the next run removes it.
    proc = subprocess.Popen(
        [_triage(), "ingest", "--db", str(dbp), str(fifo)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    writer = open(fifo, "wb")  # noqa: SIM115
    writer.write(body.encode())
    writer.flush()
    deadline = time.monotonic() + 60
    while not any(d.iterdir() for d in _triage_dirs(tmp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.kill()
    proc.wait(60)
    writer.close()
    assert len(_triage_dirs(tmp)) == 1
    res = _run(["ingest", "--db", str(dbp), "-"], input=body, env=env)
    assert _triage_dirs(tmp) == [], res.stderr


def test_a_csv_files_bad_rows_are_not_counted_again_for_the_next_csv(tmp_path):
    """DuckDB keeps its CSV rejects table across reads (found by the hostile-folder property)."""
    bad = tmp_path / "1.csv"
    bad.write_text(f"id,title,level\n{1:032x},a,b,c,d\n{2:032x},ok,error\n")
    good = tmp_path / "2.csv"
    good.write_text(f"id,title,level\n{3:032x},fine,error\n")
    with triage.open(":memory:") as db:
        first, second = db.ingest([bad, good]).files
        assert (first.records, first.added, first.rejects) == (2, 1, 1), first
        assert (second.records, second.added, second.rejects) == (1, 1, 0), second
