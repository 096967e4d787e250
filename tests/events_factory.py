"""Raw Sentry SDK events for tests, written to NDJSON and ingested like any export."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 5, 12, 9, 0, 0, tzinfo=UTC)


def raw_event(
    seed: str,
    i: int = 0,
    *,
    message: str | None = None,
    exc: tuple[str, str] | None = None,
    level: str = "error",
    platform: str = "native",
    logger: str | None = "app",
    tags: dict[str, str] | None = None,
    user: str = "u-1",
    every: float = 60.0,
    **extra: Any,
) -> dict[str, Any]:
    """One raw event; ``exc=(type, value)`` makes an exception event."""
    ev: dict[str, Any] = {
        "event_id": hashlib.md5(f"{seed}:{i}".encode()).hexdigest(),
        "timestamp": (START + timedelta(seconds=i * every)).timestamp(),
        "level": level,
        "platform": platform,
        "user": {"id": user},
        "tags": tags or {},
        **extra,
    }
    if logger:
        ev["logger"] = logger
    if message is not None:
        ev["message"] = message
    if exc is not None:
        ev["exception"] = {"values": [{"type": exc[0], "value": exc[1]}]}
    return ev


def write_ndjson(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path
