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
-- 1. Inter-arrival dt per stream, and the 5 gaps before and after it, all from LAG/LEAD of the
--    timestamps in one window sort (streams of fewer than min_events events are dropped first).
-- 2. A run starts where dt is more than gap_factor times the local period on either side: the
--    median of the 5 gaps before, or of the 5 after. Medians, so two odd gaps among five (a
--    missed poll, a stray event's halves) do not move the estimate; either side, so a run is
--    cut from stray events hours before or after it even when those strays are several (their
--    own gaps would make the median on their side large). The cost: when a loop slows down with
--    no pause (5 s, then 60 s), the first polls of the slow part stand alone until the window
--    before them is mostly slow gaps, so that run starts about 3 polls late.
-- 3. Per run: events, start, end, median dt (the gaps inside the run only), and
--    regularity = 1 - MAD(dt) / median(dt), clamped at 0. MAD over median is a robust
--    coefficient of variation: a few missed polls or stray events move neither the median nor
--    the MAD, where a standard deviation would blow up. 1 is clockwork; on the scenarios of
--    triage.scenarios, polls with up to +-20 % jitter score 0.84 or more, users clicking at
--    random and retries with exponential backoff 0.71 or less: hence min_regularity 0.8.
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
-- How far x (a gap in periods) is from a whole number of periods.
CREATE OR REPLACE TEMP MACRO triage_off_grid(x) AS abs(x - round(x));

-- How much closer to a whole number of periods two gaps a, b sit together than apart: large
-- when the event between them is a stray cutting one period in two. NULL unless both are given.
CREATE OR REPLACE TEMP MACRO triage_stray_gain(a, b) AS
    triage_off_grid(a) + triage_off_grid(b) - triage_off_grid(a + b);

-- The median of the given gaps that are known (NULL past the ends of a stream).
CREATE OR REPLACE TEMP MACRO triage_local_median(gaps) AS
    list_median(list_filter(gaps, lambda g: g IS NOT NULL));

CREATE OR REPLACE TEMP MACRO triage_bursts(
    min_events := 20,
    min_regularity := 0.8,
    gap_factor := 6.0,
    by_tag := NULL
) AS TABLE
WITH src AS (
    SELECT
        group_key,
        user_id,
        CASE WHEN by_tag IS NULL THEN group_key ELSE tags[by_tag] END AS stream,
        -- Integer sort keys: window sorts on two strings cost twice as much.
        hash(user_id, CASE WHEN by_tag IS NULL THEN group_key ELSE tags[by_tag] END) AS sk,
        hash(group_key) AS gk,
        epoch(ts) AS t
    FROM events
    WHERE ts IS NOT NULL AND user_id IS NOT NULL
      AND (by_tag IS NULL OR tags[by_tag] IS NOT NULL)
),
-- A stream with fewer than min_events events holds no burst: most streams (a user who hit an
-- error once or twice) leave here, before any window function sorts them.
long_streams AS (
    SELECT sk FROM src GROUP BY sk HAVING count(*) >= min_events
),
-- One sort: each event's gap dt, the 5 gaps before and after it (from the neighbours' times),
-- and whether it starts a run.
neighbours AS (
    SELECT
        *,
        lag(t, 1) OVER w AS l1, lag(t, 2) OVER w AS l2, lag(t, 3) OVER w AS l3,
        lag(t, 4) OVER w AS l4, lag(t, 5) OVER w AS l5, lag(t, 6) OVER w AS l6,
        lead(t, 1) OVER w AS f1, lead(t, 2) OVER w AS f2, lead(t, 3) OVER w AS f3,
        lead(t, 4) OVER w AS f4, lead(t, 5) OVER w AS f5
    FROM src
    SEMI JOIN long_streams USING (sk)
    WINDOW w AS (PARTITION BY sk ORDER BY t, gk)
),
gaps AS (
    SELECT
        group_key, user_id, stream, sk, gk, t,
        t - l1 AS dt,
        l1 - l2 AS prev_dt,
        f1 - t AS next_dt,
        f2 - f1 AS next2_dt,
        (t - l1) IS NULL OR coalesce((t - l1) > gap_factor * least(
            triage_local_median([l1 - l2, l2 - l3, l3 - l4, l4 - l5, l5 - l6]),
            triage_local_median([f1 - t, f2 - f1, f3 - f2, f4 - f3, f5 - f4])), false)
            AS run_start
    FROM neighbours
),
-- A second sort: number the runs, and note which neighbouring gaps cross into another run.
runs AS (
    SELECT
        *,
        sum(run_start::INTEGER) OVER w AS run_id,
        lag(run_start) OVER w AS prev_start,
        lead(run_start, 1) OVER w AS next_start,
        lead(run_start, 2) OVER w AS next2_start
    FROM gaps
    WINDOW w AS (PARTITION BY sk ORDER BY t, gk ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
run_stats AS (
    SELECT
        sk,
        run_id,
        any_value(user_id) AS user_id,
        any_value(stream) AS stream,
        count(*) AS events,
        min(t) AS t0,
        max(t) AS t1,
        median(dt) FILTER (WHERE NOT run_start) AS median_dt,
        mad(dt) FILTER (WHERE NOT run_start) AS mad_dt
    FROM runs
    GROUP BY sk, run_id
    HAVING count(*) >= min_events
),
-- The events of long runs with their gaps in periods (NULL where a gap leaves the run).
in_periods AS (
    SELECT
        r.group_key, r.sk, r.run_id,
        CASE WHEN NOT r.run_start THEN r.dt / s.median_dt END AS a,
        CASE WHEN NOT r.run_start AND NOT r.prev_start THEN r.prev_dt / s.median_dt END AS p,
        CASE WHEN NOT r.next_start THEN r.next_dt / s.median_dt END AS b,
        CASE WHEN NOT r.next_start AND NOT r.next2_start THEN r.next2_dt / s.median_dt END AS c
    FROM runs r
    JOIN run_stats s USING (sk, run_id)
    WHERE s.median_dt > 0
),
-- Each gap counts round(a) periods; a stray event's two gaps a, b count round(a + b) instead.
counted AS (
    SELECT
        *,
        coalesce(round(a), 0)
        - CASE WHEN triage_stray_gain(a, b) > 0.3
                    AND triage_stray_gain(a, b) >= coalesce(triage_stray_gain(p, a), 0)
                    AND triage_stray_gain(a, b) > coalesce(triage_stray_gain(b, c), 0)
               THEN round(a) + round(b) - round(a + b) ELSE 0 END AS periods
    FROM in_periods
),
run_periods AS (
    SELECT sk, run_id, sum(periods) AS periods
    FROM counted
    GROUP BY ALL
),
burst_runs AS (
    SELECT
        s.*,
        greatest(0.0, 1.0 - s.mad_dt / s.median_dt) AS regularity,
        (s.t1 - s.t0) / greatest(1, p.periods) AS period_s
    FROM run_stats s
    JOIN run_periods p USING (sk, run_id)
    WHERE s.median_dt > 0 AND greatest(0.0, 1.0 - s.mad_dt / s.median_dt) >= min_regularity
),
-- The group a burst belongs to: its stream's group, or with by_tag the group most of its events
-- are in; its share is the burst's events in that group over all of that group's events.
burst_groups AS (
    SELECT c.sk, c.run_id, c.group_key, count(*) AS n
    FROM counted c
    SEMI JOIN burst_runs b USING (sk, run_id)
    GROUP BY ALL
),
dominant AS (
    SELECT sk, run_id, arg_max(group_key, n) AS group_key, max(n) AS in_group,
           count(*) AS groups
    FROM burst_groups
    GROUP BY ALL
),
group_sizes AS (
    SELECT group_key, count(*) AS group_events FROM events GROUP BY group_key
)
SELECT
    d.group_key AS "group",
    -- Sentry's short id (OPENHUMAN-TAURI-1N) when an issues export named the group.
    (SELECT g.short_id FROM groups g
     WHERE g.id = d.group_key OR (g.id IS NULL AND g.short_id = d.group_key)
     ORDER BY g.updated_at DESC LIMIT 1) AS short_id,
    -- A user id that is an email or an IP address (stored with --keep-pii) is shown as the keyed
    -- stand-in ingest gives users known only by one: reports carry no personal data.
    CASE WHEN triage_is_pii(b.user_id) THEN triage_anon(b.user_id) ELSE b.user_id END AS "user",
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
JOIN dominant d USING (sk, run_id)
JOIN group_sizes s ON s.group_key = d.group_key
ORDER BY b.events DESC, "group", "user", "start";
