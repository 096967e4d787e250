-- For a rule with no hits: the earlier rules that win the events its own condition matches.
-- {own} is the rule's condition column in TEMP lint_events (r1, r2, ...).
SELECT rule_idx, count(*) AS events
FROM lint_events
WHERE {own} AND rule_idx IS NOT NULL
GROUP BY rule_idx
ORDER BY events DESC, rule_idx
