-- The ingest floor: DuckDB's typed JSON reader writing the normalized event columns into a table
-- of a file database, in one statement. FROZEN: benchmarks/run.py reports `triage ingest` as a
-- ratio against this query; changing it moves every ratio. (Issue 14, frozen after the grouping
-- of issue 13: it reads what the grouping needs, the stack frames of the exception chain.)
--
-- It reads the raw SDK shape the benchmark generator writes, with explicit typed columns (scalars
-- as VARCHAR/DOUBLE, `user` and `exception` as STRUCTs, `tags` as a MAP), and computes every
-- column of `events` a lean hand-written query would: message (log entry, else message), the
-- raised exception, the chain, the user (id, else a hash of email/IP), tags, fingerprint, the
-- masked template (the same seven regexes as the pipeline, once per row) and a group key (MD5 of
-- the exception type, the in-app frames' functions and the template). It does none of what the
-- pipeline does on top: shape detection, other shapes, odd types, rejects, dedupe, accounting.
--
-- One parameter: the file path (plain, .gz or .zst, told by the reader from the name).
CREATE TABLE events_floor AS
WITH r AS (
    SELECT *, row_number() OVER () AS source_line
    FROM read_json(?, format = 'newline_delimited', maximum_object_size = 16777216, columns = {
        'event_id': 'VARCHAR',
        'timestamp': 'DOUBLE',
        'level': 'VARCHAR',
        'platform': 'VARCHAR',
        'logger': 'VARCHAR',
        'message': 'VARCHAR',
        'logentry': 'STRUCT(formatted VARCHAR, message VARCHAR)',
        'exception': 'STRUCT("values" STRUCT("type" VARCHAR, "value" VARCHAR, "module" VARCHAR,
            stacktrace STRUCT(frames STRUCT("function" VARCHAR, "module" VARCHAR,
                                            filename VARCHAR, in_app BOOLEAN)[]))[])',
        'transaction': 'VARCHAR',
        'culprit': 'VARCHAR',
        'user': 'STRUCT(id VARCHAR, username VARCHAR, email VARCHAR, ip_address VARCHAR)',
        'release': 'VARCHAR',
        'environment': 'VARCHAR',
        'project': 'VARCHAR',
        'tags': 'MAP(VARCHAR, VARCHAR)',
        'fingerprint': 'VARCHAR[]'
    })
),
t AS (
    SELECT
        replace(lower(event_id), '-', '') AS event_id,
        to_timestamp("timestamp") AS ts,
        lower(coalesce("level", 'error')) AS "level",
        platform,
        logger,
        coalesce(logentry.formatted, logentry.message, message) AS message,
        exception."values" AS ev,
        ev[len(ev)]."type" AS exc_type,
        ev[len(ev)]."value" AS exc_value,
        list_transform(ev, lambda x: struct_pack("type" := x."type", "value" := x."value",
                                                 "module" := x."module")) AS exc_chain,
        list_transform(list_filter(ev[len(ev)].stacktrace.frames, lambda f: f.in_app),
                       lambda f: f."function") AS app_frames,
        "transaction",
        culprit,
        coalesce("user".id, "user".username,
                 'anon:' || left(md5(coalesce("user".email, "user".ip_address)), 12)) AS user_id,
        "release",
        environment,
        project,
        tags,
        fingerprint,
        source_line
    FROM r
),
m AS (
    SELECT *,
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        regexp_replace(regexp_replace(
            coalesce(message, exc_value, exc_type, ''),
            '[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"''<>)]+', '<url>', 'g'),
            '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '<email>', 'g'),
            '\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b', '<uuid>', 'g'),
            '\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b', '<ip>', 'g'),
            '\b(0x[0-9a-fA-F]+|[0-9a-fA-F]{8,})\b', '<hex>', 'g'),
            '\b\d+(\.\d+)?\s?(ns|us|µs|ms|s|sec|secs|seconds|m|min|mins|minutes|h|hours)\b', '<duration>', 'g'),
            '\b\d+(\.\d+)?\b', '<num>', 'g') AS template
    FROM t
)
SELECT
    event_id,
    left(md5(concat_ws(chr(31), coalesce(exc_type, ''), array_to_string(app_frames, chr(30)),
                       template)), 16) AS group_key,
    project, ts, "level", platform, logger, message, exc_type, exc_value, exc_chain,
    "transaction", culprit, user_id, "release", environment, tags, fingerprint, template,
    ? AS source_file, source_line
FROM m;
