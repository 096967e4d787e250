-- Helpers of Sentry's grouping (queries/grouping.sql). TEMP macros, loaded into every connection.

-- Sentry's parameterization of messages and exception values (the default regexes of
-- sentry/grouping/parameterization.py), applied one after the other in Sentry's order. RE2 has no
-- look-around: the `=`-prefixed quoted strings and booleans keep their `=` in the replacement,
-- negative ints keep the character before their `-`, and hex without a 0x prefix is found by
-- word (a run of 8 to 128 hex digits of one case holding at least one digit).
CREATE OR REPLACE TEMP MACRO triage_param_head(s) AS
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        s,
        '[a-zA-Z0-9.!#$%&''*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*', '<email>', 'g'),
        '\b(wss?|https?|ftp)://[^\s/$.?#].[^\s]*', '<url>', 'g'),
        '\b([a-zA-Z0-9\-]{1,63}\.)+?((COM|NET|ORG|JP|DE|UK|FR|BR|IT|RU|ES|ME|GOV|PL|CA|AU|CN|CO|IN|NL|EDU|INFO|EU|CH|ID|AT|KR|CZ|MX|BE|TV|SE|TR|TW|AL|UA|IR|VN|CL|SK|LY|CC|TO|NO|FI|US|PT|DK|AR|HU|TK|GR|IL|NEWS|RO|MY|BIZ|IE|ZA|NZ|SG|EE|TH|IO|XYZ|PE|BG|HK|RS|LT|LINK|PH|CLUB|SI|SITE|MOBI|BY|CAT|WIKI|LA|GA|XXX|CF|HR|NG|JOBS|ONLINE|KZ|UG|GQ|AE|IS|LV|PRO|FM|TIPS|MS|SA|APP)|(com|net|org|jp|de|uk|fr|br|it|ru|es|me|gov|pl|ca|au|cn|co|in|nl|edu|info|eu|ch|id|at|kr|cz|mx|be|tv|se|tr|tw|al|ua|ir|vn|cl|sk|ly|cc|to|no|fi|us|pt|dk|ar|hu|tk|gr|il|news|ro|my|biz|ie|za|nz|sg|ee|th|io|xyz|pe|bg|hk|rs|lt|link|ph|club|si|site|mobi|by|cat|wiki|la|ga|xxx|cf|hr|ng|jobs|online|kz|ug|gq|ae|is|lv|pro|fm|tips|ms|sa|app))\b', '<hostname>', 'g'),
        '\b((25[0-5]|(2[0-4]|1?[0-9])?[0-9])\.){3}(25[0-5]|(2[0-4]|1?[0-9])?[0-9])\b', '<ip>', 'g'),
        '\b00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\b|\b1-[0-9a-f]{8}-[0-9a-f]{24}\b', '<traceparent>', 'g'),
        '\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b', '<uuid>', 'g'),
        '\b[0-9a-fA-F]{40}\b', '<sha1>', 'g'),
        '\b[0-9a-fA-F]{32}\b', '<md5>', 'g'),
        '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?([+-]?\d{2}:\d{2})?|\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d(:?[0-5]\d(\.\d+)?)?([+-][0-2]\d:?[0-5]\d|Z)?|\b([1-9]|1[0-2]):[0-5]\d(:[0-5]\d)?\s?[aApP][mM]\b|\b(0?\d|1\d|2[0-3]):[0-5]\d(:[0-5]\d)?\b|\d{4}-[01]\d-[0-3]\d|[0-2]\d:[0-5]\d:[0-5]\d', '<date>', 'g'),
        '\b(\d+ms|\d+(\.\d+)?s)\b', '<duration>', 'g'),
        '\b0[xX][0-9a-fA-F]+\b', '<hex>', 'g');

CREATE OR REPLACE TEMP MACRO triage_param_hex(s) AS
    CASE WHEN regexp_matches(s, '[0-9a-fA-F]{7}') THEN array_to_string(list_transform(
        regexp_extract_all(s, '\w+|\W+'),
        lambda t: CASE WHEN regexp_full_match(t, '[0-9a-f]{8,128}|[0-9A-F]{8,128}')
                            AND regexp_matches(t, '[0-9]') THEN '<hex>'
                       WHEN regexp_full_match(t, '[0-9a-f]{7}') AND regexp_matches(t, '[0-9]')
                            AND regexp_matches(t, '[a-f]') THEN '<git_sha>'
                       ELSE t END), '')
         ELSE s END;

CREATE OR REPLACE TEMP MACRO triage_parameterize(s) AS
    regexp_replace(regexp_replace(regexp_replace(
        triage_param_hex(triage_param_head(s)),
        '-\d+\.\d+\b|\b\d+\.\d+\b', '<float>', 'g'),
        '(^|[^\w])-\d{1,7}\b|\b\d{1,7}\b', '\1<int>', 'g'),
        '=(''[^'']+''|"[^"]+"|True|true|False|false)', '=<quoted_str>', 'g');

-- A Sentry glob (`**` anything, `*` anything but `/` in paths, `?` one character, `[..]` a class)
-- as an RE2 pattern matched against the whole value.
CREATE OR REPLACE TEMP MACRO triage_glob_re(g, is_path) AS
    '(?s)' || replace(replace(replace(replace(
        regexp_replace(g, '([.+()^$|{}\\])', '\\\1', 'g'),
        '**', chr(1)),
        '*', CASE WHEN is_path THEN '[^/]*' ELSE '.*' END),
        chr(1), '.*'),
        '?', '.');

-- Sentry's behaviour family of a platform: native, javascript or other.
CREATE OR REPLACE TEMP MACRO triage_family(p) AS
    CASE WHEN p IN ('objc', 'cocoa', 'swift', 'native', 'c') THEN 'native'
         WHEN p IN ('javascript', 'node') THEN 'javascript'
         ELSE 'other' END;

-- A frame path that points to a URL (Sentry's has_url_origin); `file:` counts unless allowed.
CREATE OR REPLACE TEMP MACRO triage_url_origin(path, allow_file) AS
    coalesce(regexp_matches(path, '^(https?|applewebdata|blob):')
             OR (NOT allow_file AND starts_with(path, 'file:')), false);

-- A native function name trimmed the way Sentry shows it: no return type, no argument list,
-- template arguments as <T>; Objective-C names ([Class method]) are kept whole.
CREATE OR REPLACE TEMP MACRO triage_trim_native(f) AS
    CASE WHEN f IS NULL OR contains(f, '[') THEN f
    ELSE replace(replace(regexp_extract(
        regexp_replace(
            regexp_replace(regexp_replace(regexp_replace(regexp_replace(
                replace(f, '(anonymous namespace)', chr(2)),
                '<[^<>]*>', chr(3), 'g'), '<[^<>]*>', chr(3), 'g'), '<[^<>]*>', chr(3), 'g'),
                '<[^<>]*>', chr(3), 'g'),
            '\s*\([^()]*\)\s*(const)?\s*(&&?)?$', ''),
        '[^ ]+$'), chr(2), '(anonymous namespace)'), chr(3), '<T>')
    END;
