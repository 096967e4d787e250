-- Schema version 2: Sentry's own issue (group) objects, and what each shape of export knows.
-- Applied once per database file by triage.store.migrate().

-- One row per Sentry issue, from the web API's issues lists and issue details, or from Discover
-- rows that name an issue. Sentry's own counts sit beside the counts of the exported events.
CREATE TABLE IF NOT EXISTS groups (
    id            VARCHAR,            -- Sentry's group id ("313"); NULL when only the short id is known
    short_id      VARCHAR,            -- "OPENHUMAN-TAURI-1N"
    title         VARCHAR,
    culprit       VARCHAR,
    level         VARCHAR,
    status        VARCHAR,            -- resolved | unresolved | ignored
    times_seen    BIGINT,             -- Sentry's `count` (a string in the API)
    user_count    BIGINT,             -- Sentry's `userCount`
    first_seen    TIMESTAMPTZ,
    last_seen     TIMESTAMPTZ,
    project       VARCHAR,            -- slug when known, else id
    platform      VARCHAR,
    permalink     VARCHAR,
    metadata      JSON,
    source_file   VARCHAR,
    updated_at    TIMESTAMPTZ DEFAULT current_timestamp
);

-- The group's short id when an export names it (Discover's `issue` column) without its numeric id.
ALTER TABLE events ADD COLUMN IF NOT EXISTS short_id VARCHAR;

-- Events that arrived again through another shape and taught the stored row something new.
ALTER TABLE ingest_log ADD COLUMN IF NOT EXISTS merged BIGINT DEFAULT 0;
ALTER TABLE ingest_log ADD COLUMN IF NOT EXISTS kind VARCHAR;
