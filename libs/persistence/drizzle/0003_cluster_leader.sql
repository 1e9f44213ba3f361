CREATE TABLE "cluster_leader" (
	"id" integer PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"url" text NOT NULL,
	"epoch" bigint NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "cluster_leader_one_row" CHECK ("cluster_leader"."id" = 1)
);
