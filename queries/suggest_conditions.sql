-- What each proposed condition would match, over every stored event, in one pass: for
-- `triage suggest`'s search for the narrowest condition that covers a cluster and nothing else.
-- Reads TEMP sg_conds (cand, group_key, template, field, op, value, value2; contains values
-- already lowered as DuckDB lowers) and the current table's classifications ($ruleset).
-- Per condition: the cluster's open events it covers (pos_events of pos_total), and what it
-- matches outside the cluster: events, open events (which a new rule would move), and groups.
WITH ev AS (
    SELECT
        e.group_key,
        e.template,
        coalesce(e.message, e.exc_value, '') AS f_message,
        coalesce(e.exc_value, '') AS f_exv,
        e.level IN ('error', 'fatal') AND c.rule_id IS NULL AS is_open
    FROM events e
    LEFT JOIN classifications c ON c.event_id = e.event_id AND c.ruleset_hash = $ruleset
),
inputs AS (
    SELECT group_key, template, f_message, f_exv, lower(f_message) AS l_message,
           lower(f_exv) AS l_exv, is_open, count(*) AS n
    FROM ev GROUP BY ALL
),
judged AS (
    SELECT
        c.cand,
        i.group_key,
        i.n,
        i.is_open,
        i.group_key = c.group_key AND i.template = c.template AS own,
        CASE
            WHEN c.op = 'contains' THEN
                contains(CASE c.field WHEN 'message' THEN i.l_message ELSE i.l_exv END, c.value)
                AND (c.value2 IS NULL OR contains(
                    CASE c.field WHEN 'message' THEN i.l_message ELSE i.l_exv END, c.value2))
            ELSE regexp_matches(CASE c.field WHEN 'message' THEN i.f_message ELSE i.f_exv END,
                                c.value, 'i')
        END AS hit
    FROM sg_conds c CROSS JOIN inputs i
)
SELECT
    cand,
    coalesce(sum(n) FILTER (WHERE own AND is_open AND hit), 0)::BIGINT AS pos_events,
    coalesce(sum(n) FILTER (WHERE own AND is_open), 0)::BIGINT AS pos_total,
    coalesce(sum(n) FILTER (WHERE NOT own AND hit), 0)::BIGINT AS other_events,
    coalesce(sum(n) FILTER (WHERE NOT own AND hit AND is_open), 0)::BIGINT AS other_open,
    count(DISTINCT group_key) FILTER (WHERE NOT own AND hit) AS other_groups
FROM judged
GROUP BY cand
ORDER BY cand
