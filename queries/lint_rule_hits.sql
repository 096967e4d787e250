-- Events and groups each rule wins (first match). Reads TEMP lint_events (triage.lint).
SELECT rule_idx, count(*) AS events, count(DISTINCT group_key) AS "groups"
FROM lint_events
WHERE rule_idx IS NOT NULL
GROUP BY rule_idx
