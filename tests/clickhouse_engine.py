"""ClickHouse engines for tests: chdb in process always, a real server when CLICKHOUSE_URL is set.

Each test gets a database of its own (created, then dropped), so tests share one chdb engine
(chdb allows one per process) and a server without stepping on each other's tables.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from triage.store.clickhouse import ClickHouse, connect

ENGINES = ["chdb", "server"]


def base_url(engine: str) -> str:
    """The URL of an engine, or a skip saying why it is not there."""
    if engine == "chdb":
        pytest.importorskip("chdb", reason="chdb is not installed (pip install '.[test]')")
        pytest.importorskip("clickhouse_connect")
        return "chdb://memory"
    url = os.environ.get("CLICKHOUSE_URL")
    if not url:
        pytest.skip("CLICKHOUSE_URL is not set: no ClickHouse server to test against")
    pytest.importorskip("clickhouse_connect")
    return url


def with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` (the path of an http(s) URL, chdb://memory/<db> for chdb)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def fresh_database(engine: str):
    """(url of a new empty database, cleanup) on ``engine``."""
    base = base_url(engine)
    name = f"triage_test_{uuid.uuid4().hex[:10]}"
    admin = connect(base)
    admin.command(f"CREATE DATABASE {name}")
    url = with_database(base, name)

    def cleanup() -> None:
        admin.command(f"DROP DATABASE IF EXISTS {name}")
        admin.close()

    return url, cleanup


@pytest.fixture(params=ENGINES)
def ch_url(request) -> str:
    """The URL of an empty database on each engine."""
    url, cleanup = fresh_database(request.param)
    yield url
    cleanup()


@pytest.fixture
def ch(ch_url) -> ClickHouse:
    """A connection to an empty database on each engine."""
    store = connect(ch_url)
    yield store
    store.close()


def engine_label(ch: ClickHouse) -> str:
    """``chdb (ClickHouse 26.9.2.1)`` or ``server (ClickHouse 25.8...)``, for printed figures."""
    kind = "chdb" if ch.url.startswith("chdb:") else "server"
    return f"{kind} (ClickHouse {ch.version()})"
