-- Helpers shared by the normalizers. Loaded into every connection (TEMP macros, never stored).

-- A JSON value as text: strings unquoted, numbers and booleans as written, objects as JSON text.
CREATE OR REPLACE TEMP MACRO triage_str(j) AS
    CASE json_type(j)
        WHEN 'VARCHAR' THEN json_extract_string(j, '$')
        WHEN 'NULL' THEN NULL
        ELSE CAST(j AS VARCHAR)
    END;

-- Sentry levels, including relay's aliases and Python's numeric logging levels.
CREATE OR REPLACE TEMP MACRO triage_level(s) AS
    CASE lower(trim(s))
        WHEN 'critical' THEN 'fatal'
        WHEN 'log' THEN 'info'
        WHEN 'warn' THEN 'warning'
        WHEN '10' THEN 'debug'
        WHEN '20' THEN 'info'
        WHEN '30' THEN 'warning'
        WHEN '40' THEN 'error'
        WHEN '50' THEN 'fatal'
        WHEN '' THEN 'error'
        ELSE coalesce(lower(trim(s)), 'error')
    END;

-- Epoch seconds (or milliseconds, when too large to be seconds) or an RFC 3339 string.
CREATE OR REPLACE TEMP MACRO triage_ts(j) AS
    CASE
        WHEN json_type(j) IN ('DOUBLE', 'BIGINT', 'UBIGINT', 'HUGEINT') THEN
            try(to_timestamp(CASE WHEN CAST(j AS DOUBLE) > 1e11 THEN CAST(j AS DOUBLE) / 1000
                                  ELSE CAST(j AS DOUBLE) END))
        WHEN json_type(j) = 'VARCHAR' THEN
            coalesce(try_cast(json_extract_string(j, '$') AS TIMESTAMPTZ),
                     try(to_timestamp(try_cast(json_extract_string(j, '$') AS DOUBLE))))
    END;

-- Tags as a MAP, from a dict, a list of [key, value] pairs, or a list of {key, value} objects.
-- Duplicate and null keys are dropped (first wins) so the MAP is always valid.
CREATE OR REPLACE TEMP MACRO triage_map_entries(entries) AS
    map_from_entries(list_filter(
        entries,
        lambda x, i: x.k IS NOT NULL AND list_position(list_transform(entries, lambda y: y.k), x.k) = i));

-- The lenient form (any JSON value types, duplicate keys): a lambda per tag, slow on many events.
CREATE OR REPLACE TEMP MACRO triage_tags_lenient(j) AS
    CASE json_type(j)
        WHEN 'OBJECT' THEN try(triage_map_entries(list_transform(
            json_keys(j),
            lambda k: struct_pack(k := k, v := triage_str(json_extract(j, '$."' || replace(k, '"', '\"') || '"'))))))
        WHEN 'ARRAY' THEN try(CASE json_type(j, '$[0]')
            WHEN 'OBJECT' THEN triage_map_entries(list_transform(
                CAST(j AS JSON[]),
                lambda x: struct_pack(k := triage_str(json_extract(x, '$.key')), v := triage_str(json_extract(x, '$.value')))))
            ELSE triage_map_entries(list_transform(
                CAST(j AS JSON[]),
                lambda p: struct_pack(k := triage_str(json_extract(p, '$[0]')), v := triage_str(json_extract(p, '$[1]')))))
            END)
    END;

-- Why two forms: json_transform parses each tags value once, set at a time (about 50x faster than
-- the lenient form); it fails on duplicate keys, and then the lenient form decides (first wins).
CREATE OR REPLACE TEMP MACRO triage_tags(j) AS
    CASE WHEN json_type(j) = 'OBJECT'
         THEN coalesce(try(json_transform(j, '"MAP(VARCHAR, VARCHAR)"')), triage_tags_lenient(j))
         ELSE triage_tags_lenient(j)
    END;

-- The exception chain as a list, oldest first, from {values: [...]}, a bare list, or one object.
CREATE OR REPLACE TEMP MACRO triage_exc_list(j) AS
    CASE json_type(j)
        WHEN 'ARRAY' THEN try(CAST(j AS JSON[]))
        WHEN 'OBJECT' THEN
            CASE WHEN json_type(j, '$.values') = 'ARRAY' THEN try(CAST(json_extract(j, '$.values') AS JSON[]))
                 WHEN json_type(j, '$.values') IS NOT NULL THEN []::JSON[]
                 ELSE [j] END
    END;

