-- How the head table's rules spread over groups, by exception type, platform, logger and named tags:
-- one row per (rule, group, dimension, value) with its event count. The collateral check in
-- triage.diff compares a newly downgraded group with the rest of its rule's matches.
-- Parameters: $head (ruleset hash), $tags (tag names to compare, VARCHAR[]).
WITH m AS (
    SELECT c.rule_id, e.group_key, e.exc_type, e.platform, e.logger, e.tags
    FROM events e
    JOIN classifications c ON c.event_id = e.event_id AND c.ruleset_hash = $head
),
long AS (
    SELECT rule_id, group_key, 'exception.type' AS dim, exc_type AS value FROM m
    UNION ALL
    SELECT rule_id, group_key, 'platform' AS dim, platform AS value FROM m
    UNION ALL
    SELECT rule_id, group_key, 'logger' AS dim, logger AS value FROM m
    UNION ALL
    SELECT m.rule_id, m.group_key, 'tags.' || t.name AS dim, m.tags[t.name] AS value
    FROM m CROSS JOIN (SELECT unnest($tags::VARCHAR[]) AS name) t
)
SELECT rule_id, group_key AS "group", dim, coalesce(value, '') AS value, count(*) AS events
FROM long
GROUP BY ALL
ORDER BY rule_id, "group", dim, events DESC, value
