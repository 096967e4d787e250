"""The package's shape: one folder per pipeline stage, imports running one way, no circles.

The table below is the architecture; this test reads every import of every module under
``triage/`` (ast, including imports inside functions and under TYPE_CHECKING) and fails on an
import the table does not allow, or on an import circle between modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "triage"

# stage -> the stages its modules may import (besides their own stage).
ALLOWED: dict[str, set[str]] = {
    "cli": {"api", "render", "analysis", "ingest", "targets", "store", "rules", "common"},
    "api": {"render", "analysis", "ingest", "targets", "store", "rules", "common"},
    "render": {"analysis", "ingest", "store", "rules", "common"},
    "analysis": {"targets", "store", "rules", "common"},
    "ingest": {"store", "rules", "common"},
    "targets": {"rules", "common"},
    "store": {"common"},
    "rules": {"common"},
    "common": set(),
    "scenarios": set(),
}
STAGE_FOLDERS = {"cli", "render", "analysis", "ingest", "targets", "store", "rules", "common"}
# Top-level modules: the API layer (the package root, the Python API, the live hook, the
# documented short import paths), and the seeded data generator that imports nothing of ours.
TOP_LEVEL = {"scenarios": "scenarios"}


def stage_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGE_FOLDERS:
        return parts[1]
    if len(parts) > 1 and parts[1] in TOP_LEVEL:
        return TOP_LEVEL[parts[1]]
    return "api"


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str, known: set[str]) -> set[str]:
    """The modules of ours that ``path`` imports, resolved to the most specific known module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_pkg else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names]
        for name in names:
            if not name.startswith("triage"):
                continue
            # the longest known module that the imported name starts with
            parts = name.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts:
                target = ".".join(parts)
                if target != module:
                    out.add(target)
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(files)
    return {m: imports_of(p, m, known) for m, p in files.items()}


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports the ALLOWED table forbids, as ``importer -> imported (stage -> stage)``."""
    out = []
    for mod, targets in sorted(graph.items()):
        for t in sorted(targets):
            a, b = stage_of(mod), stage_of(t)
            if a != b and b not in ALLOWED[a] and t != "triage":
                out.append(f"{mod} -> {t} ({a} -> {b})")
            if t == "triage" and mod != "triage":
                out.append(f"{mod} -> triage (the package root is the top: import the stage)")
    return out


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_belongs_to_a_stage():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= STAGE_FOLDERS, f"a stage folder the table does not know: {folders}"
    api_level = {"__init__", "api", "sentry", "lint", "classify", "config"}
    assert top <= api_level | set(TOP_LEVEL), (
        f"top-level modules outside the API layer: {sorted(top - api_level - set(TOP_LEVEL))}; "
        "put pipeline code in its stage folder"
    )


def test_imports_run_one_way():
    bad = violations(import_graph(PACKAGE))
    assert not bad, "imports against the stage table:\n" + "\n".join(bad)


def test_no_import_circles():
    found = circles(import_graph(PACKAGE))
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_check_catches_an_upward_import_and_a_circle(tmp_path):
    """The checker itself: a rules module importing analysis, and two modules importing
    each other, are both found (so the two tests above can fail)."""
    pkg = tmp_path / "triage"
    for folder in ("rules", "analysis"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "rules" / "table.py").write_text("from triage.analysis.report import Report\n")
    (pkg / "analysis" / "report.py").write_text("from triage.analysis import diff\n")
    (pkg / "analysis" / "diff.py").write_text(
        "def f():\n    from triage.analysis.report import x\n"
    )
    graph = import_graph(pkg)
    assert violations(graph) == ["triage.rules.table -> triage.analysis.report (rules -> analysis)"]
    assert circles(graph) == [["triage.analysis.diff", "triage.analysis.report"]]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {m.split(".")[0] for m in out.split()}


@pytest.mark.parametrize(
    "code",
    ["import triage.sentry", "import triage", "import triage.cli"],
    ids=["hook", "root", "cli"],
)
def test_light_imports(code):
    """The live hook runs inside the host app and the CLI must start fast: neither may load
    duckdb, pandas or matplotlib just by being imported."""
    heavy = _loaded_after(code) & {"duckdb", "pandas", "matplotlib", "jinja2"}
    assert not heavy, f"`{code}` loads {sorted(heavy)}"


def test_lazy_root_still_serves_the_public_api():
    import triage

    assert callable(triage.open) and callable(triage.run) and callable(triage.export)
    assert triage.load_rules("openhuman").name
    with pytest.raises(AttributeError):
        triage.no_such_name  # noqa: B018


def test_a_bare_checkout_finds_queries_and_fixtures_at_the_top():
    """Without an install (``python -c`` in the repo, as the lock tests run), ``triage.queries``
    and ``triage.fixtures`` do not exist as packages: the files are read from the repo's top."""
    code = (
        "import sys; sys.path.insert(0, '.'); "
        "from triage.store.sqlfiles import package_dir; "
        "print(package_dir('triage.no_such_package', 'queries')); "
        "print(package_dir('triage.no_such_package', 'fixtures'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    queries, fixtures = Path(out[0]), Path(out[1])
    assert queries == PACKAGE.parent / "queries" and (queries / "report_groups.sql").is_file()
    assert (queries / "schema").is_dir() and (fixtures / "demo").is_dir()


def test_the_import_paths_the_readme_documents():
    """README promises these paths; the stage folders must not break them."""
    from triage.classify import classify
    from triage.lint import lint
    from triage.sentry import TriageIntegration, before_send

    assert classify.__module__ == "triage.analysis.classify"
    assert lint.__module__ == "triage.analysis.lint"
    assert callable(before_send) and TriageIntegration
