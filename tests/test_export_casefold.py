"""The frozen case tables still say what the installed DuckDB does."""

from __future__ import annotations

import duckdb

from triage.analysis.examples import matches
from triage.rules import parse
from triage.rules.casefold import LOWER_MAP, fold_class, lower


def _scalars(start: int, stop: int) -> str:
    return "".join(chr(c) for c in range(start, stop) if not 0xD800 <= c <= 0xDFFF)


def test_lower_equals_duckdb_lower_on_every_code_point():
    con = duckdb.connect()
    step = 0x8000
    for start in range(0, 0x110000, step):
        text = _scalars(start, start + step)
        assert con.execute("SELECT lower(?)", [text]).fetchone()[0] == lower(text), hex(start)


def test_lower_differs_from_python_where_it_matters():
    assert lower("İSTANBUL") == "istanbul" != "İSTANBUL".lower()
    assert lower("ΟΔΟΣ") == "οδοσ" != "ΟΔΟΣ".lower()  # no final sigma in DuckDB
    assert len(LOWER_MAP) > 1000


def test_fold_classes_are_re2s():
    con = duckdb.connect()
    for cp in (ord("k"), ord("s"), 0x212A, 0x17F, ord("ß"), 0x3A3):
        members = fold_class(cp)
        for other in members:
            assert con.execute(
                "SELECT regexp_matches(chr(?), '^' || chr(?) || '$', 'i')", [other, cp]
            ).fetchone()[0]
    assert set(fold_class(ord("k"))) == {ord("k"), ord("K"), 0x212A}


def test_sql_lowers_a_rule_value_as_it_lowers_the_event():
    # 'İstanbul'.lower() in Python is 'i̇stanbul' (i + combining dot), which the event text
    # lowered by DuckDB never contains; the compiler must lower the value DuckDB's way.
    t = parse('[[rules]]\nid="r"\nkind="k"\nlevel="info"\nfield="message"\ncontains="İstanbul"')
    from triage.rules import Example

    got = matches(t.rules[0], [Example({"message": "İSTANBUL office"}), Example({"message": "x"})])
    assert got == [True, False]
