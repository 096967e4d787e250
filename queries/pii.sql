-- Personal data: the SQL twins of triage/pii.py's detectors (see there for what each one finds).
-- Loaded into every connection beside macros.sql (TEMP macros, never stored).
-- Emails and IP addresses never reach user_id, tags or stored payloads unless the ingest was told
-- `--keep-pii` (the variable triage_keep_pii); message texts are stored as sent and masked where
-- they are shown (triage_mask).

CREATE OR REPLACE TEMP MACRO triage_keep_pii() AS coalesce(try_cast(getvariable('triage_keep_pii') AS BOOLEAN), false);

-- The stand-in for a person known by an email or address: keyed with the database's own secret,
-- two nested SHA-256 with an inner and an outer key (the HMAC construction), so that a known
-- email cannot be confirmed from a report without the database file.
-- The key is read once per connection into the variable triage_anon_key (lambdas, which apply
-- this to every tag, cannot hold a subquery).
SET VARIABLE triage_anon_key = (SELECT max(value) FROM triage_secret WHERE name = 'anon');

CREATE OR REPLACE TEMP MACRO triage_anon(v) AS
    CASE WHEN v IS NOT NULL THEN 'anon:' || left(sha256(
        getvariable('triage_anon_key') || ':o:'
        || sha256(getvariable('triage_anon_key') || ':i:' || lower(trim(v)))), 12) END;

CREATE OR REPLACE TEMP MACRO triage_has_email(s) AS
    regexp_matches(s, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}');

-- Wholly an IPv4 (octets 0-255) or IPv6 address, with an optional port.
CREATE OR REPLACE TEMP MACRO triage_is_ip(s) AS
    regexp_full_match(trim(s),
        '((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}|([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|\[?[0-9A-Fa-f:.]*::[0-9A-Fa-f:.]*\]?)(:\d+)?');

CREATE OR REPLACE TEMP MACRO triage_is_pii(s) AS triage_has_email(s) OR triage_is_ip(s);

-- A user field (id, username) that is personal data becomes its stand-in.
CREATE OR REPLACE TEMP MACRO triage_anon_pii(s) AS
    CASE WHEN triage_is_pii(s) THEN triage_anon(s) ELSE s END;

-- user_id from a user object: id, else username, else the stand-in of the email or address.
CREATE OR REPLACE TEMP MACRO triage_user_id(u) AS
    CASE WHEN triage_keep_pii() THEN
        coalesce(nullif(triage_str(json_extract(u, '$.id')), ''),
                 nullif(triage_str(json_extract(u, '$.username')), ''),
                 nullif(triage_str(json_extract(u, '$.email')), ''),
                 nullif(nullif(triage_str(json_extract(u, '$.ip_address')), ''), '{{auto}}'))
    ELSE
        coalesce(triage_anon_pii(nullif(triage_str(json_extract(u, '$.id')), '')),
                 triage_anon_pii(nullif(triage_str(json_extract(u, '$.username')), '')),
                 triage_anon(coalesce(nullif(triage_str(json_extract(u, '$.email')), ''),
                                      nullif(nullif(triage_str(json_extract(u, '$.ip_address')), ''), '{{auto}}'))))
    END;

-- One tag value: Sentry's `user` tag (`email:...`, `ip:...`) keeps its prefix and gets the
-- stand-in; a key that names an address (`user.ip`, `client_ip`, `X-Forwarded-For`) and a value
-- that is wholly an email or address get the stand-in; an email inside a longer value is masked.
-- Version-like keys keep a dotted quad: `1.2.3.4` there is a version.
CREATE OR REPLACE TEMP MACRO triage_scrub_tag(k, v) AS
    CASE
        WHEN v IS NULL THEN NULL
        -- Most tags: no '@', '.' or ':' (no email, no address) under a key that names no address.
        WHEN strpos(v, '@') = 0 AND strpos(v, '.') = 0 AND strpos(v, ':') = 0
             AND NOT regexp_matches(k, '(?i)ip|addr|forwarded|email') THEN v
        WHEN lower(k) = 'user' AND regexp_matches(v, '^[a-z_]+:') THEN
            CASE WHEN regexp_matches(v, '^(email|ip|ip_address):') OR triage_is_pii(regexp_extract(v, '^[a-z_]+:(.*)$', 1))
                 THEN regexp_extract(v, '^([a-z_]+):', 1) || ':' || triage_anon(regexp_extract(v, '^[a-z_]+:(.*)$', 1))
                 ELSE v END
        WHEN regexp_full_match(lower(k), '(.*[._-])?(ip|ip_address|ipaddress|remote_addr|client_ip|x-forwarded-for|x-real-ip|forwarded|email)')
            THEN triage_anon(v)
        WHEN regexp_matches(lower(k), 'version|release|build|sdk') THEN v
        WHEN triage_is_ip(v) OR regexp_full_match(trim(v), '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}')
            THEN triage_anon(v)
        WHEN triage_has_email(v) THEN regexp_replace(v, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '<email>', 'g')
        ELSE v
    END;

CREATE OR REPLACE TEMP MACRO triage_scrub_tags(tags) AS
    CASE WHEN tags IS NULL OR triage_keep_pii() THEN tags
         ELSE map_from_entries(list_transform(map_entries(tags),
                  lambda e: struct_pack(k := e.key, v := triage_scrub_tag(e.key, e.value))))
    END;

-- A stored payload (--keep-raw): emails anywhere, string values that are wholly an address, and
-- the values of address keys (request env, headers as pairs) masked.
CREATE OR REPLACE TEMP MACRO triage_scrub_json(j) AS
    CASE WHEN j IS NULL OR triage_keep_pii() THEN j
         ELSE CAST(regexp_replace(regexp_replace(regexp_replace(
              CAST(j AS VARCHAR),
              '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '<email>', 'g'),
              '(?i)("(?:[^"]*[._-])?(?:ip|ip_address|ipaddress|remote_addr|client_ip|x-forwarded-for|x-real-ip|forwarded|addr)"\s*[:,]\s*)"(?:[^"\\]|\\.)*"', '\1"<ip>"', 'g'),
              '"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}|([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f:.]*::[0-9A-Fa-f:.]*)(:\d+)?"', '"<ip>"', 'g')
              AS JSON)
    END;

-- Text shown to people (report and diff examples): emails, IPv4-looking numbers and credentials
-- masked, whatever was stored.
CREATE OR REPLACE TEMP MACRO triage_mask(s) AS
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        s,
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '<email>', 'g'),
        '\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b', '<ip>', 'g'),
        '(?i)\b(bearer|basic|token|dsn)(\s+|=)[A-Za-z0-9._~+/=:-]{8,}', '\1\2<secret>', 'g'),
        '\bsntr[a-z]{1,2}_[A-Za-z0-9_=+/.-]{8,}', '<secret>', 'g'),
        '(?i)([a-z][a-z0-9+.-]*://[^/\s:@"'']*):[^/\s@"'']*@', '\1:<secret>@', 'g');
