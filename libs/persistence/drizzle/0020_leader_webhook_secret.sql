ALTER TABLE "cluster_leader" ADD COLUMN "webhook_secret_fingerprint" text;--> statement-breakpoint
ALTER TABLE "cluster_leader" ADD COLUMN "webhook_secret_fingerprint_epoch" bigint;