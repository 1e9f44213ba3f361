-- jsonb_deep_merge(a, b): b merged into a. Two objects merge key by key, recursively; anything else in b
-- (an array, a scalar, JSON null) replaces a. SQL NULL on either side yields the other side.
-- Lets concurrent writers update one JSON document in a single UPDATE without losing each other's fields.
CREATE OR REPLACE FUNCTION jsonb_deep_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN b IS NULL THEN a
    WHEN a IS NULL THEN b
    WHEN jsonb_typeof(a) = 'object' AND jsonb_typeof(b) = 'object' THEN (
      SELECT coalesce(
        jsonb_object_agg(
          coalesce(old.key, new.key),
          CASE
            WHEN new.key IS NULL THEN old.value
            WHEN old.key IS NULL THEN new.value
            ELSE jsonb_deep_merge(old.value, new.value)
          END
        ),
        '{}'::jsonb
      )
      FROM jsonb_each(a) AS old FULL OUTER JOIN jsonb_each(b) AS new ON old.key = new.key
    )
    ELSE b
  END
$$;
