-- The count of waiting jobs (0011_queued_count.sql) counted once and then created its triggers, with nothing to stop
-- a server of the previous version from storing or starting jobs in between (a rolling upgrade): what those wrote
-- was never counted, and the count stayed off for good, so a submission's stored position was off too (below 1
-- once the line emptied). Counted again here under a lock that keeps every writer of jobs out until this commits;
-- the triggers keep it from then on. Where 0011 runs in the same transaction, the lock is held from its triggers on.
LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;
--> statement-breakpoint
UPDATE queue_counts SET queued = (SELECT count(*) FROM jobs WHERE status = 'queued') WHERE id = 1;
