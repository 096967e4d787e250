-- The message templates in error volume that no rule matches, most events first: candidates for
-- new rules. {rule_case}: the compiled table (parameterised); the last parameter is the limit.
SELECT template, count(*) AS events, count(DISTINCT user_id) AS users,
       count(DISTINCT group_key) AS "groups"
FROM (SELECT {rule_case} AS rule_idx, template, user_id, group_key, level FROM events)
WHERE rule_idx IS NULL AND level IN ('error', 'fatal')
GROUP BY template
ORDER BY events DESC, template
LIMIT ?
