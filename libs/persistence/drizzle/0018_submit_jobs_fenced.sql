-- anvil_submit_jobs(batch, holder, epoch): anvil_submit_jobs(batch) (0013_conversation_order.sql), stored only while
-- `holder` leads the cluster in term `epoch` (leader-lease.ts: fence, the same check as anvil_apply_changes'); else
-- it fails with SQLSTATE AF001 and writes nothing. A new leader rebuilds its line from the jobs it reads at its start:
-- a submission the previous term stored after that would be in no leader's line, queued for good.
--
-- The event-order lock comes first, as in anvil_apply_changes, so that the two never wait for each other's locks in
-- opposite orders.
CREATE OR REPLACE FUNCTION anvil_submit_jobs(batch jsonb, holder text, epoch bigint, OUT queued_ahead integer, OUT stored jobs)
RETURNS SETOF record
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(4167338460717002);
  IF holder IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM cluster_leader l
    WHERE l.id = 1 AND l.holder = anvil_submit_jobs.holder AND l.epoch = anvil_submit_jobs.epoch
    FOR SHARE
  ) THEN
    RAISE EXCEPTION 'this server no longer holds its lease (epoch %)', epoch USING ERRCODE = 'AF001';
  END IF;
  RETURN QUERY SELECT * FROM anvil_submit_jobs(batch);
END
$$;
