-- The typed fast path's first half: the `src` and `base` relations of normalize_raw.sql, read from
-- DuckDB's JSON reader with typed columns (triage.ingest.typed.COLUMNS) instead of JSON ones.
-- triage.ingest.typed appends normalize_raw.sql's shared second half (from its `texts` relation on:
-- message, exception, template, user, group key), so both paths end in ONE definition.
--
-- Why it gives the same rows: a column read as VARCHAR holds exactly what triage_str() gives for
-- the same JSON value (strings unquoted, numbers and booleans as DuckDB writes them, objects as
-- JSON text); a STRUCT or MAP column is DuckDB's json_transform, which the lenient macros call
-- themselves. A value that does not fit a typed column (tags as a list in a raw SDK file,
-- duplicate tag keys, a fingerprint that is not a list) fails the reader, and the file is read by
-- the lenient path instead. Fields whose JSON type matters (message, log entry, exception, user,
-- release, timestamps, web API entries) stay JSON and go through the same expressions.
-- Tests: tests/test_ingest_typed.py compares both paths on every column.
WITH src AS (
    SELECT
        *,
        (title IS NOT NULL OR entries IS NOT NULL OR eventID IS NOT NULL) AS __processed,
        __TAGS__ AS __tags,
        lower(replace(coalesce(event_id, eventID,
                               CASE WHEN regexp_full_match(replace(id, '-', ''), '[0-9a-fA-F]{32}')
                                    THEN id END), '-', '')) AS __event_id
    FROM raw_input
    -- DuckDB writes a number read as VARCHAR in exponent form (1e+16) where triage_str() writes
    -- its digits: such a file is read by the lenient path.
    WHERE NOT (CASE WHEN __EXPONENT__ THEN error('a number in exponent form: read leniently')
                    ELSE false END)
),
base AS (
    SELECT
        __file,
        __line,
        __event_id AS event_id,
        -- An event without an id is hashed from its record's JSON text, which only the lenient
        -- reader has: such a file is read by the lenient path.
        CASE WHEN nullif(__event_id, '') IS NULL
             THEN error('an event without an id: read by the lenient path') END AS __raw_md5,
        coalesce(triage_ts("timestamp"), triage_ts("datetime"), triage_ts(dateCreated)) AS ts,
        triage_level(coalesce("level", __tags['level'])) AS level,
        -- Sentry shows `other` for an event that names no platform
        coalesce(nullif(platform, ''), 'other') AS platform,
        nullif(coalesce(logger, __tags['logger']), '') AS logger,
        -- the log entry in every form: an object {formatted, message, params}, or a plain string
        CASE WHEN json_type(coalesce(logentry, "sentry.interfaces.Message")) = 'VARCHAR'
             THEN json_object('formatted', triage_str(coalesce(logentry, "sentry.interfaces.Message")))
             ELSE coalesce(logentry, "sentry.interfaces.Message",
                           CASE WHEN json_type(message) = 'OBJECT' THEN message END,
                           json_extract(triage_entry(entries, 'message'), '$.data')) END AS le,
        CASE WHEN __processed THEN NULL
             WHEN json_type(message) NOT IN ('OBJECT', 'BOOLEAN') THEN triage_str(message) END
            AS plain_message,
        triage_exc_chain(coalesce(exception, "sentry.interfaces.Exception",
                                  json_extract(triage_entry(entries, 'exception'), '$.data')))
            AS exc_chain,
        -- What Sentry's grouping reads (queries/grouping.sql), kept apart from the stored columns.
        triage_exc_list(coalesce(exception, "sentry.interfaces.Exception",
                                 json_extract(triage_entry(entries, 'exception'), '$.data'))) AS g_exc,
        coalesce(threads, json_extract(triage_entry(entries, 'threads'), '$.data')) AS g_threads,
        coalesce(stacktrace, "sentry.interfaces.Stacktrace",
                 json_extract(triage_entry(entries, 'stacktrace'), '$.data')) AS g_stacktrace,
        nullif(triage_str(checksum), '') AS g_checksum,
        coalesce(csp, "sentry.interfaces.Csp", json_extract(triage_entry(entries, 'csp'), '$.data')) AS g_csp,
        expectct AS g_expectct,
        triage_str(json_extract(_grouping, '$.enhancements')) AS g_rules,
        lower(triage_str("type")) AS event_type,
        CASE WHEN __processed THEN nullif(title, '') END AS title,
        nullif(coalesce("transaction", __tags['transaction']), '') AS "transaction",
        nullif(culprit, '') AS culprit,
        coalesce("user", "sentry.interfaces.User") AS u,
        nullif(coalesce(CASE WHEN json_type("release") = 'OBJECT'
                             THEN triage_str(json_extract("release", '$.version'))
                             ELSE triage_str("release") END,
                        __tags['release'], __tags['sentry:release']), '') AS "release",
        nullif(coalesce(environment, __tags['environment']), '') AS environment,
        coalesce(project, projectID) AS project,
        nullif(coalesce(group_id, groupID), '') AS group_id,
        nullif(shortId, '') AS short_id,
        triage_scrub_tags(__tags) AS tags,  -- personal data out (queries/pii.sql)
        fingerprint
    FROM src
),
