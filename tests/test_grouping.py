"""Sentry's grouping on made-up events (fixtures/grouping/cases.json), through the real ingest.

Each case lists the values Sentry's grouping hashes for it; the expected group hash is their MD5
(computed here, not stored), so a case fails when the SQL picks other values or another variant.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import pytest

import triage
from triage.ingest import grouping

CASES = json.loads(
    (Path(__file__).resolve().parent.parent / "fixtures" / "grouping" / "cases.json").read_text(
        encoding="utf-8"
    )
)["cases"]


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    """Every case ingested as its own one-event file; rows by case name."""
    folder = tmp_path_factory.mktemp("cases")
    for case in CASES:
        (folder / f"{case['name']}.json").write_text(json.dumps(case["event"]), encoding="utf-8")
    with triage.open(":memory:") as db:
        result = db.ingest([str(folder)])
        rows = db.sql(
            "SELECT source_file, event_id, group_key, group_hash, group_source, group_basis, "
            "message, platform, grouping_version FROM events"
        )
        skipped = {Path(f.path).stem: f.skipped for f in result.files}
    by_name = {Path(r.source_file).stem: r for r in rows.itertuples(index=False)}
    return by_name, skipped


@pytest.mark.parametrize("case", [c for c in CASES if "values" in c], ids=lambda c: c["name"])
def test_hash_is_md5_of_the_contributing_values(grouped, case):
    by_name, _ = grouped
    row = by_name[case["name"]]
    assert row.group_hash == hashlib.md5("".join(case["values"]).encode()).hexdigest(), (
        row.group_basis
    )
    assert row.group_source == "computed"
    assert row.grouping_version == grouping.GROUPING_VERSION


@pytest.mark.parametrize("case", [c for c in CASES if "message" in c], ids=lambda c: c["name"])
def test_log_message_is_formatted_as_sentry_shows_it(grouped, case):
    row = grouped[0][case["name"]]
    assert row.message == case["message"]
    assert row.platform == case["event"].get("platform", "other")


def test_named_groups_are_one_group_each(grouped):
    by_name, _ = grouped
    groups = defaultdict(set)
    for case in CASES:
        if "group" in case:
            groups[case["group"]].add(by_name[case["name"]].group_key)
    assert groups and all(len(keys) == 1 for keys in groups.values()), groups
    assert len({next(iter(k)) for k in groups.values()}) == len(groups)


def test_transactions_are_skipped_not_stored(grouped):
    by_name, skipped = grouped
    for case in CASES:
        if case.get("skipped"):
            assert case["name"] not in by_name
            assert skipped[case["name"]] == 1
