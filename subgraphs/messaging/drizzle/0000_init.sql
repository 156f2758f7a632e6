CREATE SCHEMA "messaging";
--> statement-breakpoint
CREATE TYPE "messaging"."notification_channel" AS ENUM('IN_APP', 'EMAIL');--> statement-breakpoint
CREATE TABLE "messaging"."notifications" (
	"id" uuid PRIMARY KEY NOT NULL,
	"recipient_id" uuid NOT NULL,
	"channel" "messaging"."notification_channel" NOT NULL,
	"subject" text NOT NULL,
	"body" text NOT NULL,
	"read_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "notifications_recipient_id_id_idx" ON "messaging"."notifications" USING btree ("recipient_id","id" DESC NULLS LAST);