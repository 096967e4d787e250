-- Polling bursts: runs of one user's events in one stream at a steady period.
-- A TEMP table macro, created on the connection when needed (triage.bursts.install_macro):
--
--   SELECT * FROM triage_bursts();                                   -- per (group, user)
--   SELECT * FROM triage_bursts(min_events := 20, by_tag := 'method'); -- per (user, tag value)
--
-- A stream is the events of one user in one group, or, with by_tag, the events of one user that
-- carry that tag with one value (a loop on one RPC method, whatever error it hits); events with
-- no user, no timestamp, or (with by_tag) without the tag are not attributed to any stream.
--
-- 1. Inter-arrival dt per stream (LAG).
-- 2. A run starts where dt is more than gap_factor times the local period on either side: the
--    median dt of the `k` gaps before, or of the `k` gaps after. Medians, so one gap or one
--    stray event in the window does not move the estimate; either side, so a run is cut from
--    stray events hours before or after it even when those strays are several (their own gaps
--    would make the median on their side large). The cost: when a loop slows down with no pause
--    (5 s, then 60 s), the first few polls of the slow part stand alone until the window before
--    them is mostly slow gaps, so that run starts about k/2 polls late.
-- 3. Per run: events, start, end, median dt (the gaps inside the run only), and
--    regularity = 1 - MAD(dt) / median(dt), clamped at 0. MAD over median is a robust
--    coefficient of variation: a few missed polls or stray events move neither the median nor
--    the MAD, where a standard deviation would blow up. 1 is clockwork; on the scenarios of
--    triage.scenarios, polls with up to +-20 % jitter score 0.84 or more, users clicking at
--    random and retries with exponential backoff 0.65 or less: hence min_regularity 0.8.
-- 4. period = span / periods, where each gap counts round(dt / median dt) periods: 1 for a
--    poll, 2 across a missed poll, 0 for a stray event just after a poll. It averages the jitter
--    of every poll (a poll's jitter only moves the span's ends) instead of taking one middle
--    gap, and missed polls do not bias it as they would a plain mean. The median alone is off by
--    1.3 % (one standard error) for 40 polls with +-20 % jitter; this is off by at most
--    0.4 / 40 = 1 %, less for longer runs. (span / round(span / median) would need the median
--    within 1 / (2 * polls) to count right, and fails on long jittery runs.)
--    A stray event (a manual retry) in the middle of a period cuts it into two gaps that round
--    to 1 + 1 or 0 + 0. An event is taken as a stray when its two gaps together sit much closer
--    to a whole number of periods than apart (by 0.3 period or more, the gain), and more so
--    than for its neighbours; its two gaps then count as the whole number they make together.
-- 5. A burst: at least min_events events and regularity >= min_regularity.
--    gap_factor 6: three missed polls in a row (a gap of 4 periods) must not cut a run.
CREATE OR REPLACE TEMP MACRO triage_bursts(
    min_events := 20,
    min_regularity := 0.8,
    gap_factor := 6.0,
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
        dt IS NULL OR coalesce(dt > gap_factor * least(
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
run_medians AS (
    SELECT
        *,
        median(CASE WHEN run_start THEN NULL ELSE dt END) OVER run AS run_median,
        count(*) OVER run AS run_events
    FROM runs
    WINDOW run AS (PARTITION BY user_id, stream, run_id)
),
-- Runs long enough to be bursts, with the gap after each event, to spot stray events.
candidates AS (
    SELECT
        *,
        lead(dt) OVER (PARTITION BY user_id, stream, run_id ORDER BY t, group_key) AS next_dt
    FROM run_medians
    WHERE run_events >= min_events
),
-- In periods: a = this event's gap before, b = its gap after.
pairs AS (
    SELECT
        *,
        CASE WHEN NOT run_start THEN round(dt / run_median) END AS periods_in_gap,
        round(dt / run_median) + round(next_dt / run_median)
            - round((dt + next_dt) / run_median) AS excess,
        abs(dt / run_median - round(dt / run_median))
            + abs(next_dt / run_median - round(next_dt / run_median))
            - abs((dt + next_dt) / run_median - round((dt + next_dt) / run_median)) AS stray_gain
    FROM candidates
),
strays AS (
    SELECT
        *,
        coalesce(NOT run_start AND stray_gain > 0.3
                 AND stray_gain >= coalesce(lag(stray_gain) OVER w, 0)
                 AND stray_gain > coalesce(lead(stray_gain) OVER w, 0), false) AS stray
    FROM pairs
    WINDOW w AS (PARTITION BY user_id, stream, run_id ORDER BY t, group_key)
),
run_stats AS (
    SELECT
        user_id,
        stream,
        run_id,
        count(*) AS events,
        min(t) AS t0,
        max(t) AS t1,
        any_value(run_median) AS median_dt,
        mad(dt) FILTER (WHERE NOT run_start) AS mad_dt,
        sum(periods_in_gap - CASE WHEN stray THEN excess ELSE 0 END) AS periods
    FROM strays
    GROUP BY ALL
),
burst_runs AS (
    SELECT
        *,
        greatest(0.0, 1.0 - mad_dt / median_dt) AS regularity,
        (t1 - t0) / greatest(1, periods) AS period_s
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
