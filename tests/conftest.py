"""Shared fixtures: a fresh database per test, the demo export, and the shared samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

import triage

# Property tests explore new random cases on a developer's machine; CI (.ci/run sets
# HYPOTHESIS_PROFILE=ci) replays the same cases every run, so a red CI is a change, not luck.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
# One anon: key for every database the tests make, so that tests comparing two ingests compare
# stand-ins too (tests/test_pii.py unsets it to check that databases draw their own).
os.environ.setdefault("TRIAGE_ANON_SECRET", "tests-" + "0" * 58)

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "samples"


@pytest.fixture
def db(tmp_path):
    """An empty triage database file, closed after the test."""
    store = triage.open(tmp_path / "t.duckdb")
    yield store
    store.close()


@pytest.fixture
def samples() -> Path:
    """../shared/samples: real payloads written by others. Skips when absent."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not present")
    return SAMPLES


@pytest.fixture
def demo_db(tmp_path):
    """A database holding the built-in demo export."""
    store = triage.open(tmp_path / "demo.duckdb")
    store.ingest(triage.demo_paths())
    yield store
    store.close()
