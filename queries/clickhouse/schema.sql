-- The triage-owned events table on ClickHouse: the columns of queries/schema/001_init.sql that
-- classification, reports and bursts read, with the same names and NULLs (Nullable columns: a
-- missing value must stay NULL, not read as '', for coalesce(message, exc_value, '') to hold).
-- Partitioned by day; sorted by group and time, which is what reports and bursts scan.
-- Created in the database the URL names (the client's default database).
CREATE TABLE IF NOT EXISTS triage_events (
    event_id      String,
    group_key     String,
    group_id      Nullable(String),
    project       Nullable(String),
    ts            Nullable(DateTime64(6, 'UTC')),
    level         LowCardinality(String),
    platform      Nullable(String),
    logger        Nullable(String),
    message       Nullable(String),
    exc_type      Nullable(String),
    exc_value     Nullable(String),
    `transaction` Nullable(String),
    culprit       Nullable(String),
    user_id       Nullable(String),
    `release`     Nullable(String),
    environment   Nullable(String),
    tags          Map(String, String),
    fingerprint   Array(String),
    template      Nullable(String),
    source_file   Nullable(String),
    source_line   Nullable(Int64),
    ingested_at   DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
PARTITION BY toDate(ifNull(ts, toDateTime64(0, 6, 'UTC')))
ORDER BY (group_key, ifNull(ts, toDateTime64(0, 6, 'UTC')), event_id)
SETTINGS allow_nullable_key = 1;

CREATE TABLE IF NOT EXISTS triage_rejects (
    source_file   Nullable(String),
    source_line   Nullable(Int64),
    reason        Nullable(String),
    raw_text      Nullable(String),
    rejected_at   DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY tuple();
