"""The rules stage: a rule table (TOML), where it is read from, and the text semantics it fixes.

Nothing here imports another stage of ours: every target and analysis depends on this, never the
other way round.
"""

from triage.rules.table import (
    FIELDS,
    LEVEL_RANK,
    LEVELS,
    OPERATORS,
    TAG_PREFIX,
    All,
    Any_,
    Condition,
    Example,
    Leaf,
    Not,
    Rule,
    RuleError,
    RuleTable,
    builtin_names,
    did_you_mean,
    fields_of,
    leaves,
    load,
    parse,
    re2_error,
)

__all__ = [
    "FIELDS",
    "LEVELS",
    "LEVEL_RANK",
    "OPERATORS",
    "TAG_PREFIX",
    "All",
    "Any_",
    "Condition",
    "Example",
    "Leaf",
    "Not",
    "Rule",
    "RuleError",
    "RuleTable",
    "builtin_names",
    "did_you_mean",
    "fields_of",
    "leaves",
    "load",
    "parse",
    "re2_error",
]
