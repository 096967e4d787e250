"""Which database file a command means: light enough for the command line's option table."""

from __future__ import annotations

import os

DEFAULT_DB = "triage.duckdb"
MEMORY = ":memory:"


def resolve_path(db: str | os.PathLike[str] | None) -> str:
    """``--db`` wins, then ``$TRIAGE_DB``, then ``triage.duckdb`` in the working directory."""
    if db is not None:
        return str(db)
    return os.environ.get("TRIAGE_DB") or DEFAULT_DB
