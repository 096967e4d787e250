-- Normalize Sentry issue (group) objects from the web API into the columns of `groups`.
-- Input: a relation `raw_input` with the JSON-typed columns of triage.ingest.ISSUE_COLUMNS plus
-- __file and __line. `count` is a string in the API (an int in newer examples): both are read.
SELECT
    nullif(triage_str(id), '') AS id,
    nullif(triage_str(shortId), '') AS short_id,
    coalesce(nullif(triage_str(title), ''), triage_str(json_extract(metadata, '$.title'))) AS title,
    nullif(triage_str(culprit), '') AS culprit,
    CASE WHEN "level" IS NOT NULL THEN triage_level(triage_str("level")) END AS level,
    triage_str(status) AS status,
    try_cast(triage_str("count") AS BIGINT) AS times_seen,
    try_cast(triage_str(userCount) AS BIGINT) AS user_count,
    triage_ts(firstSeen) AS first_seen,
    triage_ts(lastSeen) AS last_seen,
    CASE WHEN json_type(project) = 'OBJECT'
         THEN coalesce(triage_str(json_extract(project, '$.slug')), triage_str(json_extract(project, '$.id')))
         ELSE triage_str(project) END AS project,
    triage_str(platform) AS platform,
    triage_str(permalink) AS permalink,
    CASE WHEN json_type(metadata) = 'OBJECT' THEN metadata END AS metadata,
    __file AS source_file,
    __line AS source_line
FROM raw_input
