-- For the rules with no hits: the earlier rules that win the events each one's own condition
-- matches. Reads TEMP lint_rule_hits (input id, 0-based rule) and lint_events (triage.lint).
WITH winners AS (SELECT DISTINCT rule_idx FROM lint_events WHERE rule_idx IS NOT NULL)
SELECT h.k + 1 AS own, e.rule_idx, count(*) AS events
FROM lint_rule_hits h
JOIN lint_events e ON e.input_id = h.id
WHERE e.rule_idx IS NOT NULL AND h.k + 1 NOT IN (SELECT rule_idx FROM winners)
GROUP BY own, e.rule_idx
ORDER BY own, events DESC, e.rule_idx
