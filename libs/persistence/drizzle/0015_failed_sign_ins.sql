CREATE TABLE "failed_sign_ins" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"address" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "failed_sign_ins_address_at_idx" ON "failed_sign_ins" USING btree ("address","at");