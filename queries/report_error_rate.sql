-- Error volume before and after re-classification, and the span it is spread over.
-- Parameter: $ruleset_hash. An event is in error volume at level error or fatal.
SELECT
    count(*) FILTER (WHERE e.level IN ('error', 'fatal')) AS error_before,
    count(*) FILTER (WHERE coalesce(c.new_level, e.level) IN ('error', 'fatal')) AS error_after,
    count(*) FILTER (WHERE e.ts IS NULL) AS no_timestamp,
    min(e.ts) AS first_ts,
    max(e.ts) AS last_ts
FROM events e
LEFT JOIN classifications c
    ON c.event_id = e.event_id AND c.ruleset_hash = $ruleset_hash
