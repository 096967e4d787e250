"""The rule table: the one place a classification rule is written.

A table is TOML. Each ``[[rules]]`` entry has an ``id``, a ``kind``, the ``level`` matching events
should be reported at (or ``drop``), a condition, and ``examples``. A condition is a leaf
``{field = "message", contains = "..."}`` (operators: contains, equals, prefix, suffix, regex;
``case_sensitive = true`` to opt out of the case-insensitive default) or a combination
``all = [...]``, ``any = [...]``, ``not = {...}``. The condition may sit directly in the rule or
under ``when``. The first rule that matches an event wins.

This module only parses and validates; compilers (SQL, live hook, other languages) read the model.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Union

import re2

LEVELS = ("debug", "info", "warning", "error", "fatal")
LEVEL_RANK = {"drop": 0, "debug": 1, "info": 2, "warning": 3, "error": 4, "fatal": 5}
OPERATORS = ("contains", "equals", "prefix", "suffix", "regex")
FIELDS = (
    "message",
    "exception.type",
    "exception.value",
    "logger",
    "level",
    "platform",
    "transaction",
    "release",
    "environment",
    "project",
)
TAG_PREFIX = "tags."
TABLE_KEYS = ("name", "description", "rules")
COMBINATORS = ("all", "any", "not")
LEAF_KEYS = ("field", *OPERATORS, "case_sensitive")
CONDITION_KEYS = (*LEAF_KEYS, *COMBINATORS)


class RuleError(ValueError):
    """One or more rules are invalid; ``errors`` lists ``(rule_id, reason)``."""

    def __init__(self, source: str, errors: list[tuple[str, str]]):
        self.source = source
        self.errors = errors
        lines = [
            f"{source}: {reason}" if rid == "-" else f"{source}: rule {rid}: {reason}"
            for rid, reason in errors
        ]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Leaf:
    """One test of one field: ``field`` ``op`` ``value``."""

    field: str
    op: str
    value: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Any_:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Union[Leaf, All, Any_, Not]  # noqa: UP007 (a runtime alias, read by isinstance)


@dataclass(frozen=True)
class Example:
    """An input a rule must (or must not) match: a message, or several fields by name."""

    fields: dict[str, str]

    @property
    def label(self) -> str:
        if set(self.fields) == {"message"}:
            return self.fields["message"]
        return ", ".join(f"{k}={v!r}" for k, v in self.fields.items())


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    level: str
    condition: Condition
    description: str = ""
    match_examples: tuple[Example, ...] = ()
    no_match_examples: tuple[Example, ...] = ()


@dataclass(frozen=True)
class RuleTable:
    name: str
    rules: tuple[Rule, ...]
    source: str = ""
    content: str = ""
    description: str = ""
    hash: str = field(default="")

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def fields_of(cond: Condition) -> list[str]:
    """Every field a condition reads, in order of first use."""
    out: list[str] = []
    stack = [cond]
    while stack:
        c = stack.pop(0)
        if isinstance(c, Leaf):
            if c.field not in out:
                out.append(c.field)
        elif isinstance(c, Not):
            stack.append(c.item)
        else:
            stack.extend(c.items)
    return out


def leaves(cond: Condition) -> list[Leaf]:
    """Every leaf of a condition, depth first."""
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, Not):
        return leaves(cond.item)
    return [leaf for c in cond.items for leaf in leaves(c)]


# ---------------------------------------------------------------------------------------------
# Parsing


def did_you_mean(word: str, known) -> str:
    """`` (did you mean 'rules'?)`` for a near miss among ``known``, else ``""``."""
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_keys(keys, known, where: str) -> None:
    """Refuse keys a rule file cannot mean, naming the nearest known key: a typo such as
    ``contans`` must not turn into a different (or empty) condition."""
    unknown = [k for k in keys if k not in known]
    if unknown:
        k = unknown[0]
        more = f" (and {', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}unknown key {k!r}{did_you_mean(k, known)}{more}")


def _parse_condition(obj: Any, where: str) -> Condition:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: a condition must be a table, got {type(obj).__name__}")
    _unknown_keys(obj, CONDITION_KEYS, where)
    combos = [k for k in COMBINATORS if k in obj]
    ops = [k for k in OPERATORS if k in obj]
    if combos and (ops or "field" in obj):
        raise ValueError(f"{where}: mixes {combos[0]!r} with a field test; nest them instead")
    if len(combos) > 1:
        raise ValueError(f"{where}: has both {combos[0]!r} and {combos[1]!r}; nest them instead")
    if combos:
        key = combos[0]
        extra = set(obj) - {key}
        if extra:
            raise ValueError(f"{where}: unexpected key(s) {sorted(extra)} beside {key!r}")
        val = obj[key]
        if key == "not":
            return Not(_parse_condition(val, f"{where}.not"))
        if not isinstance(val, list) or not val:
            raise ValueError(f"{where}.{key}: must be a non-empty list of conditions")
        items = tuple(_parse_condition(v, f"{where}.{key}[{i}]") for i, v in enumerate(val))
        return All(items) if key == "all" else Any_(items)
    if "field" not in obj:
        raise ValueError(
            f"{where}: no condition (need field + one of {', '.join(OPERATORS)}, or all/any/not)"
        )
    fld = obj["field"]
    if not isinstance(fld, str) or not (
        fld in FIELDS or (fld.startswith(TAG_PREFIX) and len(fld) > len(TAG_PREFIX))
    ):
        raise ValueError(
            f"{where}: unknown field {fld!r}{did_you_mean(fld, FIELDS)} "
            f"(known: {', '.join(FIELDS)}, tags.NAME)"
        )
    if len(ops) != 1:
        raise ValueError(
            f"{where}: field {fld!r} needs exactly one operator of "
            f"{', '.join(OPERATORS)}, got {ops or 'none'}"
        )
    op = ops[0]
    value = obj[op]
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{where}: {op} needs a non-empty string, got {value!r}")
    cs = obj.get("case_sensitive", False)
    if not isinstance(cs, bool):
        raise ValueError(f"{where}: case_sensitive must be true or false, got {cs!r}")
    if op == "regex":
        _check_regex(value, where)
    return Leaf(fld, op, value, cs)


def re2_error(pattern: str) -> str | None:
    """Why RE2 refuses ``pattern`` (one line, without the pattern), or None when it compiles.

    RE2's own error logging (absl lines on stderr) is turned off: the caller reports the error
    once, naming the rule.
    """
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except Exception as exc:  # re2.error
        arg = exc.args[0] if exc.args else str(exc)
        text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
        # RE2 ends its message with ": <the part of the pattern>"; the caller shows the pattern.
        head, sep, _tail = text.partition(": ")
        return head if sep else text
    return None


def _check_regex(pattern: str, where: str) -> None:
    """Refuse what RE2 (DuckDB's regex engine) refuses, so SQL and the live hook agree."""
    reason = re2_error(pattern)
    if reason is not None:
        raise ValueError(f"{where}: regex '{pattern}' is not valid RE2: {reason}")
    if _has_bare_named_group(pattern):
        # Newer RE2 (python google-re2, ClickHouse) accepts (?<name>..); DuckDB's refuses it.
        raise ValueError(
            f"{where}: regex {pattern!r} uses a (?<name>...) group, which DuckDB's RE2 refuses: "
            "write (?P<name>...) or (?:...)"
        )


def _has_bare_named_group(pattern: str) -> bool:
    """Whether ``pattern`` opens a group with ``(?<`` (outside escapes and character classes)."""
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            i += 1
            if pattern.startswith("^", i):
                i += 1
            if pattern.startswith("]", i):  # a leading ] is a literal member
                i += 1
            continue
        elif pattern.startswith("(?<", i):
            return True
        i += 1
    return False


def _parse_examples(obj: Any, where: str) -> tuple[Example, ...]:
    if obj is None:
        return ()
    if not isinstance(obj, list):
        raise ValueError(f"{where}: must be a list")
    out = []
    for i, ex in enumerate(obj):
        if isinstance(ex, str):
            out.append(Example({"message": ex}))
        elif isinstance(ex, dict) and ex and all(isinstance(v, str) for v in ex.values()):
            bad = [k for k in ex if k not in FIELDS and not k.startswith(TAG_PREFIX)]
            if bad:
                raise ValueError(f"{where}[{i}]: unknown field(s) {bad}")
            out.append(Example(dict(ex)))
        else:
            raise ValueError(f"{where}[{i}]: an example is a string or a table of field strings")
    return tuple(out)


RULE_KEYS = {"id", "kind", "level", "description", "examples", "when"}


def _parse_rule(obj: Any, index: int) -> Rule:
    rid = obj.get("id") if isinstance(obj, dict) else None
    label = rid if isinstance(rid, str) and rid else f"#{index + 1}"
    if not isinstance(obj, dict):
        raise RuleError("", [(label, "a rule must be a table")])
    if "when" not in obj:
        _unknown_keys(obj, (*RULE_KEYS, *CONDITION_KEYS), "")
    if not isinstance(rid, str) or not rid.strip():
        raise ValueError("missing id")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError("missing kind")
    level = obj.get("level")
    if level not in LEVEL_RANK:
        raise ValueError(f"level must be one of {', '.join(LEVEL_RANK)}, got {level!r}")
    cond_obj = obj.get("when")
    if cond_obj is None:
        cond_obj = {k: v for k, v in obj.items() if k not in RULE_KEYS}
    else:
        extra = set(obj) - RULE_KEYS
        if extra:
            _unknown_keys(extra, RULE_KEYS, "")
    condition = _parse_condition(cond_obj, "condition")
    examples = obj.get("examples") or {}
    if not isinstance(examples, dict):
        raise ValueError("examples must be a table with match / no_match lists")
    unknown = set(examples) - {"match", "no_match"}
    if unknown:
        raise ValueError(f"examples: unexpected key(s) {sorted(unknown)}")
    return Rule(
        id=rid,
        kind=kind,
        level=level,
        condition=condition,
        description=str(obj.get("description", "")),
        match_examples=_parse_examples(examples.get("match"), "examples.match"),
        no_match_examples=_parse_examples(examples.get("no_match"), "examples.no_match"),
    )


def parse(
    text: str,
    *,
    name: str | None = None,
    source: str = "<string>",
    require_rules: bool = False,
) -> RuleTable:
    """Parse and validate a rule table; raise RuleError naming every bad rule by id.

    ``require_rules``: a table without a ``rules`` key is an error (in a rule *file* that is a
    mistake, such as ``[[rule]]`` for ``[[rules]]``); ``rules = []`` says empty on purpose.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(source, [("-", f"not valid TOML: {exc}")]) from None
    unknown = [k for k in doc if k not in TABLE_KEYS]
    if unknown:
        errors_ = [
            (
                "-",
                f"unknown key {k!r}{did_you_mean(k, TABLE_KEYS)} "
                f"(a rule table has {', '.join(TABLE_KEYS)}; each rule is a [[rules]] entry)",
            )
            for k in unknown
        ]
        raise RuleError(source, errors_)
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list):
        raise RuleError(source, [("-", "`rules` must be an array of tables ([[rules]])")])
    if "rules" not in doc and require_rules:  # `rules = []` says "empty on purpose"
        raise RuleError(
            source,
            [
                (
                    "-",
                    "no rules: add at least one [[rules]] entry "
                    "(or `rules = []` for an empty table on purpose)",
                )
            ],
        )
    rules: list[Rule] = []
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, obj in enumerate(raw_rules):
        rid = obj.get("id") if isinstance(obj, dict) else None
        label = rid if isinstance(rid, str) and rid else f"#{i + 1}"
        try:
            rule = _parse_rule(obj, i)
        except RuleError as exc:
            errors.extend(exc.errors)
            continue
        except ValueError as exc:
            errors.append((label, str(exc)))
            continue
        if rule.id in seen:
            errors.append((rule.id, "duplicate id"))
            continue
        seen.add(rule.id)
        rules.append(rule)
    if errors:
        raise RuleError(source, errors)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return RuleTable(
        name=name or str(doc.get("name") or Path(source).stem),
        rules=tuple(rules),
        source=source,
        content=text,
        description=str(doc.get("description", "")),
        hash=digest,
    )


def builtin_names() -> list[str]:
    """Names of the rule tables that ship with the package."""
    folder = resources.files("triage.rules.rulesets")
    return sorted(e.name[:-5] for e in folder.iterdir() if e.name.endswith(".toml"))


def load(spec: str | Path | RuleTable = "openhuman") -> RuleTable:
    """A rule table by built-in name (``openhuman``, ``default``, ...) or by path."""
    if isinstance(spec, RuleTable):
        return spec
    spec_s = str(spec)
    path = Path(spec_s)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"rule table {spec_s} not found")
        return parse(path.read_text(encoding="utf-8"), source=str(path), require_rules=True)
    if spec_s in builtin_names():
        res = resources.files("triage.rules.rulesets").joinpath(f"{spec_s}.toml")
        return parse(
            res.read_text(encoding="utf-8"),
            name=spec_s,
            source=f"builtin:{spec_s}",
            require_rules=True,
        )
    raise FileNotFoundError(
        f"no rule table {spec_s!r}: give a path to a .toml file or one of "
        f"{', '.join(builtin_names())}"
    )
