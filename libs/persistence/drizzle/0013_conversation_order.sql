-- anvil_submit_jobs as in 0011_queued_count.sql (0008_submit_jobs.sql says what it does), but for the time of the
-- conversations a batch makes: a microsecond more for each, as for its messages, so that they are as old as the order
-- they were submitted in (the last the newest). All of them had the statement's one time, and conversations.list,
-- which breaks ties by id, showed a batch's conversations in a random order.
CREATE OR REPLACE FUNCTION anvil_submit_jobs(batch jsonb, OUT queued_ahead integer, OUT stored jobs)
RETURNS SETOF record
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  stamp timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(4167338460717002);
  IF EXISTS (
    SELECT 1
    FROM jsonb_to_recordset(batch) AS r(conversation_id uuid, new_conversation boolean, conversation_owner text)
    WHERE NOT r.new_conversation AND NOT EXISTS (
      SELECT 1 FROM conversations c
      WHERE c.id = r.conversation_id AND (r.conversation_owner IS NULL OR c.owner = r.conversation_owner)
    )
  ) OR EXISTS (
    SELECT 1
    FROM jsonb_to_recordset(batch) AS r(owner text, idempotency_key text)
    JOIN jobs j ON j.owner = r.owner AND j.idempotency_key = r.idempotency_key
  ) THEN
    RETURN;
  END IF;
  SELECT queued INTO queued_ahead FROM queue_counts WHERE id = 1;
  -- Taken under the lock: messages of one conversation sort in submission order across batches too.
  stamp := clock_timestamp();
  RETURN QUERY
  WITH input AS (
    SELECT r.*, r.n - 1 AS k
    FROM ROWS FROM (
      jsonb_to_recordset(batch) AS (
        job_id uuid, message_id uuid, conversation_id uuid, new_conversation boolean, title text, owner text,
        prompt text, params jsonb, idempotency_key text, request_hash text, callback_url text, priority integer,
        metadata jsonb, event_job jsonb
      )
    ) WITH ORDINALITY AS r(
      job_id, message_id, conversation_id, new_conversation, title, owner, prompt, params, idempotency_key,
      request_hash, callback_url, priority, metadata, event_job, n
    )
  ), new_conversations AS (
    INSERT INTO conversations (id, title, owner, created_at)
    SELECT conversation_id, title, owner, stamp + k * interval '1 microsecond' FROM input WHERE new_conversation
  ), new_messages AS (
    INSERT INTO messages (id, conversation_id, role, content, metadata, created_at)
    SELECT gen_random_uuid(), conversation_id, 'user', prompt, '{}'::jsonb, stamp + (2 * k) * interval '1 microsecond'
    FROM input
    UNION ALL
    SELECT message_id, conversation_id, 'assistant', 'Image: ' || prompt,
      jsonb_set(metadata, '{queuePosition}', to_jsonb(queued_ahead + k + 1)),
      stamp + (2 * k + 1) * interval '1 microsecond'
    FROM input
  ), new_jobs AS (
    INSERT INTO jobs (
      id, conversation_id, message_id, status, prompt, params, idempotency_key, request_hash, callback_url, owner,
      priority, last_event_id
    )
    SELECT job_id, conversation_id, message_id, 'queued', prompt, params, idempotency_key, request_hash, callback_url,
      owner, priority, nextval('job_events_id_seq')
    FROM input ORDER BY k
    RETURNING *
  ), new_events AS (
    INSERT INTO job_events (id, job_id, conversation_id, status, job)
    SELECT j.last_event_id, j.id, j.conversation_id, 'queued',
      -- The snapshot as toJob makes it; createdAt as Date.toISOString writes it (both cut to milliseconds).
      i.event_job || jsonb_build_object(
        'queuePosition', queued_ahead + i.k + 1,
        'createdAt', to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      )
    FROM new_jobs j JOIN input i ON i.job_id = j.id
  )
  SELECT queued_ahead, j::jobs FROM new_jobs j ORDER BY j.seq;
END
$$;
