-- anvil_store_image(job, bytes, chunk_bytes, holder, epoch): writes a job's image in one call, one round trip and
-- one commit, where pg-image-store.ts took a transaction of six statements (BEGIN, the fence, the lock, the DELETE,
-- an INSERT per chunk, COMMIT) for every image a GPU made.
--
-- With a `holder`, the image lands only while that holder leads the cluster in term `epoch` (leader-lease.ts:
-- fence, the same check as anvil_apply_changes'); otherwise it fails with SQLSTATE AF001 and writes nothing. Two
-- writers of one job's image (a job run again) take turns on an advisory lock, so the rows of one never mix with
-- the other's; the image replaces whatever was stored for the job, in rows of `chunk_bytes` (the last one fewer).
CREATE OR REPLACE FUNCTION anvil_store_image(job uuid, bytes bytea, chunk_bytes integer, holder text, epoch bigint)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF holder IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM cluster_leader l
    WHERE l.id = 1 AND l.holder = anvil_store_image.holder AND l.epoch = anvil_store_image.epoch
    FOR SHARE
  ) THEN
    RAISE EXCEPTION 'this server no longer holds its lease (epoch %)', epoch USING ERRCODE = 'AF001';
  END IF;
  PERFORM pg_advisory_xact_lock(4167, hashtext(job::text));
  DELETE FROM job_images WHERE job_id = job;
  INSERT INTO job_images (job_id, seq, bytes)
  SELECT job, s, substring(anvil_store_image.bytes FROM s * chunk_bytes + 1 FOR chunk_bytes)
  FROM generate_series(0, greatest(0, (octet_length(anvil_store_image.bytes) - 1) / chunk_bytes)) AS s;
END
$$;
