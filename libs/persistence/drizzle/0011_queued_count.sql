CREATE TABLE "queue_counts" (
	"id" integer PRIMARY KEY NOT NULL,
	"queued" bigint NOT NULL,
	CONSTRAINT "queue_counts_one_row" CHECK ("queue_counts"."id" = 1)
);
--> statement-breakpoint
-- The number of waiting jobs, kept as jobs come, go and change status, so that a submission reads its place in the
-- line instead of counting the line: anvil_submit_jobs counted every queued row under the event-order lock, a cost
-- that grew with the queue (2.5 ms of each batch with 10,000 jobs waiting; see the README's Performance).
--
-- Every write that moves a job into or out of `queued` holds the event-order lock (it writes an event), so the
-- one row adds no waiting of its own; inserts and deletes are counted once per statement, status changes per row
-- and only when they enter or leave `queued`.
INSERT INTO queue_counts (id, queued) SELECT 1, count(*) FROM jobs WHERE status = 'queued';
--> statement-breakpoint
CREATE OR REPLACE FUNCTION anvil_count_queued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE queue_counts SET queued = queued + (SELECT count(*) FROM new_jobs WHERE status = 'queued') WHERE id = 1;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE queue_counts SET queued = queued - (SELECT count(*) FROM old_jobs WHERE status = 'queued') WHERE id = 1;
  ELSIF TG_OP = 'TRUNCATE' THEN
    UPDATE queue_counts SET queued = 0 WHERE id = 1;
  ELSE
    UPDATE queue_counts SET queued = queued + CASE WHEN NEW.status = 'queued' THEN 1 ELSE -1 END WHERE id = 1;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER jobs_count_queued_insert AFTER INSERT ON jobs
REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION anvil_count_queued();
--> statement-breakpoint
CREATE TRIGGER jobs_count_queued_delete AFTER DELETE ON jobs
REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION anvil_count_queued();
--> statement-breakpoint
CREATE TRIGGER jobs_count_queued_truncate AFTER TRUNCATE ON jobs
FOR EACH STATEMENT EXECUTE FUNCTION anvil_count_queued();
--> statement-breakpoint
CREATE TRIGGER jobs_count_queued_status AFTER UPDATE OF status ON jobs
FOR EACH ROW WHEN ((OLD.status = 'queued') IS DISTINCT FROM (NEW.status = 'queued'))
EXECUTE FUNCTION anvil_count_queued();
--> statement-breakpoint
-- anvil_submit_jobs as in 0008_submit_jobs.sql (which says what it does), but for where it reads the number of
-- jobs waiting ahead of the batch.
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
    INSERT INTO conversations (id, title, owner)
    SELECT conversation_id, title, owner FROM input WHERE new_conversation
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
