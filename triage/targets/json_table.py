"""The compiled, normalized rule table as JSON (schema ``triage.rules/1``), for any other target.

Conditions are explicit trees (``all``/``any``/``not``/leaf); every non-regex leaf carries the
value to compare (``compare``: lowered as DuckDB lowers when case-insensitive) and every regex leaf
its RE2 text plus the portable rewrites (``portable.js`` for ``new RegExp(p, "u")``,
``portable.rust`` for Rust's ``regex``/RE2), or ``portable_error`` when it has none.
``lowercase.runs`` is DuckDB's ``lower()`` as ``[first, last, delta, step]``.
"""

from __future__ import annotations

import json
from typing import Any

from triage.rules import Leaf, RuleTable
from triage.rules.casefold_data import LOWER_RUNS
from triage.rules.regex_subset import Unsupported, translate
from triage.targets.base import Export, Generator, header_lines, leaf_value

SCHEMA = "triage.rules/1"
LINE_BREAKS = ("\u0085", "\u2028", "\u2029")


class JSONTable(Generator):
    """Plain data: a leaf is a dict, the joiners are ``all``/``any``/``not`` keys. Nothing is
    refused: a regex with no portable form says why in ``portable_error``."""

    TARGET = "json"

    def leaf(self, leaf: Leaf, negate: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field": leaf.field,
            "op": leaf.op,
            "value": leaf.value,
            "case_sensitive": leaf.case_sensitive,
        }
        if leaf.op == "regex":
            try:
                out["portable"] = {
                    flavor: translate(leaf.value, leaf.case_sensitive, flavor)
                    for flavor in ("js", "rust")
                }
            except Unsupported as exc:
                out["portable_error"] = str(exc)
        else:
            out["compare"] = leaf_value(leaf)
        return out

    def conjunction(self, parts: list[Any]) -> dict[str, Any]:
        return {"all": parts}

    def disjunction(self, parts: list[Any]) -> dict[str, Any]:
        return {"any": parts}

    def negation(self, part: Any) -> dict[str, Any]:
        return {"not": part}

    def table_dict(self) -> dict[str, Any]:
        """The normalized table as plain data."""
        table = self.table
        return {
            "schema": SCHEMA,
            "generated": " ".join(header_lines(table, self.TARGET)),
            "name": table.name,
            "hash": table.hash,
            "description": table.description,
            "semantics": {
                "first_match_wins": True,
                "missing_field": "",
                "case_insensitive_text": "compare lower(field) (DuckDB's lower, see lowercase) "
                "with the leaf's `compare`",
                "regex": "RE2, partial match; case-insensitive per RE2's fold classes",
            },
            "lowercase": {"runs": [list(r) for r in LOWER_RUNS]},
            "rules": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "level": r.level,
                    "description": r.description,
                    "when": when,
                    "examples": {
                        "match": [ex.fields for ex in r.match_examples],
                        "no_match": [ex.fields for ex in r.no_match_examples],
                    },
                }
                for r, when in zip(table.rules, self.compile_rules(), strict=True)
            ],
        }

    def generate(self) -> Export:
        text = json.dumps(self.table_dict(), indent=2, ensure_ascii=False) + "\n"
        # JSON escapes C0 controls; these are valid raw in a string too, but editors and older
        # JavaScript read them as line breaks. They can only occur inside strings here.
        for ch in LINE_BREAKS:
            text = text.replace(ch, f"\\u{ord(ch):04x}")
        return Export(self.TARGET, text)


def table_dict(table: RuleTable) -> dict[str, Any]:
    return JSONTable(table).table_dict()


def export_json(table: RuleTable) -> Export:
    return JSONTable(table).generate()
