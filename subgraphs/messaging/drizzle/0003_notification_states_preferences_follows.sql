CREATE TYPE "messaging"."notification_category" AS ENUM('TRANSACTIONAL', 'EVENT_UPDATES', 'ANNOUNCEMENTS', 'MARKETING', 'ACCOUNT_SECURITY');--> statement-breakpoint
ALTER TYPE "messaging"."notification_channel" ADD VALUE 'WEB_PUSH';--> statement-breakpoint
ALTER TYPE "messaging"."notification_channel" ADD VALUE 'SMS';--> statement-breakpoint
CREATE TABLE "messaging"."follows" (
	"user_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "follows_user_id_organization_id_pk" PRIMARY KEY("user_id","organization_id")
);
--> statement-breakpoint
CREATE TABLE "messaging"."notification_preferences" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"categories" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"timezone" text,
	"quiet_hours_start" text,
	"quiet_hours_end" text,
	"marketing_consent_at" timestamp with time zone,
	"marketing_consent_source" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "messaging"."notifications" ADD COLUMN "category" "messaging"."notification_category" DEFAULT 'ANNOUNCEMENTS' NOT NULL;--> statement-breakpoint
ALTER TABLE "messaging"."notifications" ADD COLUMN "seen_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messaging"."notifications" ADD COLUMN "archived_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messaging"."notifications" ADD COLUMN "source_event_id" uuid;--> statement-breakpoint
CREATE INDEX "follows_organization_id_user_id_idx" ON "messaging"."follows" USING btree ("organization_id","user_id");--> statement-breakpoint
CREATE INDEX "notifications_unread_idx" ON "messaging"."notifications" USING btree ("recipient_id","id" DESC NULLS LAST) WHERE read_at is null and archived_at is null;--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_source_event_recipient_idx" ON "messaging"."notifications" USING btree ("source_event_id","recipient_id");