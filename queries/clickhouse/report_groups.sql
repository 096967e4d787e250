-- ClickHouse twin of ../report_groups.sql: one row per group, the same columns and verdicts.
-- Filled in by triage.analysis.clickhouse (the compiled rule table is SQL text, not a value):
--   {events}     a subquery of normalized events (triage_events, or Sentry's errors mapped)
--   {classified} the same events with `rule_idx`, the compiled first-match-wins rule index
--                (1-based, 0 when none; triage.targets.clickhouse.with_rule_index)
--   {rule_ids} {kinds} {levels}   Array(String) literals indexed by it
--   {threshold}  a Float64 literal
-- Where the dialects differ:
--   - classifications are not stored: Sentry's store is read-only, and ClickHouse classifies a
--     row about as fast as it would read a stored result back; the rule index is computed inline
--     per event (once: `ranked` is referenced once, as ClickHouse inlines each CTE reference).
--   - count(DISTINCT x) is uniqExact(x); FILTER (WHERE c) is the -If combinator.
--   - mode(x) is exact here: the most frequent value, the smallest on a tie (DuckDB's mode leaves
--     ties unspecified, so a title, level or kind may differ on a tie; counts never do).
--   - burst evidence (bursts.sql, window functions over LAG/LEAD) has no twin yet: burst columns
--     are 0/NULL and `polling` is false; top_user_share is computed.
--   - Sentry's issue counts (the DuckDB `groups` table) are not on ClickHouse: NULL.
WITH
ranked AS (
    SELECT
        group_key,
        level,
        user_id,
        ts,
        template,
        rule_idx,
        if(rule_idx = 0, NULL, arrayElement({rule_ids}, rule_idx)) AS rule_id,
        if(rule_idx = 0, NULL, arrayElement({kinds}, rule_idx)) AS kind,
        if(rule_idx = 0, level, arrayElement({levels}, rule_idx)) AS new_level,
        level IN ('error', 'fatal') AS in_error_volume,
        level IN ('error', 'fatal') AND rule_idx > 0 AND new_level NOT IN ('error', 'fatal')
            AS leaves_error_volume
    FROM ({classified})
),
top_users AS (
    SELECT group_key, max(n) AS top_user_events
    FROM (SELECT group_key, user_id, count() AS n FROM ({events})
          WHERE user_id IS NOT NULL GROUP BY group_key, user_id)
    GROUP BY group_key
),
grouped AS (
    SELECT
        group_key,
        {mode(template)} AS title,
        count() AS events,
        uniqExact(user_id) AS users,
        min(ts) AS first_seen,
        max(ts) AS last_seen,
        {mode(level)} AS level,
        {mode(kind)} AS kind,
        {mode(new_level)} AS new_level,
        countIf(rule_idx > 0) AS reclassified_events,
        countIf(in_error_volume) AS error_events,
        countIf(leaves_error_volume) AS leaving_events,
        arraySort(groupUniqArrayIf(assumeNotNull(rule_id), rule_idx > 0)) AS rules
    FROM ranked
    GROUP BY group_key
)
SELECT
    grouped.group_key AS `group`,
    grouped.group_key AS group_key,
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
    multiIf(
        error_events > 0 AND leaving_events >= {threshold} * error_events, 'downgrade',
        leaving_events > 0 OR (reclassified_events > 0 AND error_events = 0
                               AND reclassified_events < events), 'partial',
        'unchanged') AS verdict,
    rules,
    toUInt64(0) AS burst_events,
    toUInt64(0) AS bursting_users,
    round(ifNull(t.top_user_events, 0) / events, 4) AS top_user_share,
    CAST(NULL AS Nullable(Float64)) AS period_s,
    false AS polling,
    CAST(NULL AS Nullable(Int64)) AS sentry_events,
    CAST(NULL AS Nullable(Int64)) AS sentry_users
FROM grouped
LEFT JOIN top_users AS t ON t.group_key = grouped.group_key
ORDER BY leaving_events DESC, events DESC, `group`
