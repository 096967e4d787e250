-- The message templates in error volume that no rule matches, most events first: candidates for
-- new rules. Reads TEMP lint_events (triage.lint); the parameter is the limit.
SELECT template, count(*) AS events, count(DISTINCT user_id) AS users,
       count(DISTINCT group_key) AS "groups"
FROM lint_events
WHERE rule_idx IS NULL AND level IN ('error', 'fatal')
GROUP BY template
ORDER BY events DESC, template
LIMIT ?
