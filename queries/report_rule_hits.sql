-- Events, groups and users each rule wins (first match) in the stored classification of a table.
-- Parameter: $ruleset_hash. Rules with no hits are added from the table itself (triage.html_report).
SELECT
    c.rule_id AS rule,
    any_value(c.kind) AS kind,
    any_value(c.new_level) AS new_level,
    count(*) AS events,
    count(DISTINCT e.group_key) AS "groups",
    count(DISTINCT e.user_id) AS users
FROM classifications c
JOIN events e ON e.event_id = c.event_id
WHERE c.ruleset_hash = $ruleset_hash
GROUP BY c.rule_id
ORDER BY events DESC, rule
