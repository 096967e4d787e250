"""The store stage: the DuckDB file, its schema migrations, and the SQL under ``queries/``.

Lazy (PEP 562) like the package root: ``triage.store.sqlfiles`` and the constants are read by
modules that must not load duckdb just by being imported (the CLI's option table, the hook).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from triage.store.paths import DEFAULT_DB, MEMORY, resolve_path

_DATABASE = {
    "DEFAULT_MEMORY_LIMIT",
    "StoreError",
    "connect",
    "db_error_kind",
    "describe_error",
    "current_version",
    "install_macros",
    "lock_holder",
    "migrate",
    "shadow_tables",
}
__all__ = sorted({"DEFAULT_DB", "MEMORY", "resolve_path", *_DATABASE})

if TYPE_CHECKING:
    from triage.store.database import (
        DEFAULT_MEMORY_LIMIT,
        StoreError,
        connect,
        current_version,
        db_error_kind,
        describe_error,
        install_macros,
        lock_holder,
        migrate,
        shadow_tables,
    )


def __getattr__(name: str):
    if name in _DATABASE:
        value = getattr(import_module("triage.store.database"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'triage.store' has no attribute {name!r}")
