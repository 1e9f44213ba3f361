CREATE SEQUENCE "public"."line_moves" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "queue_control" (
	"id" integer PRIMARY KEY NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	CONSTRAINT "queue_control_one_row" CHECK ("queue_control"."id" = 1)
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "line_move" bigint;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "line_front" bigint;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "turn" bigint;