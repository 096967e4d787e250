-- Sentry's errors table as Snuba creates it for a self-hosted Sentry (storage set `events`,
-- migrations 0011_rebuild_errors and 0012_errors_make_level_nullable of getsentry/snuba), with
-- the columns of those migrations and the same engine, partitioning, sort and sampling keys.
-- Later migrations add columns (replay_id, timestamp_ms, flags, ...) that triage does not read.
-- The fixture of tests/test_clickhouse_sentry.py: loaded with generated events, then reported on.
CREATE TABLE errors_local (
    project_id UInt64,
    `timestamp` DateTime,
    event_id UUID CODEC(NONE),
    platform LowCardinality(String),
    environment LowCardinality(Nullable(String)),
    `release` LowCardinality(Nullable(String)),
    dist LowCardinality(Nullable(String)),
    ip_address_v4 Nullable(IPv4),
    ip_address_v6 Nullable(IPv6),
    `user` String DEFAULT '',
    user_hash UInt64 MATERIALIZED cityHash64(`user`),
    user_id Nullable(String),
    user_name Nullable(String),
    user_email Nullable(String),
    sdk_name LowCardinality(Nullable(String)),
    sdk_version LowCardinality(Nullable(String)),
    http_method LowCardinality(Nullable(String)),
    http_referer Nullable(String),
    tags Nested(key String, value String),
    _tags_hash_map Array(UInt64) MATERIALIZED arrayMap((k, v) -> cityHash64(concat(replaceRegexpAll(k, '(\\=|\\\\)', '\\\\\\1'), '=', v)), tags.key, tags.value),
    contexts Nested(key String, value String),
    transaction_name LowCardinality(String) DEFAULT '',
    transaction_hash UInt64 MATERIALIZED cityHash64(transaction_name),
    span_id Nullable(UInt64),
    trace_id Nullable(UUID),
    `partition` UInt16,
    `offset` UInt64 CODEC(DoubleDelta, LZ4),
    message_timestamp DateTime,
    retention_days UInt16,
    deleted UInt8,
    group_id UInt64,
    primary_hash UUID,
    received DateTime,
    message String,
    title String,
    culprit String,
    level LowCardinality(Nullable(String)),
    location Nullable(String),
    version LowCardinality(Nullable(String)),
    type LowCardinality(String),
    exception_stacks Nested(
        type Nullable(String),
        value Nullable(String),
        mechanism_type Nullable(String),
        mechanism_handled Nullable(UInt8)
    ),
    exception_frames Nested(
        abs_path Nullable(String),
        colno Nullable(UInt32),
        filename Nullable(String),
        function Nullable(String),
        lineno Nullable(UInt32),
        in_app Nullable(UInt8),
        package Nullable(String),
        module Nullable(String),
        stack_level Nullable(UInt16)
    ),
    sdk_integrations Array(String),
    modules Nested(name String, version String)
)
ENGINE = ReplacingMergeTree(deleted)
PARTITION BY (retention_days, toMonday(`timestamp`))
ORDER BY (project_id, toStartOfDay(`timestamp`), primary_hash, cityHash64(event_id))
SAMPLE BY cityHash64(event_id)
TTL `timestamp` + toIntervalDay(retention_days)
SETTINGS index_granularity = 8192
