ALTER TABLE "cluster_leader" ADD COLUMN "backends" jsonb;--> statement-breakpoint
ALTER TABLE "cluster_leader" ADD COLUMN "backends_epoch" bigint;