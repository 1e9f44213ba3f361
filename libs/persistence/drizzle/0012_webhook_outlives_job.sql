-- A webhook delivery outlives its job: deleting a conversation (conversations.ts) deletes its jobs, and a delivery still
-- pending for one of them (a cancellation its deletion made, or a receiver that is down) is still delivered; finished
-- ones go with the conversation, and the dispatcher prunes the rest days after they end.
ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "webhook_deliveries_job_id_jobs_id_fk";
