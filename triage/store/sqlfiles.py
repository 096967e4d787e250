"""Access to the SQL files under queries/, which ship inside the wheel as ``triage.queries``.

From a source checkout where the package is not installed, the files are read from ``queries/``
beside ``triage/``, so the same code serves a wheel, an editable install and a bare checkout.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path


def package_dir(package: str, folder: str):
    """``triage.<x>`` package data, or the repo's top-level folder of the same content."""
    try:
        return resources.files(package)
    except (ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parents[2] / folder  # triage/store/ -> the repo


@cache
def load(name: str) -> str:
    """Return the text of ``queries/<name>`` (e.g. ``"report_groups.sql"``)."""
    return package_dir("triage.queries", "queries").joinpath(name).read_text(encoding="utf-8")


def schema_files() -> list[tuple[int, str, str]]:
    """The versioned schema scripts as ``(version, name, sql)``, oldest first."""
    folder = package_dir("triage.queries", "queries").joinpath("schema")
    out = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            out.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(out)
