-- What each proposed condition would match, over every stored event, in one pass: for
-- `triage suggest`'s search for the narrowest condition that covers a cluster and nothing else.
-- Reads TEMP sg_inputs and sg_words (suggest_inputs.sql), sg_conds (cand, group_key, template,
-- field, op, value, value2; literals lowered as DuckDB lowers) and sg_cond_words (cand,
-- word: the inner words of its literals).
-- A condition with inner words is checked only on the inputs holding its rarest one; the others
-- (literals of one or two words) on every input. Regexes: suggest_regex.sql.
-- Per condition: the cluster's open events it covers (pos_events), and what it matches outside
-- the cluster: events, open events (which a new rule would move), and groups.
WITH df AS (
    SELECT word, count(*) AS df FROM sg_words
    WHERE word IN (SELECT word FROM sg_cond_words) GROUP BY word
),
key_word AS (
    SELECT w.cand, arg_min(w.word, coalesce(df.df, 0)) AS word
    FROM sg_cond_words w LEFT JOIN df USING (word)
    GROUP BY w.cand
),
pairs AS (
    SELECT c.cand, w.id
    FROM sg_conds c JOIN key_word k USING (cand) JOIN sg_words w ON w.word = k.word
    UNION ALL
    SELECT c.cand, i.id
    FROM sg_conds c CROSS JOIN sg_inputs i
    WHERE c.cand NOT IN (SELECT cand FROM key_word)
),
judged AS (
    SELECT
        c.cand,
        i.group_key AS hit_group,
        i.n,
        i.is_open,
        i.group_key = c.group_key AND i.template = c.template AS own,
        contains(CASE c.field WHEN 'message' THEN i.l_message ELSE i.l_exv END, c.value)
            AND (c.value2 IS NULL OR contains(
                CASE c.field WHEN 'message' THEN i.l_message ELSE i.l_exv END, c.value2)) AS hit
    FROM pairs p
    JOIN sg_conds c USING (cand)
    JOIN sg_inputs i ON i.id = p.id
)
SELECT
    c.cand,
    coalesce(sum(n) FILTER (WHERE own AND is_open AND hit), 0)::BIGINT AS pos_events,
    coalesce(sum(n) FILTER (WHERE NOT own AND hit), 0)::BIGINT AS other_events,
    coalesce(sum(n) FILTER (WHERE NOT own AND hit AND is_open), 0)::BIGINT AS other_open,
    count(DISTINCT hit_group) FILTER (WHERE NOT own AND hit) AS other_groups
FROM sg_conds c
LEFT JOIN judged j USING (cand)
GROUP BY c.cand
ORDER BY c.cand
