-- Inter-arrival times within each (group, user), binned on a log scale (20 bins a decade,
-- centred on 10^(bin/20) s, from 1 ms): the histogram whose peak is a polling loop's period.
-- Binned here so a million events come back as a few hundred rows.
-- Parameter: $groups (the group keys to chart).
WITH gaps AS (
    SELECT
        group_key,
        epoch(ts) - epoch(lag(ts) OVER (PARTITION BY group_key, user_id ORDER BY ts)) AS gap_s
    FROM events
    WHERE ts IS NOT NULL AND list_contains($groups::VARCHAR[], group_key)
),
binned AS (
    SELECT group_key, round(log10(greatest(gap_s, 0.001)) * 20)::INTEGER AS bin
    FROM gaps
    WHERE gap_s IS NOT NULL
)
SELECT
    group_key AS "group",
    bin,
    pow(10, (bin - 0.5) / 20.0) AS lo_s,
    pow(10, bin / 20.0) AS mid_s,
    pow(10, (bin + 0.5) / 20.0) AS hi_s,
    count(*) AS gaps
FROM binned
GROUP BY ALL
ORDER BY "group", bin
