"""`rules lint` warns on rules that match an email address or an IP address literally.

A rule table is shared (it is compiled into TypeScript, Rust and Sentry's fingerprint rules), so
a literal address in it is personal data shipped with the app, and a rule about one user rather
than one condition.
"""

from __future__ import annotations

import pytest

from triage import rules
from triage.analysis.lint import lint


def _table(leaf: str) -> rules.RuleTable:
    return rules.parse(
        f'name = "t"\n[[rules]]\nid = "r"\nkind = "k"\nlevel = "info"\n{leaf}\n', name="t"
    )


@pytest.mark.parametrize(
    "leaf",
    [
        'field = "message"\ncontains = "login failed for alice.smith@example.com"',
        'field = "tags.user"\nequals = "bob@corp.example"',
        'field = "message"\ncontains = "connect to 10.1.2.3 refused"',
        'field = "message"\nregex = "from 192\\\\.168\\\\.0\\\\.17:\\\\d+"',
        'field = "message"\ncontains = "peer [2001:db8::1] reset"',
        'field = "message"\nregex = "user (carol|dave)@example\\\\.org"',
    ],
)
def test_a_literal_email_or_ip_is_a_warning(leaf):
    found = [f for f in lint(_table(leaf)) if f.check == "personal_data"]
    assert len(found) == 1, found
    f = found[0]
    assert f.severity == "warning" and f.rule == "r"
    assert "email" in f.message or "IP" in f.message


@pytest.mark.parametrize(
    "leaf",
    [
        'field = "message"\ncontains = "sentry-sdk v1.2.3.4 is too old"',  # a version
        'field = "message"\ncontains = "needs 10.15.7 or later"',  # 3 parts: a version
        'field = "release"\nprefix = "app@1.2.3"',  # a release name, not an email
        'field = "message"\nregex = "[\\\\w.]+@[\\\\w.]+"',  # a pattern for any email: no literal
        'field = "message"\ncontains = "timeout after 30.5 s"',
    ],
)
def test_versions_and_patterns_are_not_personal_data(leaf):
    assert not [f for f in lint(_table(leaf)) if f.check == "personal_data"]
