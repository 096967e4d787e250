-- The message templates in error volume that no rule of the table matches, most events first:
-- candidates for new rules. Parameters: $ruleset_hash, $limit.
SELECT
    e.template,
    count(*) AS events,
    count(DISTINCT e.user_id) AS users,
    count(DISTINCT e.group_key) AS "groups"
FROM events e
ANTI JOIN classifications c
    ON c.event_id = e.event_id AND c.ruleset_hash = $ruleset_hash
WHERE e.level IN ('error', 'fatal')
GROUP BY e.template
ORDER BY events DESC, e.template
LIMIT $limit
