"""Settings from a config file, found the way ruff and dbt find theirs, so that a cron line need
not repeat ``--db`` and ``--rules``.

Where a value comes from, first match wins:

1. the command line (``--rules``, ``--db``, ...);
2. the environment: ``$TRIAGE_DB``, ``$TRIAGE_RULES``, ``$SENTRY_ORG``, ``$SENTRY_PROJECT``,
   ``$SENTRY_URL``;
3. the config file: ``$TRIAGE_CONFIG`` if set, else the nearest ``triage.toml`` (top-level keys)
   or ``pyproject.toml`` with a ``[tool.triage]`` table, looking in the working directory and
   then each parent (in one folder, ``triage.toml`` wins over ``pyproject.toml``);
4. the built-in default.

Relative paths in a config file (``db``, a ``rules`` file) are read from the file's folder, so a
job started elsewhere still finds them. ``triage config`` prints each value with its source.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_ENV = "TRIAGE_CONFIG"
FILE_NAME = "triage.toml"
DEFAULT_RULES = "default"
DEMO_RULES = "openhuman"  # the demo reproduces openhuman's incident, so it keeps that table

# key -> (type, environment variable, default, help)
KEYS: dict[str, tuple[type, str | None, Any, str]] = {
    "db": (str, "TRIAGE_DB", "triage.duckdb", "DuckDB database file"),
    "rules": (str, "TRIAGE_RULES", DEFAULT_RULES, "rule table: a built-in name or a .toml path"),
    "threshold": (float, None, 0.95, "share of a group's error events for `downgrade`"),
    "tags": (list, None, [], "tags compared by `triage diff` (--tag)"),
    "org": (str, "SENTRY_ORG", None, "Sentry organization slug (triage pull)"),
    "project": (str, "SENTRY_PROJECT", None, "Sentry project slug (triage pull)"),
    "url": (str, "SENTRY_URL", "https://sentry.io", "Sentry base URL (triage pull)"),
}
PATH_KEYS = ("db", "rules")


class ConfigFileError(ValueError):
    """The config file cannot be used: names the file and the key."""


@dataclass(frozen=True)
class Setting:
    """One value in force and where it came from (``default``, ``$VAR``, a file, a flag)."""

    key: str
    value: Any
    source: str


@dataclass
class Config:
    """The config file found (if any) and its values, already checked and resolved."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How the file is named as a source: ``/x/pyproject.toml [tool.triage]``."""
        if self.path is None:
            return ""
        return (
            f"{self.path} [tool.triage]" if self.path.name == "pyproject.toml" else str(self.path)
        )

    def setting(self, key: str, env: Mapping[str, str] | None = None) -> Setting:
        """The value of ``key`` from the environment, else the file, else the default."""
        env = os.environ if env is None else env
        typ, var, default, _ = KEYS[key]
        if var and env.get(var):
            return Setting(key, env[var], f"${var}")
        if key in self.values:
            return Setting(key, self.values[key], self.label)
        return Setting(key, default, "default")

    def file_defaults(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The file's values that no environment variable overrides (click's ``default_map``)."""
        env = os.environ if env is None else env
        return {
            k: v for k, v in self.values.items() if not (KEYS[k][1] and env.get(KEYS[k][1] or ""))
        }


def find(start: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file in force: ``$TRIAGE_CONFIG``, else the nearest one upward from ``start``."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
        if not path.is_file():
            raise ConfigFileError(f"${CONFIG_ENV}: {path} is not a file")
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / FILE_NAME
        if own.is_file():
            return own
        py = folder / "pyproject.toml"
        if py.is_file() and _tool_table(py) is not None:
            return py
    return None


def _tool_table(path: Path) -> dict | None:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # someone else's broken pyproject is not ours to report
    table = doc.get("tool", {}).get("triage") if isinstance(doc.get("tool"), dict) else None
    return table if isinstance(table, dict) else None


def load(start: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Find and read the config file; ``Config()`` when there is none."""
    path = find(start, env)
    if path is None:
        return Config()
    if path.name == "pyproject.toml":
        raw = _tool_table(path)
        if raw is None:
            raise ConfigFileError(f"{path}: no [tool.triage] table")
    else:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigFileError(f"{path}: not valid TOML: {exc}") from None
    return Config(path, check(raw, path))


def check(raw: dict, path: Path) -> dict[str, Any]:
    """Validate a config table: known keys, right types; relative paths made absolute."""
    out: dict[str, Any] = {}
    where = f"{path} [tool.triage]" if path.name == "pyproject.toml" else str(path)
    for key, value in raw.items():
        if key not in KEYS:
            raise ConfigFileError(
                f"{where}: unknown key {key!r}{did_you_mean(key, KEYS)} (known: {', '.join(KEYS)})"
            )
        typ = KEYS[key][0]
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if typ is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, typ) and not isinstance(value, bool)
        if not ok:
            want = "a list of strings" if typ is list else f"a {typ.__name__}"
            raise ConfigFileError(f"{where}: {key} must be {want}, got {value!r}")
        if key == "threshold" and not 0.0 <= value <= 1.0:
            raise ConfigFileError(f"{where}: threshold must be between 0 and 1, got {value}")
        if key in PATH_KEYS and _is_path(key, value):
            value = str((path.parent / value).resolve()) if not Path(value).is_absolute() else value
        out[key] = value
    return out


def _is_path(key: str, value: str) -> bool:
    """A db is always a path (but ``:memory:``); a rules value only when it names a file."""
    if key == "db":
        return value != ":memory:"
    if ":" in value and not Path(value).is_absolute():
        return False  # REV:path, read from git
    return value.endswith(".toml") or "/" in value or os.sep in value


def did_you_mean(word: str, known) -> str:
    """`` (did you mean 'rules'?)`` for a near miss among ``known``, else an empty string."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
