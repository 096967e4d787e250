"""Ingesting the folder that holds the database must not read the database (or its WAL) as input."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

import triage
from triage.cli import main


def test_ingesting_the_databases_own_folder_skips_the_database(tmp_path, monkeypatch):
    shutil.copy(triage.demo_paths()[0] / "events.ndjson", tmp_path / "events.ndjson")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", "."])  # default --db: ./triage.duckdb, inside "."
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["ingest", "."])  # now the database file exists in the folder
    assert second.exit_code == 0, second.output
    assert "triage.duckdb" not in second.output
    with triage.open(tmp_path / "triage.duckdb", read_only=True) as s:
        assert s.sql("SELECT count(*) AS n FROM events").n[0] == 505
        assert s.sql("SELECT count(*) AS n FROM rejects").n[0] == 0
        logged = s.sql("SELECT source_file FROM ingest_log").source_file.tolist()
    assert logged and all("triage.duckdb" not in f for f in logged)
