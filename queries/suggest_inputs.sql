-- The stored events as `triage suggest`'s condition search reads them, built once per run:
-- TEMP sg_inputs, one row per distinct (group, template, texts, open) with its event count, and
-- TEMP sg_words, the words of each input's texts (runs of [a-z0-9_] of the lowered text).
-- A literal holds each of its inner words (those not touching its ends) as a whole word, so
-- a condition only needs checking on the inputs holding its rarest inner word.
-- Parameter: $ruleset (hash of the current table, already classified).
CREATE OR REPLACE TEMP TABLE sg_inputs AS
SELECT
    row_number() OVER () AS id,
    *,
    lower(f_message) AS l_message,
    lower(f_exv) AS l_exv
FROM (
    SELECT
        e.group_key,
        e.template,
        coalesce(e.message, e.exc_value, '') AS f_message,
        coalesce(e.exc_value, '') AS f_exv,
        e.level IN ('error', 'fatal') AND c.rule_id IS NULL AS is_open,
        count(*) AS n
    FROM events e
    LEFT JOIN classifications c ON c.event_id = e.event_id AND c.ruleset_hash = $ruleset
    GROUP BY ALL
);

CREATE OR REPLACE TEMP TABLE sg_words AS
SELECT DISTINCT id, unnest(regexp_extract_all(l_message || ' ' || l_exv, '[a-z0-9_]+')) AS word
FROM sg_inputs;
