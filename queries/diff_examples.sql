-- Example messages per (group, head rule): the distinct texts a rule matched, most frequent first,
-- and (rule_id NULL) texts of the same group that stay in error volume under the head table.
-- Emails and IP addresses are masked: examples end up in PRs and chat.
-- Parameters: $head (ruleset hash), $groups (group keys, VARCHAR[]), $per (examples per row).
WITH picked AS (
    SELECT
        e.group_key,
        c.rule_id,
        regexp_replace(regexp_replace(
            coalesce(e.message, CASE WHEN e.exc_type IS NOT NULL
                                     THEN e.exc_type || ': ' || coalesce(e.exc_value, '')
                                     ELSE e.exc_value END, ''),
            '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '<email>', 'g'),
            '\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b', '<ip>', 'g') AS text
    FROM events e
    LEFT JOIN classifications c ON c.event_id = e.event_id AND c.ruleset_hash = $head
    WHERE list_contains($groups::VARCHAR[], e.group_key)
      AND (c.rule_id IS NOT NULL OR e.level IN ('error', 'fatal'))
),
counted AS (
    SELECT group_key, rule_id, text, count(*) AS n FROM picked GROUP BY ALL
)
SELECT group_key AS "group", rule_id, text, n
FROM counted
QUALIFY row_number() OVER (PARTITION BY group_key, rule_id ORDER BY n DESC, text) <= $per
ORDER BY "group", rule_id NULLS LAST, n DESC, text
