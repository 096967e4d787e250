-- Schema version 3: Sentry's grouping (issue 13). Applied once per database file by
-- triage.store.migrate(); the stored events are regrouped afterwards by
-- triage.grouping.regroup_stored() (from their raw payloads where kept).

-- Why an event is in its group: Sentry's own group (`sentry`), a Sentry group lent by another
-- event with the same computed hash (`matched`), or the computed hash alone (`computed`).
ALTER TABLE events ADD COLUMN IF NOT EXISTS group_hash VARCHAR;       -- Sentry's grouping hash (32 hex)
ALTER TABLE events ADD COLUMN IF NOT EXISTS group_basis VARCHAR;      -- the values it was computed from
ALTER TABLE events ADD COLUMN IF NOT EXISTS group_source VARCHAR;     -- sentry | matched | computed
ALTER TABLE events ADD COLUMN IF NOT EXISTS grouping_version INTEGER; -- 1: before Sentry's grouping
ALTER TABLE events ADD COLUMN IF NOT EXISTS title VARCHAR;            -- the title as Sentry shows it

UPDATE events SET
    group_source = CASE WHEN group_id IS NOT NULL OR short_id IS NOT NULL THEN 'sentry' ELSE 'computed' END,
    grouping_version = 1,
    -- Sentry's title rule (as queries/normalize_raw.sql): exception before message, first line
    -- cut at 100 characters
    title = coalesce(
        CASE WHEN exc_type IS NOT NULL OR exc_value IS NOT NULL
             THEN concat_ws(': ', exc_type, nullif(CASE WHEN length(split_part(trim(exc_value), chr(10), 1)) > 100
                                                   THEN left(split_part(trim(exc_value), chr(10), 1), 97) || '...'
                                                   ELSE split_part(trim(exc_value), chr(10), 1) END, '')) END,
        nullif(CASE WHEN length(split_part(trim(message), chr(10), 1)) > 100
                    THEN left(split_part(trim(message), chr(10), 1), 97) || '...'
                    ELSE split_part(trim(message), chr(10), 1) END, ''),
        '<unlabeled event>')
WHERE grouping_version IS NULL;

-- Settings of the database itself (key -> value): `grouping_version`, the grouping its computed
-- keys were made with.
CREATE TABLE IF NOT EXISTS triage_meta (
    key           VARCHAR PRIMARY KEY,
    value         VARCHAR,
    updated_at    TIMESTAMPTZ DEFAULT current_timestamp
);
INSERT INTO triage_meta (key, value)
SELECT 'grouping_version', CASE WHEN EXISTS (SELECT 1 FROM events) THEN '1' ELSE '2' END
WHERE NOT EXISTS (SELECT 1 FROM triage_meta WHERE key = 'grouping_version');

-- --fail-on memories name groups by key: record with which grouping a key was made, so a
-- memory of a key computed differently is not taken for the same group.
CREATE TABLE IF NOT EXISTS job_findings (
    "check"     VARCHAR NOT NULL,
    key         VARCHAR NOT NULL,
    group_key   VARCHAR,
    message     VARCHAR,
    first_seen  TIMESTAMPTZ DEFAULT current_timestamp
);
ALTER TABLE job_findings ADD COLUMN IF NOT EXISTS grouping_version INTEGER;
UPDATE job_findings SET grouping_version = 1 WHERE grouping_version IS NULL;

-- Which grouping made the events a file added (a file ingested under an older one may be
-- ingested again to regroup its events).
ALTER TABLE ingest_log ADD COLUMN IF NOT EXISTS grouping_version INTEGER;
UPDATE ingest_log SET grouping_version = 1 WHERE grouping_version IS NULL;
