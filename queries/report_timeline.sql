-- Events per time bucket, per group and kind after re-classification: the HTML report's timelines.
-- Parameters: $ruleset_hash; $bucket ('hour' or 'day'); $groups (the group keys to chart,
-- VARCHAR[]). Times are UTC; events without a timestamp are left out (counted apart).
SELECT
    e.group_key AS "group",
    date_trunc($bucket, timezone('UTC', e.ts)) AS bucket,
    coalesce(c.kind, 'unclassified') AS kind,
    count(*) AS events
FROM events e
LEFT JOIN classifications c
    ON c.event_id = e.event_id AND c.ruleset_hash = $ruleset_hash
WHERE e.ts IS NOT NULL AND list_contains($groups::VARCHAR[], e.group_key)
GROUP BY ALL
ORDER BY "group", bucket, kind
