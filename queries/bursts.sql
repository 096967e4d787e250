-- Polling bursts: runs of one user's events in one stream at a steady period.
-- Loaded into every connection as a TEMP table macro (see triage.store.install_macros):
--
--   SELECT * FROM triage_bursts();                                   -- per (group, user)
--   SELECT * FROM triage_bursts(min_events := 20, by_tag := 'method'); -- per (user, tag value)
--
-- A stream is the events of one user in one group, or, with by_tag, the events of one user that
-- carry that tag with one value (a loop on one RPC method, whatever error it hits); events with
-- no user, no timestamp, or (with by_tag) without the tag are not attributed to any stream.
--
-- 1. Inter-arrival dt per stream (LAG).
-- 2. A run starts where dt is more than gap_factor times the local period, taken as the larger of
--    the median dt of the `k` gaps before and the `k` gaps after. Medians, so one gap or one
--    stray event in the window does not move the estimate; the larger of the two, so the first
--    gap of a slower run after a faster one is not cut, and a gap between two runs is cut
--    whatever their periods.
-- 3. Per run: events, start, end, median dt (the gaps inside the run only), and
--    regularity = 1 - MAD(dt) / median(dt), clamped at 0. MAD over median is a robust
--    coefficient of variation: a few missed polls or stray events move neither the median nor
--    the MAD, where a standard deviation would blow up. 1 is clockwork; polls with +-20 % jitter
--    score about 0.85-0.9; random clicks (exponential gaps) about 0.3; exponential backoff lower.
-- 4. period = span / round(span / median dt): the span divided by the number of periods it
--    holds. It averages the jitter of every poll instead of taking one middle gap, and a few
--    missed polls (gaps of 2 periods) do not bias it, as they would a plain mean.
-- 5. A burst: at least min_events events and regularity >= min_regularity.
CREATE OR REPLACE TEMP MACRO triage_bursts(
    min_events := 20,
    min_regularity := 0.75,
    gap_factor := 4.0,
    by_tag := NULL,
    k := 10
) AS TABLE
WITH src AS (
    SELECT
        group_key,
        user_id,
        CASE WHEN by_tag IS NULL THEN group_key ELSE tags[by_tag] END AS stream,
        epoch(ts) AS t
    FROM events
    WHERE ts IS NOT NULL AND user_id IS NOT NULL
      AND (by_tag IS NULL OR tags[by_tag] IS NOT NULL)
),
gaps AS (
    SELECT *, t - lag(t) OVER w AS dt
    FROM src
    WINDOW w AS (PARTITION BY user_id, stream ORDER BY t, group_key)
),
cuts AS (
    SELECT
        *,
        dt IS NULL OR coalesce(dt > gap_factor * greatest(
            median(dt) OVER (w ROWS BETWEEN k PRECEDING AND 1 PRECEDING),
            median(dt) OVER (w ROWS BETWEEN 1 FOLLOWING AND k FOLLOWING)), false) AS run_start
    FROM gaps
    WINDOW w AS (PARTITION BY user_id, stream ORDER BY t, group_key)
),
runs AS (
    SELECT
        *,
        sum(run_start::INTEGER) OVER (
            PARTITION BY user_id, stream ORDER BY t, group_key ROWS UNBOUNDED PRECEDING
        ) AS run_id
    FROM cuts
),
run_stats AS (
    SELECT
        user_id,
        stream,
        run_id,
        count(*) AS events,
        min(t) AS t0,
        max(t) AS t1,
        median(dt) FILTER (WHERE NOT run_start) AS median_dt,
        mad(dt) FILTER (WHERE NOT run_start) AS mad_dt
    FROM runs
    GROUP BY ALL
    HAVING count(*) >= min_events
),
burst_runs AS (
    SELECT
        *,
        greatest(0.0, 1.0 - mad_dt / median_dt) AS regularity,
        (t1 - t0) / greatest(1, round((t1 - t0) / median_dt)) AS period_s
    FROM run_stats
    WHERE median_dt > 0 AND greatest(0.0, 1.0 - mad_dt / median_dt) >= min_regularity
),
-- The group a burst belongs to: its stream's group, or with by_tag the group most of its events
-- are in; its share is the burst's events in that group over all of that group's events.
burst_groups AS (
    SELECT r.user_id, r.stream, r.run_id, r.group_key, count(*) AS n
    FROM runs r
    SEMI JOIN burst_runs b USING (user_id, stream, run_id)
    GROUP BY ALL
),
dominant AS (
    SELECT user_id, stream, run_id, arg_max(group_key, n) AS group_key, max(n) AS in_group,
           count(*) AS groups
    FROM burst_groups
    GROUP BY ALL
),
group_sizes AS (
    SELECT group_key, count(*) AS group_events FROM events GROUP BY group_key
)
SELECT
    d.group_key AS "group",
    b.user_id AS "user",
    CASE WHEN by_tag IS NULL THEN NULL ELSE b.stream END AS tag_value,
    b.events,
    to_timestamp(b.t0) AS "start",
    to_timestamp(b.t1) AS "end",
    round(b.period_s, 3) AS period_s,
    round(b.median_dt, 3) AS median_dt_s,
    round(b.regularity, 3) AS regularity,
    d.groups,
    s.group_events,
    round(d.in_group / s.group_events, 4) AS share
FROM burst_runs b
JOIN dominant d USING (user_id, stream, run_id)
JOIN group_sizes s ON s.group_key = d.group_key
ORDER BY b.events DESC, "group", "user", "start";
