-- Schema version 1: normalized events, classifications per rule table, ingest bookkeeping.
-- Applied once per database file by triage.store.migrate(); later versions add NNN_*.sql files.

CREATE TABLE IF NOT EXISTS events (
    event_id      VARCHAR NOT NULL,   -- 32 lowercase hex, dashes stripped
    group_key     VARCHAR NOT NULL,   -- Sentry group id when known, else a stable computed key
    group_id      VARCHAR,            -- Sentry's own group (issue) id, when the export carries it
    project       VARCHAR,
    ts            TIMESTAMPTZ,
    level         VARCHAR NOT NULL,   -- fatal | error | warning | info | debug
    platform      VARCHAR,
    logger        VARCHAR,
    message       VARCHAR,            -- formatted log message, when the event has one
    exc_type      VARCHAR,            -- the raised exception: last in the chain
    exc_value     VARCHAR,
    exc_chain     STRUCT("type" VARCHAR, "value" VARCHAR, "module" VARCHAR)[],
    "transaction" VARCHAR,
    culprit       VARCHAR,
    user_id       VARCHAR,            -- user.id or username; hashed stand-in when only email/IP is known
    "release"     VARCHAR,
    environment   VARCHAR,
    tags          MAP(VARCHAR, VARCHAR),
    fingerprint   VARCHAR[],
    template      VARCHAR,            -- the text with variable parts masked: the group title
    source_file   VARCHAR,
    source_line   BIGINT,             -- line (NDJSON) or record number (arrays, envelopes)
    raw           JSON,               -- only with --keep-raw
    ingested_at   TIMESTAMPTZ DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS rejects (
    source_file   VARCHAR,
    source_line   BIGINT,
    reason        VARCHAR,
    raw_text      VARCHAR,
    rejected_at   TIMESTAMPTZ DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS ingest_log (
    source_file   VARCHAR,
    size_bytes    BIGINT,
    content_hash  VARCHAR,
    shape         VARCHAR,
    records       BIGINT,
    added         BIGINT,
    duplicates    BIGINT,
    rejects       BIGINT,
    skipped       BIGINT,
    ingested_at   TIMESTAMPTZ DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS rulesets (
    ruleset_hash  VARCHAR PRIMARY KEY,
    name          VARCHAR,
    source        VARCHAR,
    content       VARCHAR,
    classified_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS classifications (
    ruleset_hash  VARCHAR NOT NULL,
    event_id      VARCHAR NOT NULL,
    rule_id       VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    new_level     VARCHAR NOT NULL    -- a level, or 'drop'
);
