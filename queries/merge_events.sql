-- The same event arriving through another shape is one event: merge what the new copy knows into
-- the stored row (the web API knows the group id, the raw payload the full tags). Stored values
-- win; only what the stored row lacks is filled in. Runs inside the file's transaction, over
-- `staged_first` (one row per event id of the file). Returns the number of rows changed.
UPDATE events AS e SET
    group_id = coalesce(e.group_id, s.group_id),
    short_id = coalesce(e.short_id, s.short_id),
    group_key = CASE
        WHEN e.group_id IS NULL AND s.group_id IS NOT NULL THEN s.group_id
        WHEN e.group_id IS NULL AND e.short_id IS NULL AND s.short_id IS NOT NULL THEN s.short_id
        -- a stored row grouped by an older grouping takes the new copy's key
        WHEN e.group_id IS NULL AND e.short_id IS NULL
             AND coalesce(e.grouping_version, 1) < s.grouping_version THEN s.group_key
        ELSE e.group_key END,
    group_source = CASE
        WHEN e.group_id IS NULL AND e.short_id IS NULL AND (s.group_id IS NOT NULL OR s.short_id IS NOT NULL)
            THEN 'sentry'
        WHEN coalesce(e.grouping_version, 1) < s.grouping_version AND e.group_id IS NULL AND e.short_id IS NULL
            THEN s.group_source
        ELSE e.group_source END,
    group_hash = CASE WHEN coalesce(e.grouping_version, 1) < s.grouping_version OR e.group_hash IS NULL
                      THEN s.group_hash ELSE e.group_hash END,
    group_basis = CASE WHEN coalesce(e.grouping_version, 1) < s.grouping_version OR e.group_basis IS NULL
                       THEN s.group_basis ELSE e.group_basis END,
    grouping_version = greatest(e.grouping_version, s.grouping_version),
    title = coalesce(s.sentry_title, e.title, s.title),  -- Sentry's own title wins
    tags = CASE WHEN e.tags IS NULL THEN s.tags
                WHEN s.tags IS NULL THEN e.tags
                ELSE map_concat(s.tags, e.tags) END,
    ts = coalesce(e.ts, s.ts),
    project = coalesce(e.project, s.project),
    platform = coalesce(e.platform, s.platform),
    logger = coalesce(e.logger, s.logger),
    message = coalesce(e.message, s.message),
    exc_type = coalesce(e.exc_type, s.exc_type),
    exc_value = coalesce(e.exc_value, s.exc_value),
    exc_chain = CASE WHEN coalesce(len(e.exc_chain), 0) = 0 THEN s.exc_chain ELSE e.exc_chain END,
    "transaction" = coalesce(e."transaction", s."transaction"),
    culprit = coalesce(e.culprit, s.culprit),
    "release" = coalesce(e."release", s."release"),
    environment = coalesce(e.environment, s.environment),
    user_id = coalesce(e.user_id, s.user_id),
    raw = coalesce(e.raw, s.raw)
FROM staged_first AS s
WHERE e.event_id = s.event_id
  AND ((e.group_id IS NULL AND s.group_id IS NOT NULL)
    OR coalesce(e.grouping_version, 1) < s.grouping_version
    OR (e.title IS NULL AND s.title IS NOT NULL)
    OR (s.sentry_title IS NOT NULL AND e.title IS DISTINCT FROM s.sentry_title)
    OR (e.short_id IS NULL AND s.short_id IS NOT NULL)
    OR (s.tags IS NOT NULL AND (e.tags IS NULL OR cardinality(map_concat(s.tags, e.tags)) > cardinality(e.tags)))
    OR (e.ts IS NULL AND s.ts IS NOT NULL)
    OR (e.project IS NULL AND s.project IS NOT NULL)
    OR (e.platform IS NULL AND s.platform IS NOT NULL)
    OR (e.logger IS NULL AND s.logger IS NOT NULL)
    OR (e.message IS NULL AND s.message IS NOT NULL)
    OR (e.exc_type IS NULL AND s.exc_type IS NOT NULL)
    OR (coalesce(len(e.exc_chain), 0) = 0 AND coalesce(len(s.exc_chain), 0) > 0)
    OR (e."transaction" IS NULL AND s."transaction" IS NOT NULL)
    OR (e.culprit IS NULL AND s.culprit IS NOT NULL)
    OR (e."release" IS NULL AND s."release" IS NOT NULL)
    OR (e.environment IS NULL AND s.environment IS NOT NULL)
    OR (e.user_id IS NULL AND s.user_id IS NOT NULL)
    OR (e.raw IS NULL AND s.raw IS NOT NULL))
