"""The fast tag and exception-chain macros give what the lenient forms give, on every shape."""

from __future__ import annotations

import pytest

from triage import store


@pytest.fixture
def con():
    c = store.connect(store.MEMORY)  # migrated, with the macros installed
    yield c
    c.close()


TAGS = [
    '{"a": 1, "b": true, "c": null, "d": {"x": 1}, "e": "s", "f": 3.50, "j": [1, "a"]}',
    "{}",
    '{"a": "first", "a": "second"}',  # duplicate key: the first wins
    '{"é": "ü", "k": "\\u00e9", "q": "x\\"y"}',
    '[["a", "1"], ["b", 2]]',
    '[{"key": "a", "value": "1"}]',
    "null",
    '"not tags"',
]


@pytest.mark.parametrize("value", TAGS)
def test_tags_fast_equals_lenient(con, value):
    fast, lenient = con.execute(
        "SELECT triage_tags(?::JSON), triage_tags_lenient(?::JSON)", [value, value]
    ).fetchone()
    assert fast == lenient


def test_tags_values_as_text_and_duplicates_first_wins(con):
    got = con.execute("SELECT triage_tags(?::JSON)", [TAGS[0]]).fetchone()[0]
    assert got == {
        "a": "1",
        "b": "true",
        "c": None,
        "d": '{"x":1}',
        "e": "s",
        "f": "3.5",
        "j": '[1,"a"]',
    }
    assert con.execute("SELECT triage_tags(?::JSON)", [TAGS[2]]).fetchone()[0] == {"a": "first"}


def test_tags_keep_an_empty_key(con):
    got = con.execute("""SELECT triage_tags('{"": "e", "k": "v"}'::JSON)""").fetchone()[0]
    assert got == {"": "e", "k": "v"}


CHAINS = [
    '{"values": [{"type": "A", "value": "x", "module": "m", "stacktrace": {"frames": [1]}},'
    ' {"type": "B", "value": 3}]}',
    '{"values": []}',
    '{"values": null}',
    '{"values": {"type": "A"}}',
    '[{"type": "A", "value": "v"}]',
    '{"type": "A", "value": "v"}',
    '{"values": [null, {"type": "A"}]}',
    '{"values": ["str", {"type": "A"}]}',
    '{"values": [{"type": {"x": 1}, "value": true}]}',
    "null",
    "{}",
]


@pytest.mark.parametrize("value", CHAINS)
def test_exception_chain_fast_equals_lenient(con, value):
    fast, lenient = con.execute(
        "SELECT triage_exc_chain(?::JSON), triage_exc_chain_lenient(?::JSON)", [value, value]
    ).fetchone()
    assert fast == lenient


def test_exception_chain_reads_type_value_module_in_order(con):
    got = con.execute("SELECT triage_exc_chain(?::JSON)", [CHAINS[0]]).fetchone()[0]
    assert got == [
        {"type": "A", "value": "x", "module": "m"},
        {"type": "B", "value": "3", "module": None},
    ]
