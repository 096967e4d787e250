"""One offline cargo crate for the Rust parity tests (shipped tables, hostile ids, suggested rules).

Why a helper: crates.io is not reachable here, so each test points cargo at Debian's vendored
registry (``librust-regex-dev``) through a private ``CARGO_HOME``; three test files did this by
hand and drifted. The crate is named ``triage_parity``; the caller writes ``src/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")


def regex_crate() -> Path | None:
    """The newest vendored ``regex`` crate, or None."""
    found = sorted(DEBIAN_REGISTRY.glob("regex-1.*")) if DEBIAN_REGISTRY.is_dir() else []
    return found[-1] if found else None


def offline_crate(root: Path) -> dict[str, str]:
    """Write Cargo.toml and an offline CARGO_HOME under ``root`` (``src/`` is made empty) and
    return the environment to run cargo in; skip the test when cargo or the crate is missing."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed (.ci/run installs it)")
    crate = regex_crate()
    if crate is None:
        pytest.skip(
            "the regex crate is not in /usr/share/cargo/registry: apt-get install "
            "librust-regex-dev (crates.io is not reachable here; .ci/run installs it)"
        )
    home = root / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "debian"\n\n'
        f'[source.debian]\ndirectory = "{DEBIAN_REGISTRY}"\n\n[net]\noffline = true\n',
        encoding="utf-8",
    )
    version = crate.name.removeprefix("regex-")
    (root / "Cargo.toml").write_text(
        '[package]\nname = "triage_parity"\nversion = "0.1.0"\nedition = "2021"\n\n'
        f'[dependencies]\nregex = "={version}"\n',
        encoding="utf-8",
    )
    (root / "src").mkdir()
    env = {**os.environ, "CARGO_HOME": str(home), "CARGO_TARGET_DIR": str(root / "target")}
    env.setdefault("RUSTUP_HOME", str(Path.home() / ".rustup"))
    return env


def cargo(root: Path, env: dict[str, str], *args: str, **kw) -> subprocess.CompletedProcess:
    """Run ``cargo ARGS`` in the crate, capturing text output."""
    return subprocess.run(["cargo", *args], cwd=root, env=env, capture_output=True, text=True, **kw)
