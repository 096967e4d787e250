"""Case mapping exactly as DuckDB does it, so every target agrees with the SQL classifier.

DuckDB's ``lower()`` maps each code point to one code point (``'İ'`` -> ``'i'``, ``'Σ'`` -> ``'σ'``
everywhere), while Python's ``str.lower`` (and JavaScript's ``toLowerCase``, Rust's
``to_lowercase``) apply Unicode's SpecialCasing: ``'İ'`` -> ``'i̇'`` (two code points), a final
``'Σ'`` -> ``'ς'``. A rule whose ``contains`` test reads the lowered text must lower the same way
in the live hook and in generated code, so the table is frozen from DuckDB itself
(``scripts/gen_casefold.py``; ``tests/test_export_casefold.py`` re-checks it against the installed
DuckDB). Regex case-insensitivity is RE2's and uses its own equivalence classes (``FOLD_CLASSES``).
"""

from __future__ import annotations

from triage.rules.casefold_data import FOLD_CLASSES, LOWER_RUNS


def _lower_map() -> dict[int, int]:
    out: dict[int, int] = {}
    for first, last, delta, step in LOWER_RUNS:
        for cp in range(first, last + 1, step):
            out[cp] = cp + delta
    return out


LOWER_MAP: dict[int, int] = _lower_map()
_FOLD: dict[int, tuple[int, ...]] = {cp: cl for cl in FOLD_CLASSES for cp in cl}


def lower(text: str) -> str:
    """``text`` lowered as DuckDB's ``lower()`` lowers it (one code point to one)."""
    if text.isascii():
        return text.lower()
    return text.translate(LOWER_MAP)


def fold_class(cp: int) -> tuple[int, ...]:
    """Every code point RE2 matches case-insensitively for ``cp`` (``cp`` alone when uncased)."""
    return _FOLD.get(cp, (cp,))
