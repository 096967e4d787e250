-- Events and groups each rule wins (first match), over the stored events.
-- {rule_case} is the compiled rule table (triage.compile_sql); its patterns are ? parameters.
SELECT rule_idx, count(*) AS events, count(DISTINCT group_key) AS "groups"
FROM (SELECT {rule_case} AS rule_idx, group_key FROM events)
WHERE rule_idx IS NOT NULL
GROUP BY rule_idx
