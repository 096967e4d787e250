-- Sentry's own event store (Snuba's `errors` table: errors_local, or errors_dist on a cluster)
-- read as the normalized events every triage query reads. Read-only: a subquery, nothing is
-- written. `{table}` is replaced by the table's quoted name. Each mapping and its caveat:
--
-- event_id     UUID without dashes, as ingest stores it.
-- group_key    Sentry's own group_id (the issue), so groups are Sentry's groups.
-- ts           `timestamp` (DateTime, whole seconds: burst periods are as precise as that).
-- level        Sentry's level, normalized as ingest does (triage_level in queries/macros.sql).
-- logger       a tag in Snuba (`tags[logger]`), not a column.
-- message      Snuba's `message` is Sentry's *search* message: the formatted message, then the
--              culprit when the message does not already hold it. For an event without an
--              exception it is read back by cutting a trailing " <culprit>"; for an event with
--              one it is NULL, so the `message` rule field reads the exception's value, as it
--              does for an export without a log message. (An event with both a log message and
--              an exception therefore reads its exception value here.)
-- exc_type/    exception_stacks.* are oldest first: the raised exception is the last element.
--   exc_value  Element -1 of an empty array is '' (not NULL) in ClickHouse: guarded by empty().
-- user_id      user_id, else user_name, else a stand-in hashed from the email or IP address
--              (as ingest does: no personal data in reports).
-- tags         the tags.key / tags.value arrays as a Map (a missing key reads '', as NULL does
--              once coalesced).
-- template     the title masked by the same regexes as triage_template (queries/macros.sql).
-- deleted      ReplacingMergeTree(deleted): a deleted event is a newer row with deleted = 1, so
--              rows are read FINAL and the deleted ones left out.
SELECT
    * EXCEPT (level_raw, personal),
    if(exc_type IS NOT NULL AND message IS NULL,
       concat(exc_type, ': ', {template(coalesce(exc_value, exc_type, ''))}),
       {template(coalesce(message, exc_value, exc_type, ''))}) AS template
FROM (
    SELECT
        replaceAll(toString(e.event_id), '-', '') AS event_id,
        toString(e.group_id) AS group_key,
        toString(e.group_id) AS group_id,
        toString(e.project_id) AS project,
        toDateTime64(e.`timestamp`, 6, 'UTC') AS ts,
        lower(trim(ifNull(e.level, ''))) AS level_raw,
        multiIf(level_raw IN ('', '40'), 'error', level_raw = 'critical', 'fatal',
                level_raw IN ('log', '20'), 'info', level_raw IN ('warn', '30'), 'warning',
                level_raw = '10', 'debug', level_raw = '50', 'fatal', level_raw) AS level,
        nullIf(e.platform, '') AS platform,
        nullIf(e.tags.value[indexOf(e.tags.key, 'logger')], '') AS logger,
        if(notEmpty(e.exception_stacks.type), NULL,
           nullIf(if(e.culprit != '' AND endsWith(e.message, concat(' ', e.culprit)),
                     substring(e.message, 1, length(e.message) - length(e.culprit) - 1),
                     e.message), '')) AS message,
        if(empty(e.exception_stacks.type), NULL, e.exception_stacks.type[-1]) AS exc_type,
        if(empty(e.exception_stacks.value), NULL, e.exception_stacks.value[-1]) AS exc_value,
        nullIf(e.transaction_name, '') AS `transaction`,
        nullIf(e.culprit, '') AS culprit,
        coalesce(nullIf(e.user_email, ''), toString(e.ip_address_v4), toString(e.ip_address_v6))
            AS personal,
        coalesce(nullIf(e.user_id, ''), nullIf(e.user_name, ''),
                 if(personal IS NULL, NULL, concat('anon:', left(lower(hex(MD5(personal))), 12))))
            AS user_id,
        e.`release` AS `release`,
        e.environment AS environment,
        mapFromArrays(e.tags.key, e.tags.value) AS tags
    FROM {table} AS e FINAL
    WHERE e.deleted = 0
)
