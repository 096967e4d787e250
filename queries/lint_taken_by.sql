-- For a rule with no hits: the earlier rules that win the events its condition matches.
-- {rule_case}: the compiled table; {condition}: the rule's own condition (both parameterised).
SELECT rule_idx, count(*) AS events
FROM (SELECT {rule_case} AS rule_idx, {condition} AS own FROM events)
WHERE own AND rule_idx IS NOT NULL
GROUP BY rule_idx
ORDER BY events DESC, rule_idx
