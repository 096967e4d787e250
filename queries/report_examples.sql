-- The most frequent raw texts of each charted group (message, else "type: value"), so a reader
-- sees a real instance beside the masked title. Emails, IP addresses and credentials are masked (triage_mask): reports end
-- up in PRs and chat. Parameters: $groups (group keys, VARCHAR[]), $per (examples per group).
WITH picked AS (
    SELECT
        group_key,
        triage_mask(
            coalesce(message, CASE WHEN exc_type IS NOT NULL
                                   THEN exc_type || ': ' || coalesce(exc_value, '')
                                   ELSE exc_value END, '')) AS text
    FROM events
    WHERE list_contains($groups::VARCHAR[], group_key)
),
counted AS (
    SELECT group_key, text, count(*) AS n FROM picked GROUP BY ALL
)
SELECT group_key AS "group", text, n
FROM counted
QUALIFY row_number() OVER (PARTITION BY group_key ORDER BY n DESC, text) <= $per
ORDER BY "group", n DESC, text
