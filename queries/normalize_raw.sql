-- Normalize events into the columns of `events`: raw SDK events, the "JSON" link shape, and web
-- API events (camelCase, `entries[]`, tags as {key, value}, `groupID`, `dateCreated`).
-- Input: a relation `raw_input` with the JSON-typed columns of triage.ingest.RAW_COLUMNS plus
-- __file (VARCHAR), __line (BIGINT) and `__raw` (the record as JSON, hashed for events without an
-- id; the JSON reader substitutes an expression over the fields rather than store it for every
-- row). Every field is read leniently: wrong types become NULL or text, never an error, so one odd
-- event cannot fail its file.
-- The typed fast path (queries/normalize_typed.sql) mirrors `src` and `base` below and shares the
-- rest of this file's text: change both halves together, then update triage.ingest.typed.MIRRORS
-- (until then the fast path is off, and tests/test_ingest_typed.py says so).
WITH src AS (
    SELECT
        *,
        -- Sentry-processed shapes (JSON link, web API) carry a `title`; their top-level `message`
        -- is Sentry's search string, not the event's message.
        (title IS NOT NULL OR entries IS NOT NULL OR eventID IS NOT NULL) AS __processed,
        triage_tags(tags) AS __tags,
        lower(replace(coalesce(triage_str(event_id), triage_str(eventID),
                               CASE WHEN regexp_full_match(replace(triage_str(id), '-', ''), '[0-9a-fA-F]{32}')
                                    THEN triage_str(id) END), '-', '')) AS __event_id
    FROM raw_input
),
base AS (
    SELECT
        __file,
        __line,
        __event_id AS event_id,
        -- Why only here: the record's text is large; it is built only for events without an id.
        CASE WHEN nullif(__event_id, '') IS NULL THEN md5(CAST(__raw AS VARCHAR)) END AS __raw_md5,
        coalesce(triage_ts("timestamp"), triage_ts("datetime"), triage_ts(dateCreated)) AS ts,
        triage_level(coalesce(triage_str("level"), __tags['level'])) AS level,
        -- Sentry shows `other` for an event that names no platform
        coalesce(nullif(triage_str(platform), ''), 'other') AS platform,
        nullif(coalesce(triage_str(logger), __tags['logger']), '') AS logger,
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
        CASE WHEN __processed THEN nullif(triage_str(title), '') END AS title,
        nullif(coalesce(triage_str("transaction"), __tags['transaction']), '') AS "transaction",
        nullif(triage_str(culprit), '') AS culprit,
        coalesce("user", "sentry.interfaces.User") AS u,
        nullif(coalesce(CASE WHEN json_type("release") = 'OBJECT'
                             THEN triage_str(json_extract("release", '$.version'))
                             ELSE triage_str("release") END,
                        __tags['release'], __tags['sentry:release']), '') AS "release",
        nullif(coalesce(triage_str(environment), __tags['environment']), '') AS environment,
        coalesce(triage_str(project), triage_str(projectID)) AS project,
        nullif(coalesce(triage_str(group_id), triage_str(groupID)), '') AS group_id,
        nullif(triage_str(shortId), '') AS short_id,
        triage_scrub_tags(__tags) AS tags,
        try(list_transform(CAST(fingerprint AS JSON[]), lambda x: triage_str(x))) AS fingerprint
    FROM src
),
texts AS (
    SELECT
        * EXCLUDE (le, plain_message, u),
        nullif(coalesce(
            triage_str(json_extract(le, '$.formatted')),
            triage_format(triage_str(json_extract(le, '$.message')), json_extract(le, '$.params')),
            plain_message,
            CASE WHEN coalesce(len(exc_chain), 0) = 0 THEN title END), '') AS message,
        -- Sentry groups a log message by its template, before the parameters are filled in
        nullif(coalesce(triage_str(json_extract(le, '$.message')), triage_str(json_extract(le, '$.formatted')),
                        plain_message), '') AS g_message,
        exc_chain[len(exc_chain)]."type" AS exc_type,
        exc_chain[len(exc_chain)]."value" AS exc_value,
        -- Emails and addresses become keyed stand-ins (queries/pii.sql) unless --keep-pii.
        triage_user_id(u) AS user_id
    FROM base
),
templated AS (
    -- The title as Sentry shows it: the raised exception (type: value) before the log message.
    SELECT *,
        CASE WHEN exc_type IS NOT NULL OR exc_value IS NOT NULL
             THEN concat_ws(': ', exc_type, triage_template(exc_value))
             ELSE triage_template(coalesce(message, ''))
        END AS template
    FROM texts
)
SELECT
    coalesce(nullif(event_id, ''), __raw_md5) AS event_id,
    -- Sentry's own group when the record names it; else queries/grouping.sql computes it
    coalesce(group_id, short_id) AS group_key,
    group_id,
    short_id,
    project,
    ts,
    level,
    platform,
    logger,
    message,
    exc_type,
    exc_value,
    exc_chain,
    "transaction",
    culprit,
    user_id,
    "release",
    environment,
    tags,
    fingerprint,
    template,
    -- Sentry's event title: its own when the record carries it; else the raised exception's
    -- type and the first line of its value, else the first line of the message (each cut at 100
    -- characters as Sentry cuts them), else `<unlabeled event>`
    coalesce(title,
             CASE WHEN exc_type IS NOT NULL AND nullif(trim(exc_value), '') IS NULL THEN exc_type
                  WHEN exc_type IS NOT NULL OR exc_value IS NOT NULL
                      THEN concat_ws(': ', exc_type, triage_title_cut(exc_value)) END,
             triage_title_cut(message),
             '<unlabeled event>') AS title,
    title AS sentry_title,
    __file AS source_file,
    __line AS source_line,
    -- filled by queries/grouping.sql (triage.grouping.apply)
    NULL::VARCHAR AS group_hash,
    NULL::VARCHAR AS group_basis,
    NULL::VARCHAR AS group_source,
    NULL::INTEGER AS grouping_version,
    g_exc, g_threads, g_stacktrace, g_message, g_checksum, g_csp, g_expectct, g_rules, event_type
FROM templated
