-- A job that waits again after its backend went away (or its server stopped) waits ahead of every turn, where no
-- earlier move puts it: a status change's patch may now clear `line_move` and `line_front` (keys `lineMove`,
-- `lineFront`), and a new leader tells such a job by its attempts and its cleared moves, the latest back first by
-- `last_event_id`. The rest is 0025's.
CREATE OR REPLACE FUNCTION anvil_apply_changes(changes jsonb, defaults jsonb, holder text, epoch bigint)
RETURNS TABLE (n bigint, event_id bigint, stored jobs, snapshot jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  c record;
  j jobs;
  snap jsonb;
BEGIN
  PERFORM pg_advisory_xact_lock(4167338460717002);
  IF holder IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM cluster_leader l
    WHERE l.id = 1 AND l.holder = anvil_apply_changes.holder AND l.epoch = anvil_apply_changes.epoch
    FOR SHARE
  ) THEN
    RAISE EXCEPTION 'this server no longer holds its lease (epoch %)', epoch USING ERRCODE = 'AF001';
  END IF;
  FOR c IN
    SELECT * FROM ROWS FROM (
      jsonb_to_recordset(changes)
        AS (kind text, job_id uuid, from_status text, to_status text, patch jsonb, progress integer, places jsonb)
    ) WITH ORDINALITY AS r(kind, job_id, from_status, to_status, patch, progress, places, n)
    ORDER BY r.n
  LOOP
    IF c.kind = 'progress' THEN
      UPDATE jobs SET progress = c.progress WHERE id = c.job_id AND status = 'processing' RETURNING * INTO j;
      CONTINUE WHEN NOT FOUND;
      UPDATE messages SET metadata = jsonb_shallow_merge(metadata, jsonb_build_object('progress', j.progress))
      WHERE id = j.message_id;
      n := c.n; event_id := NULL; stored := j; snapshot := NULL;
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF c.places IS NOT NULL THEN
      UPDATE jobs SET fifo_place = (p.value->>'place')::bigint
      FROM jsonb_array_elements(c.places) AS p(value)
      WHERE jobs.id = (p.value->>'job_id')::uuid AND jobs.status = 'queued';
    END IF;
    CONTINUE WHEN c.kind = 'places';
    UPDATE jobs SET
      status = c.to_status,
      last_event_id = nextval('job_events_id_seq'),
      progress = CASE WHEN c.patch ? 'progress' THEN (c.patch->>'progress')::integer ELSE progress END,
      image_url = CASE WHEN c.patch ? 'imageUrl' THEN c.patch->>'imageUrl' ELSE image_url END,
      used_seed = CASE WHEN c.patch ? 'usedSeed' THEN (c.patch->>'usedSeed')::bigint ELSE used_seed END,
      error = CASE WHEN c.patch ? 'error' THEN c.patch->>'error' ELSE error END,
      started_at = CASE WHEN c.patch ? 'startedAt' THEN (c.patch->>'startedAt')::timestamptz ELSE started_at END,
      finished_at = CASE WHEN c.patch ? 'finishedAt' THEN (c.patch->>'finishedAt')::timestamptz ELSE finished_at END,
      attempts = CASE WHEN c.patch ? 'attempts' THEN (c.patch->>'attempts')::integer ELSE attempts END,
      backend = CASE WHEN c.patch ? 'backend' THEN c.patch->>'backend' ELSE backend END,
      turn = CASE WHEN c.patch ? 'turn' THEN (c.patch->>'turn')::bigint ELSE turn END,
      cancelled_by = CASE WHEN c.patch ? 'cancelledBy' THEN c.patch->>'cancelledBy' ELSE cancelled_by END,
      line_move = CASE WHEN c.patch ? 'lineMove' THEN (c.patch->>'lineMove')::bigint ELSE line_move END,
      line_front = CASE WHEN c.patch ? 'lineFront' THEN (c.patch->>'lineFront')::bigint ELSE line_front END
    WHERE id = c.job_id AND status = c.from_status
    RETURNING * INTO j;
    CONTINUE WHEN NOT FOUND;
    -- toJob(record, 0): the attempt a waiting job is on, no position and no estimates.
    snap := jsonb_build_object(
      'id', j.id, 'conversationId', j.conversation_id, 'messageId', j.message_id, 'status', j.status,
      'progress', j.progress, 'prompt', j.prompt, 'params', defaults || j.params,
      'imageUrl', j.image_url, 'usedSeed', j.used_seed, 'error', j.error,
      'createdAt', anvil_iso(j.created_at), 'startedAt', anvil_iso(j.started_at), 'finishedAt', anvil_iso(j.finished_at),
      'owner', j.owner, 'priority', j.priority,
      'attempt', CASE WHEN j.status = 'queued' THEN j.attempts + 1 ELSE greatest(1, j.attempts) END,
      'backend', j.backend, 'callbackUrl', j.callback_url, 'cancelledBy', j.cancelled_by, 'movedBy', j.moved_by,
      'queuePosition', 0, 'estimatedStartAt', NULL, 'estimatedFinishAt', NULL
    );
    UPDATE messages
    SET metadata = jsonb_shallow_merge(metadata, jsonb_build_object(
      'status', j.status, 'queuePosition', 0, 'progress', j.progress, 'imageUrl', j.image_url, 'error', j.error
    ))
    WHERE id = j.message_id;
    INSERT INTO job_events (id, job_id, conversation_id, status, job)
    VALUES (j.last_event_id, j.id, j.conversation_id, j.status, snap);
    -- In the same commit as the final status: the delivery exists exactly when the final state does.
    IF j.status IN ('complete', 'error', 'cancelled') AND j.callback_url IS NOT NULL THEN
      INSERT INTO webhook_deliveries (id, job_id, url, body) VALUES (gen_random_uuid(), j.id, j.callback_url, snap::text);
    END IF;
    n := c.n; event_id := j.last_event_id; stored := j; snapshot := snap;
    RETURN NEXT;
  END LOOP;
END
$$;
