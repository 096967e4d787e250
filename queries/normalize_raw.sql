-- Normalize raw SDK events (and the "JSON" link shape) into the columns of `events`.
-- Input: a relation `raw_input` with the JSON-typed columns of triage.ingest.RAW_COLUMNS plus
-- __file (VARCHAR) and __line (BIGINT). Every field is read leniently: wrong types become NULL
-- or text, never an error, so one odd event cannot fail its file.
WITH base AS (
    SELECT
        __file,
        __line,
        __raw,
        lower(replace(triage_str(event_id), '-', '')) AS event_id,
        coalesce(triage_ts("timestamp"), triage_ts("datetime")) AS ts,
        triage_level(triage_str("level")) AS level,
        triage_str(platform) AS platform,
        nullif(triage_str(logger), '') AS logger,
        coalesce(logentry, "sentry.interfaces.Message",
                 CASE WHEN json_type(message) = 'OBJECT' THEN message END) AS le,
        CASE WHEN json_type(message) NOT IN ('OBJECT', 'BOOLEAN') THEN triage_str(message) END
            AS plain_message,
        triage_exc_chain(coalesce(exception, "sentry.interfaces.Exception")) AS exc_chain,
        nullif(triage_str("transaction"), '') AS "transaction",
        nullif(triage_str(culprit), '') AS culprit,
        coalesce("user", "sentry.interfaces.User") AS u,
        nullif(triage_str("release"), '') AS "release",
        nullif(triage_str(environment), '') AS environment,
        triage_str(project) AS project,
        triage_str(group_id) AS group_id,
        triage_tags(tags) AS tags,
        try(list_transform(CAST(fingerprint AS JSON[]), lambda x: triage_str(x))) AS fingerprint
    FROM raw_input
),
texts AS (
    SELECT
        * EXCLUDE (le, plain_message, u),
        nullif(coalesce(
            triage_str(json_extract(le, '$.formatted')),
            triage_format(triage_str(json_extract(le, '$.message')), json_extract(le, '$.params')),
            plain_message), '') AS message,
        exc_chain[len(exc_chain)]."type" AS exc_type,
        exc_chain[len(exc_chain)]."value" AS exc_value,
        coalesce(nullif(triage_str(json_extract(u, '$.id')), ''), nullif(triage_str(json_extract(u, '$.username')), ''),
                 'anon:' || left(md5(coalesce(nullif(triage_str(json_extract(u, '$.email')), ''),
                                              nullif(triage_str(json_extract(u, '$.ip_address')), '{{auto}}'))), 12))
            AS user_id,
        list_filter(fingerprint, lambda x: x IS NOT NULL AND x NOT IN ('{{ default }}', '{{default}}'))
            AS fp_custom
    FROM base
),
keyed AS (
    SELECT
        *,
        triage_template(coalesce(message, exc_value, exc_type, '')) AS template,
        md5(concat_ws(chr(31), coalesce(exc_type, ''),
                      triage_template(coalesce(message, exc_value, '')),
                      coalesce(culprit, "transaction", ''))) AS default_basis
    FROM texts
)
SELECT
    coalesce(nullif(event_id, ''), md5(CAST(__raw AS VARCHAR))) AS event_id,
    coalesce(group_id,
             left(CASE WHEN len(coalesce(fp_custom, [])) = 0 THEN default_basis
                       WHEN len(fingerprint) > len(fp_custom)
                           THEN md5(default_basis || chr(31) || array_to_string(fp_custom, chr(31)))
                       ELSE md5('fp' || chr(31) || array_to_string(fp_custom, chr(31))) END, 16))
        AS group_key,
    group_id,
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
