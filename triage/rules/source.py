"""Find a rule table by built-in name, by path, or as a file at a git revision (``REV:path``).

The git form reads the file with ``git show REV:path`` in the working directory, so a change to a
rule table can be compared with what is committed: ``triage diff --base HEAD~1:rules.toml --head
rules.toml``. As in git, the path after the colon is relative to the repository root (write
``REV:./path`` for a path relative to the working directory). A revision or path starting with
``-`` is refused, so a name can never reach git as an option.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from triage import rules as _rules


class RuleSourceError(FileNotFoundError):
    """The rule table could not be found or read (unknown name, missing file, bad revision)."""


def is_git_ref(spec: str) -> bool:
    """``REV:path``: has a colon, names no existing file, and no built-in table."""
    if ":" not in spec or Path(spec).exists() or spec in _rules.builtin_names():
        return False
    rev, _, path = spec.partition(":")
    return bool(rev) and bool(path)


def read_git(spec: str, cwd: str | Path | None = None) -> str:
    """The text of ``REV:path`` as git stores it.

    A revision or path starting with ``-`` is refused, and ``--end-of-options`` goes before the
    argument: git must never read a rule-table name as an option (``--output=FILE`` makes
    ``git show`` write FILE).
    """
    rev, _, path = spec.partition(":")
    for part, what in ((rev, "revision"), (path, "path")):
        if part.startswith("-"):
            raise RuleSourceError(
                f"cannot read rule table {spec!r} from git: the {what} {part!r} starts with '-' "
                "(git would read it as an option)"
            )
    git = shutil.which("git")
    if git is None:
        raise RuleSourceError(f"cannot read {spec}: git is not installed")
    proc = subprocess.run(
        [git, "show", "--end-of-options", spec],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["git show failed"])[-1]
        raise RuleSourceError(f"cannot read rule table {spec} from git: {reason}")
    return proc.stdout


def load(spec: str | Path | _rules.RuleTable, cwd: str | Path | None = None) -> _rules.RuleTable:
    """Like :func:`triage.rules.load`, plus ``REV:path`` read from git."""
    if isinstance(spec, _rules.RuleTable):
        return spec
    text = str(spec)
    if is_git_ref(text):
        return _rules.parse(
            read_git(text, cwd), name=text, source=f"git:{text}", require_rules=True
        )
    try:
        return _rules.load(spec)
    except FileNotFoundError as exc:
        if isinstance(exc, RuleSourceError):
            raise
        raise RuleSourceError(str(exc)) from None
