ALTER TABLE "cluster_leader" ADD COLUMN "webhook_secret" text;--> statement-breakpoint
ALTER TABLE "cluster_leader" ADD COLUMN "webhook_secret_epoch" bigint;