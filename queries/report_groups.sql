-- One row per group: volume, users, time span, level before and after re-classification, verdict.
-- Parameters: $ruleset_hash, $threshold (share of error-volume events that must leave it for
-- a `downgrade` verdict), $burst_min_events (see bursts.sql).
-- Burst evidence per group: events in polling bursts, bursting users, the top user's share of the
-- group (bursting or not), the period of the group's largest burst, and `polling`: at least half
-- of the group's events are in bursts, so its volume says how long loops ran, not how many
-- users are hit.
WITH bursts AS (
    SELECT * FROM triage_bursts(min_events := $burst_min_events)
),
burst_evidence AS (
    SELECT
        "group" AS group_key,
        sum(events)::BIGINT AS burst_events,
        count(DISTINCT "user")::BIGINT AS bursting_users,
        arg_max(period_s, events) AS period_s
    FROM bursts
    GROUP BY 1
),
top_users AS (
    SELECT group_key, max(n) AS top_user_events
    FROM (SELECT group_key, user_id, count(*) AS n FROM events
          WHERE user_id IS NOT NULL GROUP BY ALL)
    GROUP BY 1
),
ranked AS (
    SELECT
        e.group_key,
        e.level,
        e.user_id,
        e.ts,
        e.template,
        e.group_source,
        e.group_basis,
        c.rule_id,
        c.kind,
        coalesce(c.new_level, e.level) AS new_level,
        e.level IN ('error', 'fatal') AS in_error_volume,
        e.level IN ('error', 'fatal') AND c.rule_id IS NOT NULL
            AND c.new_level NOT IN ('error', 'fatal') AS leaves_error_volume
    FROM events e
    LEFT JOIN classifications c
        ON c.event_id = e.event_id AND c.ruleset_hash = $ruleset_hash
),
grouped AS (
    SELECT
        group_key,
        mode(template) AS title,
        -- why these events are one group (docs/grouping.md): Sentry's own id, one lent by an
        -- event with the same computed hash, or the computed hash alone
        CASE WHEN bool_or(group_source = 'sentry') THEN 'sentry'
             WHEN bool_or(group_source = 'matched') THEN 'matched'
             ELSE 'computed' END AS group_source,
        mode(group_basis) AS group_basis,
        count(*) AS events,
        count(DISTINCT user_id) AS users,
        min(ts) AS first_seen,
        max(ts) AS last_seen,
        mode(level) AS level,
        mode(kind) AS kind,
        mode(new_level) AS new_level,
        count(rule_id) AS reclassified_events,
        count(*) FILTER (WHERE in_error_volume) AS error_events,
        count(*) FILTER (WHERE leaves_error_volume) AS leaving_events,
        coalesce(list_sort(list_distinct(list(rule_id) FILTER (WHERE rule_id IS NOT NULL))), []::VARCHAR[]) AS rules
    FROM ranked
    GROUP BY group_key
)
SELECT
    -- Sentry's short id names the group when an issues list, issue detail or Discover row gave it.
    coalesce(g.short_id, grouped.group_key) AS "group",
    grouped.group_key,
    title,
    events,
    users,
    first_seen,
    last_seen,
    level,
    kind,
    new_level,
    reclassified_events,
    round(reclassified_events / events, 4) AS reclassified_share,
    error_events,
    leaving_events,
    CASE
        WHEN error_events > 0 AND leaving_events >= $threshold * error_events THEN 'downgrade'
        WHEN leaving_events > 0 OR (reclassified_events > 0 AND error_events = 0
                                    AND reclassified_events < events) THEN 'partial'
        ELSE 'unchanged'
    END AS verdict,
    rules,
    coalesce(b.burst_events, 0) AS burst_events,
    coalesce(b.bursting_users, 0) AS bursting_users,
    round(coalesce(t.top_user_events, 0) / events, 4) AS top_user_share,
    b.period_s,
    coalesce(b.burst_events, 0) >= 0.5 * events AS polling,
    g.times_seen AS sentry_events,    -- Sentry's own count and userCount, beside the exported ones
    g.user_count AS sentry_users,
    group_source,
    group_basis
FROM grouped
LEFT JOIN burst_evidence b USING (group_key)
LEFT JOIN top_users t USING (group_key)
LEFT JOIN (
    SELECT id, short_id, times_seen, user_count FROM groups
    QUALIFY row_number() OVER (PARTITION BY coalesce(id, short_id) ORDER BY updated_at DESC) = 1
) g ON g.id = grouped.group_key OR (g.id IS NULL AND g.short_id = grouped.group_key)
ORDER BY leaving_events DESC, events DESC, "group"
