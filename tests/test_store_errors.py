"""Database failures are named for what they are: corrupt, full disk, locked, not a database.

DuckDB raises a lock conflict and a full disk as the same ``IOException``, and a checksum failure
as a plain ``duckdb.Error`` whose text says "block": the kind is read from the exception type and
an anchored message prefix, never from a word found anywhere in the text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import triage
from triage.cli import main
from triage.store import StoreError, connect, db_error_kind


@pytest.fixture
def demo_file(tmp_path) -> Path:
    path = tmp_path / "demo.duckdb"
    with triage.open(path) as db:
        db.ingest(triage.demo_paths())
    return path


def _corrupt(path: Path) -> None:
    """Overwrite bytes inside the first data block (after DuckDB's 3 header blocks of 4 KiB)."""
    with path.open("r+b") as fh:
        fh.seek(3 * 4096 + 100)
        fh.write(b"\xff" * 64)


def test_a_corrupt_file_is_reported_corrupt_not_locked(demo_file):
    _corrupt(demo_file)
    r = CliRunner().invoke(main, ["report", "--db", str(demo_file), "--wait", "3"])
    assert r.exit_code == 2, r.output
    assert "corrupt" in r.stderr and "checksum" in r.stderr
    assert "locked" not in r.stderr and "waited" not in r.stderr


def test_connect_does_not_wait_out_a_corrupt_file(demo_file):
    _corrupt(demo_file)
    with pytest.raises(StoreError) as err:
        connect(demo_file, wait=3)
    assert err.value.kind == "corrupt"
    assert "locked" not in str(err.value)


def test_a_file_that_is_not_a_database_says_so(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("hello, this is not a database\n" * 100, encoding="utf-8")
    r = CliRunner().invoke(main, ["report", "--db", str(path), "--wait", "3"])
    assert r.exit_code == 2, r.output
    assert "not a DuckDB database" in r.stderr and "locked" not in r.stderr


def test_a_lock_conflict_is_still_a_lock(demo_file):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(30)",
            str(demo_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError) as err:
            connect(demo_file)
        assert err.value.kind == "locked"
        assert f"process {holder.pid}" in str(err.value)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            duckdb.IOException('IO Error: Could not set lock on file "/x.db": Conflicting lock'),
            "locked",
        ),
        (
            duckdb.IOException('IO Error: Could not write file "/x.db": No space left on device'),
            "disk_full",
        ),
        (
            duckdb.Error(
                "Corrupt database file: computed checksum 1 does not match stored checksum 2 in "
                "block at location 12288"
            ),
            "corrupt",
        ),
        (
            duckdb.IOException('IO Error: The file "/x.db" exists, but it is not a valid DuckDB'),
            "not_a_database",
        ),
        (
            duckdb.TransactionException(
                'TransactionContext Error: Failed to commit: Could not write file "/x.db.wal": '
                "No space left on device"
            ),
            "disk_full",
        ),
        # words in the wrong place decide nothing
        (duckdb.IOException("IO Error: block 7: lock ... No space left on device?"), None),
        (duckdb.CatalogException("Catalog Error: Table with name lock does not exist!"), None),
        (ValueError("Corrupt database file: not from DuckDB"), None),
    ],
)
def test_error_kind_reads_type_and_anchored_prefix(exc, kind):
    assert db_error_kind(exc) == kind


def _mount_tiny_tmpfs(tmp_path: Path) -> Path:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a 1 MiB tmpfs: needs root and mount")
    point = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    point.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    return point


def test_a_full_disk_is_reported_as_a_full_disk(tmp_path):
    point = _mount_tiny_tmpfs(tmp_path)
    try:
        db = str(point / "t.duckdb")
        # fill the file system: ingest files of incompressible text until DuckDB cannot write
        import hashlib

        from events_factory import raw_event, write_ndjson

        results = []
        for k in range(8):
            path = write_ndjson(
                tmp_path / f"b{k}.ndjson",
                [
                    raw_event(
                        f"b{k}",
                        i,
                        message=f"filler {k} {i} "
                        + hashlib.sha256(f"{k}:{i}".encode()).hexdigest() * 6,
                    )
                    for i in range(400)
                ],
            )
            results.append(
                CliRunner().invoke(main, ["ingest", "-q", "--keep-raw", "--db", db, str(path)])
            )
            if results[-1].exit_code != 0:
                break
        failed = [r for r in results if r.exit_code != 0]
        assert failed, "1 MiB was not filled"
        r = failed[0]
        assert r.exit_code == 2, r.output
        assert "disk is full" in r.stderr and "No space left on device" in r.stderr
        assert "unexpected" not in r.stderr and "locked" not in r.stderr
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)
