-- Candidate clusters for `triage suggest`: one row per (group, message template), with what the
-- current rule table does to its events and the evidence that they are an expected condition.
-- Parameters: $ruleset (hash of the current table, already classified), $crash_types (lowered
-- exception types of crashes, VARCHAR[]), $burst_min_events (see bursts.sql).
--
-- Each event is in one state under the current table:
--   open    in error volume and no rule matches it: what a new rule could move;
--   kept    a rule matches it and keeps it at error or fatal (say provider_auth): on purpose;
--   handled a rule matches it and moves it below error;
--   quiet   reported below error in the first place.
-- The cluster's text is where its open events carry it: the log message, else the exception
-- value (`field`); `top_texts` are its most frequent open texts, for examples and the search
-- for a distinctive literal.
WITH ev AS (
    SELECT
        e.event_id,
        e.group_key,
        e.template,
        e.user_id,
        e.ts,
        e.level,
        e.message,
        e.exc_type,
        e.exc_value,
        e.platform,
        e.logger,
        e.raw,
        c.rule_id,
        CASE
            WHEN e.level NOT IN ('error', 'fatal') THEN 'quiet'
            WHEN c.rule_id IS NULL THEN 'open'
            WHEN c.new_level IN ('error', 'fatal') THEN 'kept'
            ELSE 'handled'
        END AS state
    FROM events e
    LEFT JOIN classifications c ON c.event_id = e.event_id AND c.ruleset_hash = $ruleset
),
bursts AS (
    SELECT "group" AS group_key, "user" AS user_id, "start", "end", period_s, events AS run_events
    FROM triage_bursts(min_events := $burst_min_events)
),
in_burst AS (
    -- Open events inside a polling run of their user in their group.
    SELECT ev.event_id, b.period_s, b.run_events, ev.user_id
    FROM ev
    JOIN bursts b ON b.group_key = ev.group_key AND b.user_id = ev.user_id
                 AND ev.ts BETWEEN b."start" AND b."end"
    WHERE ev.state = 'open'
),
groups_ AS (
    SELECT group_key, count(*) AS group_events, mode(template) AS group_title,
           count(*) FILTER (WHERE state = 'open') AS group_open_events
    FROM ev GROUP BY group_key
),
per_user AS (
    SELECT group_key, template, user_id, count(*) AS n
    FROM ev WHERE state = 'open' AND user_id IS NOT NULL GROUP BY ALL
),
top_user AS (
    SELECT group_key, template, max(n) AS top_user_events FROM per_user GROUP BY ALL
),
texts AS (
    SELECT
        group_key,
        template,
        CASE WHEN message IS NULL AND exc_value IS NOT NULL THEN 'exception.value'
             ELSE 'message' END AS field,
        coalesce(message, exc_value, '') AS text,
        count(*) AS n
    FROM ev WHERE state = 'open' GROUP BY ALL
),
cluster_texts AS (
    SELECT
        group_key,
        template,
        -- The field most open events carry their text in; exception.value only when none has a
        -- log message.
        CASE WHEN bool_and(field = 'exception.value') THEN 'exception.value' ELSE 'message' END
            AS field,
        list({'text': text, 'n': n} ORDER BY n DESC, text)[1:8] AS top_texts,
        count(*) AS distinct_texts
    FROM texts GROUP BY ALL
),
clusters AS (
    SELECT
        ev.group_key,
        ev.template,
        count(*) AS events,
        count(*) FILTER (WHERE state = 'open') AS open_events,
        count(*) FILTER (WHERE state = 'kept') AS kept_events,
        count(*) FILTER (WHERE state = 'handled') AS handled_events,
        count(*) FILTER (WHERE state = 'quiet') AS quiet_events,
        count(DISTINCT user_id) FILTER (WHERE state = 'open') AS users,
        min(ts) FILTER (WHERE state = 'open') AS first_seen,
        max(ts) FILTER (WHERE state = 'open') AS last_seen,
        coalesce(list_sort(list_distinct(list(rule_id) FILTER (WHERE state = 'kept'))),
                 []::VARCHAR[]) AS kept_rules,
        mode(exc_type) AS exc_type,
        mode(platform) AS platform,
        mode(logger) AS logger,
        count(*) FILTER (WHERE level = 'fatal') AS fatal_events,
        count(*) FILTER (WHERE list_contains($crash_types::VARCHAR[], lower(exc_type)))
            AS crash_events,
        -- In-app frames are known only when the raw payload was kept (--keep-raw).
        count(*) FILTER (WHERE raw IS NOT NULL) AS raw_events,
        count(*) FILTER (WHERE raw IS NOT NULL AND regexp_matches(
            raw::VARCHAR, '"in_?app"\s*:\s*true', 'i')) AS in_app_events
    FROM ev
    GROUP BY ev.group_key, ev.template
),
burst_evidence AS (
    SELECT e.group_key, e.template, count(*) AS burst_events,
           count(DISTINCT b.user_id) AS bursting_users,
           arg_max(b.period_s, b.run_events) AS period_s
    FROM in_burst b JOIN ev e USING (event_id)
    GROUP BY ALL
)
SELECT
    c.group_key,
    c.template,
    g.group_title,
    g.group_events,
    g.group_open_events,
    c.events,
    c.open_events,
    c.kept_events,
    c.handled_events,
    c.quiet_events,
    c.users,
    c.first_seen,
    c.last_seen,
    coalesce(t.top_user_events, 0) AS top_user_events,
    CASE WHEN c.open_events > 0 THEN round(coalesce(t.top_user_events, 0) / c.open_events, 4)
         ELSE 0 END AS top_user_share,
    coalesce(b.burst_events, 0) AS burst_events,
    coalesce(b.bursting_users, 0) AS bursting_users,
    b.period_s,
    c.kept_rules,
    c.exc_type,
    c.platform,
    c.logger,
    c.fatal_events,
    c.crash_events,
    c.raw_events,
    c.in_app_events,
    coalesce(x.field, 'message') AS field,
    coalesce(x.top_texts, []) AS top_texts,
    coalesce(x.distinct_texts, 0) AS distinct_texts
FROM clusters c
JOIN groups_ g USING (group_key)
LEFT JOIN top_user t USING (group_key, template)
LEFT JOIN burst_evidence b USING (group_key, template)
LEFT JOIN cluster_texts x USING (group_key, template)
ORDER BY c.open_events DESC, c.events DESC, c.group_key, c.template
