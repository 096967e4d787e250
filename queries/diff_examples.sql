-- Example messages per (group, head rule): the distinct texts a rule matched, most frequent first,
-- and (rule_id NULL) texts of the same group that stay in error volume under the head table.
-- Emails, IP addresses and credentials are masked (triage_mask): examples end up in PRs and chat.
-- Parameters: $head (ruleset hash), $groups (group keys, VARCHAR[]), $per (examples per row).
WITH picked AS (
    SELECT
        e.group_key,
        c.rule_id,
        triage_mask(
            coalesce(e.message, CASE WHEN e.exc_type IS NOT NULL
                                     THEN e.exc_type || ': ' || coalesce(e.exc_value, '')
                                     ELSE e.exc_value END, '')) AS text
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
