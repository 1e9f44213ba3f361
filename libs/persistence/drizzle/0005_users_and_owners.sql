CREATE TABLE "sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"user_name" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"name" text PRIMARY KEY NOT NULL,
	"admin" boolean DEFAULT false NOT NULL,
	"token_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "jobs" DROP CONSTRAINT "jobs_idempotency_key_unique";--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "owner" text DEFAULT 'local' NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "owner" text DEFAULT 'local' NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "priority" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_name_users_name_fk" FOREIGN KEY ("user_name") REFERENCES "public"."users"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sessions_user_name_idx" ON "sessions" USING btree ("user_name");--> statement-breakpoint
CREATE INDEX "conversations_owner_created_idx" ON "conversations" USING btree ("owner","created_at");--> statement-breakpoint
CREATE INDEX "jobs_owner_seq_idx" ON "jobs" USING btree ("owner","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_owner_idempotency_key_unique" ON "jobs" USING btree ("owner","idempotency_key");--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_priority_range" CHECK ("jobs"."priority" between -10 and 10);