-- What one regex condition of `triage suggest` would match (its last resort, when no literal
-- separates a cluster): the same figures as suggest_conditions.sql, over TEMP sg_inputs. One
-- pattern per query, so DuckDB compiles it once rather than once per row.
-- Parameters: $field (message | exception.value), $pattern, $group_key, $template.
WITH judged AS (
    SELECT
        group_key,
        n,
        is_open,
        group_key = $group_key AND template = $template AS own,
        regexp_matches(CASE $field WHEN 'message' THEN f_message ELSE f_exv END, $pattern, 'i')
            AS hit
    FROM sg_inputs
)
SELECT
    coalesce(sum(n) FILTER (WHERE own AND is_open AND hit), 0)::BIGINT AS pos_events,
    coalesce(sum(n) FILTER (WHERE NOT own AND hit), 0)::BIGINT AS other_events,
    coalesce(sum(n) FILTER (WHERE NOT own AND hit AND is_open), 0)::BIGINT AS other_open,
    count(DISTINCT group_key) FILTER (WHERE NOT own AND hit) AS other_groups
FROM judged
