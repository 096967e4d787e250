-- What changes per group between two rule tables, both already classified (see triage.classify).
-- Parameters: $base, $head (ruleset hashes), $threshold (share of a group's error events that must
-- leave error volume for a `downgrade` verdict, as in report_groups.sql).
-- An event is in error volume when its level (after re-classification) is error or fatal.
WITH ev AS (
    SELECT
        e.group_key,
        e.user_id,
        e.ts,
        e.template,
        e.level,
        e.level IN ('error', 'fatal') AS in_error,
        b.rule_id AS base_rule,
        b.kind AS base_kind,
        coalesce(b.new_level, e.level) AS base_level,
        h.rule_id AS head_rule,
        h.kind AS head_kind,
        coalesce(h.new_level, e.level) AS head_level
    FROM events e
    LEFT JOIN classifications b ON b.event_id = e.event_id AND b.ruleset_hash = $base
    LEFT JOIN classifications h ON h.event_id = e.event_id AND h.ruleset_hash = $head
),
flagged AS (
    SELECT
        *,
        base_level IN ('error', 'fatal') AS base_error,
        head_level IN ('error', 'fatal') AS head_error,
        base_kind IS DISTINCT FROM head_kind OR base_level IS DISTINCT FROM head_level AS changed
    FROM ev
),
grouped AS (
    SELECT
        group_key,
        mode(template) AS title,
        count(*) AS events,
        count(DISTINCT user_id) AS users,
        min(ts) AS first_seen,
        max(ts) AS last_seen,
        mode(level) AS level,
        mode(base_kind) AS base_kind,
        mode(base_level) AS base_level,
        mode(head_kind) AS head_kind,
        mode(head_level) AS head_level,
        count(base_rule) AS base_reclassified,
        count(head_rule) AS head_reclassified,
        count(*) FILTER (WHERE in_error) AS error_events,
        count(*) FILTER (WHERE base_error) AS base_error_events,
        count(*) FILTER (WHERE head_error) AS head_error_events,
        count(*) FILTER (WHERE in_error AND NOT base_error) AS base_leaving,
        count(*) FILTER (WHERE in_error AND NOT head_error) AS head_leaving,
        count(*) FILTER (WHERE base_error AND NOT head_error) AS leaving_events,
        count(*) FILTER (WHERE head_error AND NOT base_error) AS entering_events,
        count(DISTINCT user_id) FILTER (WHERE base_error <> head_error) AS moving_users,
        count(*) FILTER (WHERE changed) AS changed_events,
        coalesce(list_sort(list_distinct(
            list(base_rule) FILTER (WHERE changed AND base_rule IS NOT NULL))), []::VARCHAR[]
        ) AS base_rules,
        coalesce(list_sort(list_distinct(
            list(head_rule) FILTER (WHERE changed AND head_rule IS NOT NULL))), []::VARCHAR[]
        ) AS head_rules
    FROM flagged
    GROUP BY group_key
),
verdicts AS (
    SELECT
        *,
        CASE
            WHEN error_events > 0 AND base_leaving >= $threshold * error_events THEN 'downgrade'
            WHEN base_leaving > 0 OR (base_reclassified > 0 AND error_events = 0
                                      AND base_reclassified < events) THEN 'partial'
            ELSE 'unchanged'
        END AS base_verdict,
        CASE
            WHEN error_events > 0 AND head_leaving >= $threshold * error_events THEN 'downgrade'
            WHEN head_leaving > 0 OR (head_reclassified > 0 AND error_events = 0
                                      AND head_reclassified < events) THEN 'partial'
            ELSE 'unchanged'
        END AS head_verdict
    FROM grouped
)
SELECT
    group_key AS "group",
    -- Sentry's short id (OPENHUMAN-TAURI-1N) when an issues export named the group: for display.
    (SELECT g.short_id FROM groups g
     WHERE g.id = verdicts.group_key OR (g.id IS NULL AND g.short_id = verdicts.group_key)
     ORDER BY g.updated_at DESC LIMIT 1) AS short_id,
    CASE
        WHEN base_verdict <> 'downgrade' AND head_verdict = 'downgrade' THEN 'newly_downgraded'
        WHEN base_verdict = 'downgrade' AND head_verdict <> 'downgrade' THEN 'no_longer_downgraded'
        WHEN changed_events > 0 THEN 'changed_kind'
        ELSE 'unchanged'
    END AS section,
    title,
    events,
    users,
    first_seen,
    last_seen,
    level,
    base_kind,
    base_level,
    base_verdict,
    head_kind,
    head_level,
    head_verdict,
    error_events,
    base_error_events,
    head_error_events,
    leaving_events,
    entering_events,
    leaving_events + entering_events AS moving_events,
    moving_users,
    changed_events,
    base_rules,
    head_rules
FROM verdicts
ORDER BY leaving_events DESC, entering_events DESC, changed_events DESC, events DESC, "group"
