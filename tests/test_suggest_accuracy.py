"""`triage suggest` against planted truth (triage.scenarios.planted): precision >= 0.9 and
recall >= 0.7 on each of 5 seeds, and no proposal moving a planted bug (issue 18).

The same scoring as benchmarks/suggest.py, which prints the figures."""

from __future__ import annotations

import json

import pytest

import triage
from triage import scenarios
from triage.rules import parse

EMPTY = parse('name = "empty"\n', name="empty")


def moved(db: triage.Store, result) -> dict[str, list[str]]:
    rows = db.con.execute(
        "SELECT c.rule_id, c.event_id FROM classifications c JOIN events e USING (event_id) "
        "WHERE c.ruleset_hash = ? AND e.level IN ('error', 'fatal') "
        "AND c.new_level NOT IN ('error', 'fatal') AND list_contains(?, c.rule_id)",
        [result.head.hash, [c.id for c in result.candidates]],
    ).fetchall()
    out: dict[str, list[str]] = {c.id: [] for c in result.candidates}
    for rule_id, event_id in rows:
        out[rule_id].append(event_id)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_planted_noise_is_found_and_no_planted_bug_moves(tmp_path, seed):
    sc = scenarios.planted(seed)
    path = tmp_path / "planted.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in sc.events), encoding="utf-8")
    with triage.open(tmp_path / "p.duckdb") as db:
        db.ingest([path], keep_raw=True)
        result = db.suggest(EMPTY)
        score = scenarios.score_suggestions(sc, moved(db, result))
    print(score.line())
    assert score.proposals > 0
    assert score.bug_proposals == 0 and score.bug_events_moved == 0, score.line()
    assert score.precision >= 0.9, score.line()
    assert score.recall >= 0.7, score.line()


def test_planted_scenario_is_reproducible_and_labelled():
    a, b = scenarios.planted(3), scenarios.planted(3)
    assert a.events == b.events and a.groups == b.groups
    labels = {g.label for g in a.groups}
    assert labels == {"noise", "bug"}
    assert set(a.truth) == {e["event_id"] for e in a.events}
    # Traps: bugs whose text holds the words noise is recognised by.
    bugs = " ".join(g.message for g in a.groups if g.label == "bug")
    assert "session" in bugs and "rate limiter" in bugs and "timeout" in bugs


def test_score_counts_a_proposal_that_moves_a_bug():
    sc = scenarios.planted(0)
    bug = next(g.key for g in sc.groups if g.label == "bug")
    noise = next(g.key for g in sc.groups if g.label == "noise")
    ev = {k: [e for e, g in sc.truth.items() if g == k] for k in (bug, noise)}
    s = scenarios.score_suggestions(sc, {"a": ev[noise], "b": ev[noise][:1] + ev[bug][:2]})
    assert (s.proposals, s.true_proposals, s.bug_proposals, s.bug_events_moved) == (2, 1, 1, 2)
    assert s.precision == 0.5 and s.found_noise == 1
