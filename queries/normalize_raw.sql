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
        triage_str(platform) AS platform,
        nullif(coalesce(triage_str(logger), __tags['logger']), '') AS logger,
        coalesce(logentry, "sentry.interfaces.Message",
                 CASE WHEN json_type(message) = 'OBJECT' THEN message END,
                 json_extract(triage_entry(entries, 'message'), '$.data')) AS le,
        CASE WHEN __processed THEN NULL
             WHEN json_type(message) NOT IN ('OBJECT', 'BOOLEAN') THEN triage_str(message) END
            AS plain_message,
        triage_exc_chain(coalesce(exception, "sentry.interfaces.Exception",
                                  json_extract(triage_entry(entries, 'exception'), '$.data')))
            AS exc_chain,
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
        * EXCLUDE (le, plain_message, u, title),
        nullif(coalesce(
            triage_str(json_extract(le, '$.formatted')),
            triage_format(triage_str(json_extract(le, '$.message')), json_extract(le, '$.params')),
            plain_message,
            CASE WHEN coalesce(len(exc_chain), 0) = 0 THEN title END), '') AS message,
        exc_chain[len(exc_chain)]."type" AS exc_type,
        exc_chain[len(exc_chain)]."value" AS exc_value,
        -- Emails and addresses become keyed stand-ins (queries/pii.sql) unless --keep-pii.
        triage_user_id(u) AS user_id,
        list_filter(fingerprint, lambda x: x IS NOT NULL AND x NOT IN ('{{ default }}', '{{default}}'))
            AS fp_custom
    FROM base
),
templated AS (
    SELECT *, triage_template(coalesce(message, exc_value, exc_type, '')) AS template FROM texts
),
keyed AS (
    SELECT
        *,
        -- The template of coalesce(message, exc_value, ''): the one above unless both are NULL
        -- (the regexes run once per event, not twice).
        md5(concat_ws(chr(31), coalesce(exc_type, ''),
                      CASE WHEN coalesce(message, exc_value) IS NULL THEN '' ELSE template END,
                      coalesce(culprit, "transaction", ''))) AS default_basis
    FROM templated
)
SELECT
    coalesce(nullif(event_id, ''), __raw_md5) AS event_id,
    coalesce(group_id, short_id,
             left(CASE WHEN len(coalesce(fp_custom, [])) = 0 THEN default_basis
                       WHEN len(fingerprint) > len(fp_custom)
                           THEN md5(default_basis || chr(31) || array_to_string(fp_custom, chr(31)))
                       ELSE md5('fp' || chr(31) || array_to_string(fp_custom, chr(31))) END, 16))
        AS group_key,
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
    CASE WHEN exc_type IS NOT NULL AND message IS NULL
         THEN exc_type || ': ' || template ELSE template END AS template,
    __file AS source_file,
    __line AS source_line
FROM keyed
