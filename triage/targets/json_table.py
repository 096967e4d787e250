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

from triage.rules import All, Condition, Leaf, Not, RuleTable
from triage.rules.regex_subset import Unsupported, translate
from triage.targets.common import LOWER_RUNS, Export, header_lines, leaf_value

TARGET = "json"
SCHEMA = "triage.rules/1"


def _cond(cond: Condition) -> dict[str, Any]:
    if isinstance(cond, Leaf):
        out: dict[str, Any] = {
            "field": cond.field,
            "op": cond.op,
            "value": cond.value,
            "case_sensitive": cond.case_sensitive,
        }
        if cond.op == "regex":
            try:
                out["portable"] = {
                    flavor: translate(cond.value, cond.case_sensitive, flavor)
                    for flavor in ("js", "rust")
                }
            except Unsupported as exc:
                out["portable_error"] = str(exc)
        else:
            out["compare"] = leaf_value(cond)
        return out
    if isinstance(cond, Not):
        return {"not": _cond(cond.item)}
    return {("all" if isinstance(cond, All) else "any"): [_cond(c) for c in cond.items]}


def table_dict(table: RuleTable) -> dict[str, Any]:
    """The normalized table as plain data."""
    return {
        "schema": SCHEMA,
        "generated": " ".join(header_lines(table, TARGET)),
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
                "when": _cond(r.condition),
                "examples": {
                    "match": [ex.fields for ex in r.match_examples],
                    "no_match": [ex.fields for ex in r.no_match_examples],
                },
            }
            for r in table.rules
        ],
    }


def export_json(table: RuleTable) -> Export:
    return Export(TARGET, json.dumps(table_dict(table), indent=2, ensure_ascii=False) + "\n")
