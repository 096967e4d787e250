-- Sentry's grouping (default config newstyle@2023-01-11), set at a time over many events.
-- Run as statements in order (triage.grouping.compute); each stage is a TEMP table, so the
-- planner sees small queries. Input: a relation `grouping_input` with one row per event:
--   gkey BIGINT (the caller's row key), platform VARCHAR, g_exc JSON[] (the exception objects,
--   oldest first, with their stack traces), g_threads JSON, g_stacktrace JSON,
--   fingerprint VARCHAR[], g_message VARCHAR (the log message before formatting, else the
--   formatted one), g_checksum VARCHAR, g_csp JSON, g_expectct JSON, g_rules VARCHAR (per-event
--   stack trace rules in Sentry's syntax, else NULL), level, logger, "transaction".
-- Output: gkey, group_hash (32 hex, as Sentry's snapshot shows it), group_variant (app, system,
-- default, custom_fingerprint, checksum, fallback), group_component (exception, stacktrace,
-- threads, chained_exception, message, csp, ...), group_basis (the contributing values, readable).
-- @stage rules: stack trace rules from `rule_src(gkey, txt)`: the built-in ones once per connection
-- (into g_rules_builtin, gkey NULL), each batch's own per event (into g_rules_batch).
CREATE OR REPLACE TEMP TABLE g_rules_batch AS
WITH rule_lines AS (
    SELECT gkey, i AS ridx, trim(regexp_replace(line, '#.*$', '')) AS line
    FROM rule_src, unnest(string_split(txt, chr(10))) WITH ORDINALITY AS t(line, i)
),
rule_tokens AS (
    SELECT gkey, ridx, regexp_extract_all(line, '!?[a-z._]+:"[^"]*"|\S+') AS toks
    FROM rule_lines
    WHERE line <> '' AND NOT starts_with(line, '[') AND NOT contains(line, ' | ')
),
rules AS (
    SELECT
        gkey, ridx,
        list_transform(
            list_filter(toks, lambda t: regexp_matches(t, '^!?[a-z._]+:')),
            lambda t: struct_pack(
                neg := starts_with(t, '!'),
                key := regexp_replace(regexp_extract(t, '^!?([a-z._]+):', 1), '^stack\.', ''),
                pat := regexp_replace(regexp_replace(t, '^!?[a-z._]+:', ''), '^"(.*)"$', '\1'))) AS ms,
        list_filter(toks, lambda t: regexp_matches(t, '^[\^v]?[+-](app|group)$')) AS acts,
        regexp_extract(array_to_string(toks, ' '), 'category=(\S+)', 1) AS set_cat
    FROM rule_tokens
),
rules_m AS (
    SELECT *,
        list_transform(ms, lambda m: struct_pack(
            neg := m.neg, key := m.key,
            re := CASE WHEN m.key IN ('family', 'app', 'category') THEN m.pat
                       ELSE triage_glob_re(CASE WHEN m.key IN ('path', 'package') THEN lower(m.pat) ELSE m.pat END,
                                           m.key IN ('path', 'package')) END)) AS mr,
        list_bool_or(list_transform(ms, lambda m: m.key = 'category')) AS uses_cat
    FROM rules
),
-- The exception chain, with Sentry's handling of exception groups: the distinct leaf exceptions
-- under the root group (by type, descending) and the root itself.
SELECT * FROM rules_m;

-- @stage events
CREATE OR REPLACE TEMP TABLE g_ev AS SELECT gkey, lower(coalesce(nullif(platform, ''), 'other')) AS platform, g_exc, g_threads,
           g_stacktrace, fingerprint, g_message, g_checksum, g_csp, g_expectct, g_rules,
           level, logger, "transaction",
           triage_str(json_extract(g_exc[len(g_exc)], '$.type')) AS last_type,
           triage_str(json_extract(g_exc[len(g_exc)], '$.value')) AS last_value
    FROM grouping_input;

CREATE OR REPLACE TEMP TABLE g_chain AS
WITH RECURSIVE exc AS (
    SELECT gkey, pos, x,
           triage_str(json_extract(x, '$.type')) AS etype,
           triage_str(json_extract(x, '$.value')) AS evalue,
           coalesce(try_cast(json_extract(x, '$.mechanism.synthetic') AS BOOLEAN), false) AS synthetic,
           try_cast(json_extract(x, '$.mechanism.exception_id') AS BIGINT) AS eid,
           try_cast(json_extract(x, '$.mechanism.parent_id') AS BIGINT) AS pid,
           coalesce(try_cast(json_extract(x, '$.mechanism.is_exception_group') AS BOOLEAN), false) AS is_group,
           CASE WHEN json_type(x, '$.stacktrace') = 'OBJECT' THEN json_extract(x, '$.stacktrace') END AS st,
           -- Cocoa's NSError: its domain and code group along with the type
           concat(triage_str(json_extract(x, '$.mechanism.meta.ns_error.domain')),
                  triage_str(json_extract(x, '$.mechanism.meta.ns_error.code'))) AS ns_error,
           len(g_exc) AS n_exc
    FROM g_ev ev, unnest(g_exc) WITH ORDINALITY AS t(x, pos)
    WHERE json_type(x) = 'OBJECT'
),
grouped_events AS (
    SELECT gkey FROM exc GROUP BY gkey
    HAVING count(*) > 1 AND count(eid) = count(*) AND count(DISTINCT eid) = count(*)
       AND bool_or(eid = 0)
),
tree AS (
    SELECT e.gkey, e.pos, e.eid, e.is_group, [0]::BIGINT[] AS path
    FROM exc e JOIN grouped_events g USING (gkey) WHERE e.eid = 0
    UNION ALL
    SELECT c.gkey, c.pos, c.eid, c.is_group, list_append(t.path, c.n_exc - c.pos)
    FROM tree t JOIN exc c ON c.gkey = t.gkey AND c.pid = t.eid AND c.eid <> 0
    WHERE t.is_group AND len(t.path) < 10
),
leaves AS (
    SELECT t.gkey, t.pos, e.etype, e.evalue, t.path
    FROM tree t JOIN exc e USING (gkey, pos)
    WHERE NOT t.is_group
),
leaves_ranked AS (
    SELECT *, row_number() OVER (PARTITION BY gkey ORDER BY etype DESC NULLS LAST, path) AS r
    FROM leaves
),
leaves_distinct AS (
    SELECT * FROM leaves_ranked
    QUALIFY (etype, evalue) IS DISTINCT FROM
            lag((etype, evalue)) OVER (PARTITION BY gkey ORDER BY r)
),
chain AS (
    -- ordinary chains: as sent, oldest first
    SELECT e.*, e.pos AS cpos FROM exc e ANTI JOIN grouped_events g USING (gkey)
    UNION ALL
    -- exception groups: one distinct leaf, or the distinct leaves then the root group
    SELECT e.*, CASE WHEN e.eid = 0 THEN 1000000 ELSE d.r END AS cpos
    FROM exc e JOIN grouped_events g USING (gkey)
    LEFT JOIN leaves_distinct d ON d.gkey = e.gkey AND d.pos = e.pos
    WHERE d.pos IS NOT NULL
       OR (e.eid = 0 AND (SELECT count(*) FROM leaves_distinct l WHERE l.gkey = e.gkey) > 1)
),
-- Every stack trace that can decide the group: an exception's, the single thread's, the event's.
SELECT * FROM chain;

CREATE OR REPLACE TEMP TABLE g_frames AS
WITH st_src AS (
    SELECT gkey, 'exception' AS src, cpos, st FROM g_chain WHERE st IS NOT NULL
    UNION ALL
    SELECT gkey, 'threads', 0, json_extract(th, '$[0].stacktrace')
    FROM (SELECT gkey, CASE WHEN json_type(g_threads) = 'ARRAY' THEN g_threads
                            ELSE json_extract(g_threads, '$.values') END AS th FROM g_ev) t
    WHERE json_array_length(th) = 1 AND json_type(th, '$[0].stacktrace') = 'OBJECT'
    UNION ALL
    SELECT gkey, 'stacktrace', 0, g_stacktrace FROM g_ev WHERE json_type(g_stacktrace) = 'OBJECT'
),
frames_raw AS (
    SELECT s.gkey, s.src, s.cpos, f.i AS fidx, f.fr, json_array_length(json_extract(s.st, '$.frames')) AS n_frames,
           lower(coalesce(triage_str(json_extract(f.fr, '$.platform')), ev.platform)) AS platform
    FROM st_src s JOIN g_ev ev USING (gkey),
         unnest(try_cast(json_extract(s.st, '$.frames') AS JSON[])) WITH ORDINALITY AS f(fr, i)
    WHERE json_type(s.st, '$.frames') = 'ARRAY'
),
frames AS (
    SELECT gkey, src, cpos, fidx, n_frames, platform, triage_family(platform) AS fam,
           triage_str(json_extract(fr, '$.function')) AS function,
           triage_str(json_extract(fr, '$.raw_function')) AS raw_function,
           triage_str(json_extract(fr, '$.module')) AS module,
           triage_str(json_extract(fr, '$.filename')) AS filename,
           triage_str(json_extract(fr, '$.abs_path')) AS abs_path,
           triage_str(json_extract(fr, '$.package')) AS package,
           triage_str(json_extract(fr, '$.context_line')) AS context_line,
           triage_str(json_extract(fr, '$.lineno')) AS lineno,
           triage_str(json_extract(fr, '$.colno')) AS colno,
           try_cast(json_extract(fr, '$.in_app') AS BOOLEAN) AS client_in_app,
           json_type(fr, '$.data.sourcemap') IS NOT NULL AND json_type(fr, '$.data.sourcemap') <> 'NULL' AS sourcemap_used
    FROM frames_raw
    WHERE json_type(fr) = 'OBJECT'
),
-- What a rule's matchers test, per frame.
SELECT * FROM frames;

-- Sentry's parameterization, bound once per batch (the regexes cost more to compile than to run).
CREATE OR REPLACE TEMP TABLE g_params AS
SELECT s, triage_parameterize(s) AS p
FROM (SELECT g_message AS s FROM g_ev UNION SELECT evalue FROM g_chain) t
WHERE s IS NOT NULL;

-- @stage frames: skipped when the batch has no stack frames
CREATE OR REPLACE TEMP TABLE g_frame_rule AS
WITH frame_keys AS (
    SELECT *,
        lower(replace(coalesce(abs_path, ''), '\', '/')) AS m_abs,
        lower(replace(coalesce(filename, ''), '\', '/')) AS m_file,
        lower(replace(coalesce(package, ''), '\', '/')) AS m_pkg
    FROM g_frames
),
frame_rule AS (
    SELECT f.gkey, f.src, f.cpos, f.fidx, r.ridx, r.acts, r.set_cat, r.uses_cat, r.mr,
           list_bool_or(list_transform(r.mr, lambda m: m.key = 'app')) AS uses_app
    FROM frame_keys f JOIN (SELECT * FROM g_rules_builtin UNION ALL SELECT * FROM g_rules_batch) r ON r.gkey IS NULL OR r.gkey = f.gkey
    WHERE coalesce(list_bool_and(list_transform(list_filter(r.mr, lambda m: m.key NOT IN ('category', 'app')), lambda m: m.neg <> coalesce(
        CASE m.key
            WHEN 'family' THEN list_contains(string_split(m.re, ','), f.fam) OR m.re = 'all'
            WHEN 'function' THEN regexp_full_match(coalesce(f.function, ''), m.re)
            WHEN 'module' THEN regexp_full_match(coalesce(f.module, ''), m.re)
            WHEN 'path' THEN regexp_full_match(f.m_abs, m.re) OR regexp_full_match(f.m_file, m.re)
            WHEN 'abs_path' THEN regexp_full_match(f.m_abs, m.re) OR regexp_full_match(f.m_file, m.re)
            WHEN 'package' THEN regexp_full_match(f.m_pkg, m.re)
                                OR regexp_full_match(regexp_extract(f.m_pkg, '[^/]*$'), m.re)
            ELSE false END, false))), true)
),
-- Actions of matching rules apply to the frame itself, or (^) to the frames nearer the crash,
-- (v) to those away from it; the latest rule wins. Sentry applies the rules one after the other
-- to a frame whose state they change; here in three passes: in-app by rules that test neither
-- in-app nor category, then categories (testing that in-app), then every action.
SELECT * FROM frame_rule;

CREATE OR REPLACE TEMP TABLE g_frame_flags AS
WITH app_hits0 AS (
    SELECT h.gkey, h.src, h.cpos, h.fidx, h.ridx, a AS act
    FROM g_frame_rule h, unnest(h.acts) AS u(a)
    WHERE NOT h.uses_app AND NOT h.uses_cat AND a[-3:] = 'app'
),
app_effects0 AS (
    SELECT gkey, src, cpos, fidx, ridx, act FROM app_hits0 WHERE act[1] IN ('+', '-')
    UNION ALL
    SELECT h.gkey, h.src, h.cpos, f.fidx, h.ridx, h.act[2:]
    FROM app_hits0 h JOIN g_frames f USING (gkey, src, cpos)
    WHERE (h.act[1] = '^' AND f.fidx > h.fidx) OR (h.act[1] = 'v' AND f.fidx < h.fidx)
),
in_app0 AS (
    SELECT f.gkey, f.src, f.cpos, f.fidx,
           coalesce(arg_max(e.act[1] = '+', e.ridx), f.client_in_app, false) AS in_app0
    FROM g_frames f LEFT JOIN app_effects0 e USING (gkey, src, cpos, fidx)
    GROUP BY f.gkey, f.src, f.cpos, f.fidx, f.client_in_app
),
frame_rule_a AS (
    SELECT fr.*, a.in_app0
    FROM g_frame_rule fr JOIN in_app0 a USING (gkey, src, cpos, fidx)
    WHERE coalesce(list_bool_and(list_transform(list_filter(fr.mr, lambda m: m.key = 'app'),
                   lambda m: m.neg <> ((m.re IN ('yes', '1', 'true')) = a.in_app0))), true)
),
cat1 AS (
    SELECT gkey, src, cpos, fidx, arg_max(set_cat, ridx) AS cat
    FROM frame_rule_a WHERE set_cat <> '' AND NOT uses_cat GROUP BY ALL
),
frame_rule_c AS (
    SELECT fr.*, c.cat AS cat1,
        coalesce(list_bool_and(list_transform(list_filter(fr.mr, lambda m: m.key = 'category'),
                                     lambda m: m.neg <> coalesce(c.cat = m.re, false))), true) AS cat_ok
    FROM frame_rule_a fr LEFT JOIN cat1 c USING (gkey, src, cpos, fidx)
),
frame_cat AS (
    SELECT gkey, src, cpos, fidx,
        coalesce(arg_max(set_cat, ridx) FILTER (WHERE set_cat <> '' AND uses_cat AND cat_ok), any_value(cat1)) AS cat
    FROM frame_rule_c GROUP BY ALL
),
rule_hits AS (
    SELECT fr.gkey, fr.src, fr.cpos, fr.fidx, fr.ridx, a AS act
    FROM frame_rule_a fr LEFT JOIN frame_cat c USING (gkey, src, cpos, fidx), unnest(fr.acts) AS u(a)
    WHERE coalesce(list_bool_and(list_transform(list_filter(fr.mr, lambda m: m.key = 'category'),
                                       lambda m: m.neg <> coalesce(c.cat = m.re, false))), true)
),
effects AS (
    SELECT gkey, src, cpos, fidx, ridx, act FROM rule_hits WHERE act[1] IN ('+', '-')
    UNION ALL
    SELECT h.gkey, h.src, h.cpos, f.fidx, h.ridx, h.act[2:]
    FROM rule_hits h JOIN g_frames f USING (gkey, src, cpos)
    WHERE (h.act[1] = '^' AND f.fidx > h.fidx) OR (h.act[1] = 'v' AND f.fidx < h.fidx)
),
frame_flags AS (
    SELECT gkey, src, cpos, fidx,
        arg_max(act[1] = '+', ridx) FILTER (WHERE act[2:] = 'app') AS rule_app,
        arg_max(act[1] = '+', ridx) FILTER (WHERE act[2:] = 'group') AS rule_group
    FROM effects GROUP BY ALL
),
-- Sentry's frame component: module, file name, function and context line, each normalized per
-- platform, and whether it counts.
SELECT * FROM frame_flags;

CREATE OR REPLACE TEMP TABLE g_st AS
WITH comp AS (
    SELECT f.*,
        coalesce(fl.rule_app, f.client_in_app, false) AS in_app,
        coalesce(fl.rule_group, true) AS group_ok,
        lower(regexp_extract(f.filename, '[^/\\]*$')) AS fname0,
        CASE WHEN f.platform = 'csharp' THEN coalesce(f.raw_function, f.function)
             WHEN f.raw_function IS NULL AND f.function IS NOT NULL AND f.fam = 'native'
                 THEN triage_trim_native(f.function)
             ELSE coalesce(f.function, f.raw_function) END AS func0,
        array_to_string(string_split_regex(trim(replace(coalesce(f.context_line, ''), chr(9), '  ')), '\s+'), ' ') AS ctx0,
        (f.abs_path, f.package, f.module, f.filename, f.function, f.lineno, f.colno) IS NOT DISTINCT FROM
            lag((f.abs_path, f.package, f.module, f.filename, f.function, f.lineno, f.colno))
                OVER (PARTITION BY f.gkey, f.src, f.cpos ORDER BY f.fidx) AS recursion
    FROM g_frames f LEFT JOIN g_frame_flags fl USING (gkey, src, cpos, fidx)
),
comp2 AS (
    SELECT *,
        -- module
        CASE WHEN module IS NULL THEN NULL
             WHEN platform = 'java' AND module[:35] = 'sun.reflect.GeneratedMethodAccessor' THEN 'sun.reflect.GeneratedMethodAccessor'
             WHEN platform = 'java' AND module[:44] = 'jdk.internal.reflect.GeneratedMethodAccessor' THEN 'jdk.internal.reflect.GeneratedMethodAccessor'
             WHEN platform = 'java' THEN regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(module,
                 '(sun\.reflect\.Generated(?:Serialization)?ConstructorAccessor)\d+', '\1<auto>', 'g'),
                 '(\$\$[\w_]+?CGLIB\$\$)[a-fA-F0-9]+(_[0-9]+)?', '\1<auto>', 'g'),
                 '(\$\$_javassist)(?:_seam)?(?:_[0-9]+)?', '\1<auto>', 'g'),
                 '(\$fn__)\d+', '\1<auto>', 'g'),
                 '(\$HibernateProxy\$)[a-zA-Z0-9]+', '\1<auto>', 'g')
             ELSE module END AS module_v,
        module IS NOT NULL
            AND NOT (platform = 'javascript' AND contains(module, '/') AND ends_with(coalesce(abs_path, ''), module))
            AND NOT (platform = 'java' AND contains(module, '$$Lambda$')) AS module_c,
        CASE WHEN platform = 'java' THEN regexp_replace(fname0, '(\$\$_javassist)(?:_seam)?(?:_[0-9]+)?', '\1<auto>', 'g')
             ELSE fname0 END AS filename_v,
        filename IS NOT NULL AND NOT triage_url_origin(abs_path, true)
            AND fname0 NOT IN ('<anonymous>', '[native code]') AS filename_c0,
        CASE WHEN func0 IS NULL OR func0 = '' THEN NULL
             WHEN platform = 'ruby' AND starts_with(func0, 'block ') THEN 'block'
             WHEN platform = 'ruby' THEN regexp_replace(func0, '__\d{4,}_\d{4,}$', '')
             WHEN platform = 'php' AND starts_with(func0, 'class@anonymous') THEN regexp_extract(func0, '[^:]*$')
             WHEN fam = 'javascript' THEN regexp_extract(func0, '[^.]*$')
             ELSE func0 END AS function_v,
        CASE WHEN fam = 'javascript' THEN regexp_extract(coalesce(raw_function, function, ''), '[^.]*$') END AS js_func,
        platform IN ('javascript', 'node', 'python', 'php', 'ruby') AND ctx0 <> ''
            AND length(context_line) <= 120
            AND NOT (fam = 'javascript' AND function IS NULL AND triage_url_origin(abs_path, false)) AS ctx_c
    FROM comp
),
comp3 AS (
    SELECT *,
        filename_c0 AND NOT module_c AS filename_c,
        function_v IS NOT NULL
            AND NOT (platform = 'php' AND (starts_with(func0, '[Anonymous') OR starts_with(func0, 'class@anonymous' || chr(0))))
            AND NOT (platform = 'java' AND starts_with(func0, 'lambda$'))
            AND NOT (fam = 'native' AND func0 IN ('<redacted>', '<unknown>'))
            AND NOT (fam = 'javascript' AND sourcemap_used AND ctx_c)
            AND NOT (fam = 'javascript' AND (js_func = '' OR js_func IN ('?', '<anonymous function>', '<anonymous>', 'Anonymous function')
                                             OR ends_with(js_func, '/<'))) AS function_c,
        NOT (fam = 'javascript' AND (js_func = 'eval' OR coalesce(abs_path, '') IN ('[native code]', 'native code', 'eval code', '<anonymous>')))
            AND NOT recursion AND group_ok AS frame_ok
    FROM comp2
),
frame_values AS (
    SELECT *,
        concat(CASE WHEN module_c THEN module_v END, CASE WHEN filename_c THEN filename_v END,
               CASE WHEN function_c THEN function_v END, CASE WHEN ctx_c THEN ctx0 END) AS leaves,
        concat_ws(' ', CASE WHEN module_c THEN module_v WHEN filename_c THEN filename_v END,
                  CASE WHEN function_c THEN function_v END) AS label
    FROM comp3
),
frame_final AS (
    SELECT *,
        frame_ok AND leaves <> ''
            -- a lone JavaScript frame without a function, pointing to a URL, says too little
            AND NOT (n_frames = 1 AND fam = 'javascript' AND function IS NULL AND triage_url_origin(abs_path, false))
            AS contributes
    FROM frame_values
),
st_comp AS (
    SELECT gkey, src, cpos,
        string_agg(leaves, '' ORDER BY fidx) FILTER (WHERE contributes) AS sys_leaves,
        string_agg(leaves, '' ORDER BY fidx) FILTER (WHERE contributes AND in_app) AS app_leaves,
        string_agg(label, ' | ' ORDER BY fidx) FILTER (WHERE contributes) AS sys_label,
        string_agg(label, ' | ' ORDER BY fidx) FILTER (WHERE contributes AND in_app) AS app_label
    FROM frame_final GROUP BY ALL
),
-- One exception's component per variant: stack trace, type, and the value when no stack trace counts.
SELECT * FROM st_comp;

-- @stage pick
CREATE OR REPLACE TEMP TABLE g_exc_variant AS
WITH exc_comp AS (
    SELECT c.gkey, c.cpos,
        s.app_leaves, s.sys_leaves, s.app_label, s.sys_label,
        concat(CASE WHEN NOT c.synthetic AND c.etype <> '' THEN c.etype END, c.ns_error) AS type_v,
        nullif(pv.p, '') AS value_v
    FROM g_chain c LEFT JOIN g_st s ON s.gkey = c.gkey AND s.src = 'exception' AND s.cpos = c.cpos
    LEFT JOIN g_params pv ON pv.s = c.evalue
),
exc_variant AS (
    SELECT gkey,
        count(*) AS n,
        bool_or(app_leaves IS NOT NULL) AS app_st,
        bool_or(sys_leaves IS NOT NULL) AS sys_st,
        string_agg(concat(app_leaves, type_v, CASE WHEN app_leaves IS NULL THEN value_v END), '' ORDER BY cpos) AS app_h,
        string_agg(concat(sys_leaves, type_v, CASE WHEN sys_leaves IS NULL THEN value_v END), '' ORDER BY cpos) AS sys_h,
        string_agg(concat_ws(': ', coalesce(type_v, ''), CASE WHEN app_leaves IS NULL THEN value_v END)
                   || coalesce(' at ' || app_label, ''), ' / ' ORDER BY cpos) AS app_b,
        string_agg(concat_ws(': ', coalesce(type_v, ''), CASE WHEN sys_leaves IS NULL THEN value_v END)
                   || coalesce(' at ' || sys_label, ''), ' / ' ORDER BY cpos) AS sys_b
    FROM exc_comp GROUP BY gkey
)
SELECT * FROM exc_variant;

WITH other_st AS (
    SELECT gkey, src, app_leaves, sys_leaves, app_label, sys_label FROM g_st WHERE src <> 'exception'
),
-- The app/system choice: the app variant unless only the system variant has a stack trace.,
stack_choice AS (
    SELECT ev.gkey,
        CASE
            WHEN x.gkey IS NOT NULL AND coalesce(x.app_h, '') <> '' AND (x.app_st OR NOT x.sys_st)
                THEN struct_pack(h := x.app_h, v := 'app', c := CASE WHEN x.n > 1 THEN 'chained_exception' ELSE 'exception' END, b := x.app_b)
            WHEN x.gkey IS NOT NULL AND coalesce(x.sys_h, '') <> ''
                THEN struct_pack(h := x.sys_h, v := 'system', c := CASE WHEN x.n > 1 THEN 'chained_exception' ELSE 'exception' END, b := x.sys_b)
            WHEN t.app_leaves IS NOT NULL
                THEN struct_pack(h := t.app_leaves, v := 'app', c := 'threads', b := t.app_label)
            WHEN t.sys_leaves IS NOT NULL
                THEN struct_pack(h := t.sys_leaves, v := 'system', c := 'threads', b := t.sys_label)
            WHEN s.app_leaves IS NOT NULL
                THEN struct_pack(h := s.app_leaves, v := 'app', c := 'stacktrace', b := s.app_label)
            WHEN s.sys_leaves IS NOT NULL
                THEN struct_pack(h := s.sys_leaves, v := 'system', c := 'stacktrace', b := s.sys_label)
        END AS pick
    FROM g_ev ev
    LEFT JOIN g_exc_variant x ON x.gkey = ev.gkey
    LEFT JOIN other_st t ON t.gkey = ev.gkey AND t.src = 'threads'
    LEFT JOIN other_st s ON s.gkey = ev.gkey AND s.src = 'stacktrace'
),
-- Security reports, then the message: the "default" variant.,
default_choice AS (
    SELECT ev.gkey, c.pick AS stack_pick,
        CASE
            WHEN json_type(ev.g_csp) = 'OBJECT' THEN (
                SELECT struct_pack(h := d || coalesce(lv, uri), v := 'default', c := 'csp', b := d || ' ' || coalesce(lv, uri))
                FROM (SELECT coalesce(triage_str(json_extract(ev.g_csp, '$.effective_directive')),
                                      regexp_extract(triage_str(json_extract(ev.g_csp, '$.violated_directive')), '^\S*')) AS d,
                             coalesce(triage_str(json_extract(ev.g_csp, '$.blocked_uri')), '') AS bu,
                             CASE WHEN bu IN ('', 'self', 'inline') AND d IN ('script-src', 'style-src', 'script-src-elem', 'style-src-elem')
                                  THEN '''unsafe-inline''' WHEN bu = 'eval' THEN '''unsafe-eval''' END AS lv,
                             coalesce(nullif(regexp_extract(bu, '^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]+)', 1), ''), bu) AS uri))
            WHEN json_type(ev.g_expectct) = 'OBJECT' THEN
                struct_pack(h := 'expect-ct' || coalesce(triage_str(json_extract(ev.g_expectct, '$.hostname')), ''),
                            v := 'default', c := 'expect_ct', b := 'expect-ct ' || coalesce(triage_str(json_extract(ev.g_expectct, '$.hostname')), ''))
            WHEN nullif(ev.g_message, '') IS NOT NULL THEN
                struct_pack(h := pm.p, v := 'default', c := 'message', b := pm.p)
        END AS default_pick
    FROM g_ev ev LEFT JOIN stack_choice c USING (gkey) LEFT JOIN g_params pm ON pm.s = ev.g_message
),
picked AS (
    SELECT ev.*, coalesce(d.stack_pick, d.default_pick,
                          struct_pack(h := '', v := 'fallback', c := NULL::VARCHAR, b := '(nothing to group by)')) AS p
    FROM g_ev ev JOIN default_choice d USING (gkey)
),
-- Custom fingerprints ({{ default }} and the usual variables), then checksums, override it all.,
fp AS (
    SELECT *,
        list_transform(fingerprint, lambda x: CASE lower(regexp_replace(x, '^\{\{\s*(.*?)\s*\}\}$', '\1'))
            WHEN 'default' THEN chr(1)
            WHEN 'message' THEN coalesce(g_message, last_value, '<no-value-for-message>')
            WHEN 'error.type' THEN coalesce(last_type, '<no-type>')
            WHEN 'type' THEN coalesce(last_type, '<no-type>')
            WHEN 'error.value' THEN coalesce(last_value, '<no-value>')
            WHEN 'value' THEN coalesce(last_value, '<no-value>')
            WHEN 'transaction' THEN coalesce("transaction", '<no-transaction>')
            WHEN 'level' THEN coalesce(level, '<no-level>')
            WHEN 'logger' THEN coalesce(logger, '<no-logger>')
            ELSE x END) AS fp_vals
    FROM picked
)
SELECT
    gkey,
    CASE
        WHEN regexp_full_match(g_checksum, '[a-fA-F0-9]{32}') THEN lower(g_checksum)
        WHEN nullif(g_checksum, '') IS NOT NULL THEN md5(g_checksum)
        WHEN len(list_filter(fp_vals, lambda x: x IS NOT NULL AND x <> chr(1))) > 0 AND list_contains(fp_vals, chr(1))
            THEN md5(p.h || array_to_string(list_filter(fp_vals, lambda x: x IS NOT NULL AND x <> chr(1)), ''))
        WHEN len(list_filter(fp_vals, lambda x: x IS NOT NULL AND x <> chr(1))) > 0
            THEN md5(array_to_string(list_filter(fp_vals, lambda x: x IS NOT NULL), ''))
        ELSE md5(p.h)
    END AS group_hash,
    CASE
        WHEN regexp_full_match(g_checksum, '[a-fA-F0-9]{32}') THEN 'checksum'
        WHEN nullif(g_checksum, '') IS NOT NULL THEN 'hashed_checksum'
        WHEN len(list_filter(fp_vals, lambda x: x IS NOT NULL AND x <> chr(1))) > 0 AND list_contains(fp_vals, chr(1))
            THEN p.v
        WHEN len(list_filter(fp_vals, lambda x: x IS NOT NULL AND x <> chr(1))) > 0 THEN 'custom_fingerprint'
        ELSE p.v
    END AS group_variant,
    p.c AS group_component,
    CASE
        WHEN nullif(g_checksum, '') IS NOT NULL THEN 'checksum ' || g_checksum
        WHEN len(list_filter(fp_vals, lambda x: x IS NOT NULL AND x <> chr(1))) > 0 AND list_contains(fp_vals, chr(1))
            THEN p.b || ' + fingerprint ' || array_to_string(list_filter(fp_vals, lambda x: x IS NOT NULL AND x <> chr(1)), ', ')
        WHEN len(list_filter(fp_vals, lambda x: x IS NOT NULL AND x <> chr(1))) > 0
            THEN 'fingerprint ' || array_to_string(list_filter(fp_vals, lambda x: x IS NOT NULL), ', ')
        ELSE p.b
    END AS group_basis
FROM fp