CREATE OR REPLACE TEMP MACRO triage_exc_chain_lenient(j) AS
    list_transform(
        list_filter(triage_exc_list(j), lambda x: json_type(x) = 'OBJECT'),
        lambda x: struct_pack("type" := triage_str(json_extract(x, '$.type')),
                         "value" := triage_str(json_extract(x, '$.value')),
                         "module" := triage_str(json_extract(x, '$.module'))));

-- Why two forms: the usual {values: [...]} parsed once by json_transform (the stack traces make
-- the value large: the lenient form parses it about ten times); anything else, the lenient form.
CREATE OR REPLACE TEMP MACRO triage_exc_chain(j) AS
    coalesce(
        list_filter(
            try(json_transform_strict(j, '{"values": [{"type": "VARCHAR", "value": "VARCHAR", "module": "VARCHAR"}]}')).values,
            lambda x: x IS NOT NULL),
        triage_exc_chain_lenient(j));

-- A log message with its parameters filled in, as Sentry shows it: positional `%s` (and `%d`,
-- `%r`...) or `{0}` with a list, `%(name)s` or `{name}` with an object.
CREATE OR REPLACE TEMP MACRO triage_format(msg, params) AS
    CASE
        WHEN msg IS NULL THEN NULL
        WHEN json_type(params) = 'OBJECT' THEN list_reduce(
            json_keys(params),
            lambda acc, k: replace(replace(acc, '%(' || k || ')s', coalesce(triage_str(json_extract(params, '$."' || replace(k, '"', '\"') || '"')), '')),
                                   '{' || k || '}', coalesce(triage_str(json_extract(params, '$."' || replace(k, '"', '\"') || '"')), '')),
            msg)
        WHEN json_type(params) <> 'ARRAY' OR json_array_length(params) = 0 THEN msg
        WHEN regexp_matches(msg, '%[sdrif]') THEN (SELECT array_to_string(list_transform(
                  generate_series(1, len(parts)),
                  lambda i: parts[i] || CASE WHEN i < len(parts)
                                        THEN coalesce(triage_str(json_extract(params, ('$[' || (i - 1) || ']'))), '')
                                        ELSE '' END), '')
              FROM (SELECT string_split_regex(msg, '%[sdrif]') AS parts))
        WHEN regexp_matches(msg, '\{[0-9]+\}') THEN list_reduce(
            generate_series(0, CAST(json_array_length(params) AS BIGINT) - 1),
            lambda acc, i: replace(acc, '{' || i || '}', coalesce(triage_str(json_extract(params, '$[' || i || ']')), '')),
            msg)
        ELSE msg
    END;

-- Mask the variable parts of a message (URLs, emails, UUIDs, IPs, hex ids, durations, numbers)
-- so that events of one kind share a template.
CREATE OR REPLACE TEMP MACRO triage_template(s) AS
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(
        s,
        '[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"''<>)]+', '<url>', 'g'),
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '<email>', 'g'),
        '\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b', '<uuid>', 'g'),
        '\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b', '<ip>', 'g'),
        '\b(0x[0-9a-fA-F]+|[0-9a-fA-F]{8,})\b', '<hex>', 'g'),
        '\b\d+(\.\d+)?\s?(ns|us|µs|ms|s|sec|secs|seconds|m|min|mins|minutes|h|hours)\b', '<duration>', 'g'),
        '\b\d+(\.\d+)?\b', '<num>', 'g');

-- A title part as Sentry shows it: the first line, cut to 100 characters with `...`.
CREATE OR REPLACE TEMP MACRO triage_title_cut(s) AS
    CASE WHEN nullif(trim(s), '') IS NULL THEN NULL
         WHEN length(split_part(trim(s), chr(10), 1)) > 100
             THEN left(split_part(trim(s), chr(10), 1), 97) || '...'
         ELSE split_part(trim(s), chr(10), 1) END;

-- The first entry of a web API event's `entries` list with the given type ({type, data}).
CREATE OR REPLACE TEMP MACRO triage_entry(entries, t) AS
    CASE WHEN json_type(entries) = 'ARRAY' THEN
        list_filter(try(CAST(entries AS JSON[])), lambda e: json_extract_string(e, '$.type') = t)[1]
    END;
