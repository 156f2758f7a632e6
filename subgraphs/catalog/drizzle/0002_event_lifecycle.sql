CREATE TYPE "catalog"."event_category" AS ENUM('MUSIC', 'NIGHTLIFE', 'THEATRE', 'COMEDY', 'FILM', 'ARTS', 'SPORTS', 'FOOD_AND_DRINK', 'CONFERENCE', 'WORKSHOP', 'FESTIVAL', 'FAMILY', 'COMMUNITY', 'OTHER');--> statement-breakpoint
CREATE TYPE "catalog"."event_visibility" AS ENUM('PUBLIC', 'UNLISTED');--> statement-breakpoint
CREATE TYPE "catalog"."refund_policy_kind" AS ENUM('FULL_UNTIL', 'PARTIAL', 'NONE');--> statement-breakpoint
CREATE TABLE "catalog"."audit_log" (
	"id" uuid PRIMARY KEY NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_id" uuid,
	"action" text NOT NULL,
	"target_type" text NOT NULL,
	"target_id" text NOT NULL,
	"scope_id" uuid,
	"before" jsonb,
	"after" jsonb,
	"request_id" text,
	"ip" text,
	"user_agent" text
);
--> statement-breakpoint
CREATE TABLE "catalog"."event_versions" (
	"event_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"action" text NOT NULL,
	"snapshot" jsonb NOT NULL,
	"diff" jsonb NOT NULL,
	"actor_id" uuid,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_versions_event_id_version_pk" PRIMARY KEY("event_id","version")
);
--> statement-breakpoint
DROP INDEX "catalog"."events_organization_id_idx";--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "description_html" text;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "category" "catalog"."event_category" DEFAULT 'OTHER' NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "tags" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "image_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "venue_name" text;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "venue_address" text;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "venue_city" text;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "venue_country" text;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "venue_latitude" double precision;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "venue_longitude" double precision;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "online_url" text;--> statement-breakpoint
-- Hand-edited: events created before capacities existed get the sum of their ticket types (at least 1).
ALTER TABLE "catalog"."events" ADD COLUMN "capacity" integer;--> statement-breakpoint
UPDATE "catalog"."events" e SET "capacity" = greatest(1, coalesce((SELECT sum(t."capacity") FROM "catalog"."ticket_types" t WHERE t."event_id" = e."id"), 1));--> statement-breakpoint
ALTER TABLE "catalog"."events" ALTER COLUMN "capacity" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "refund_policy" "catalog"."refund_policy_kind" DEFAULT 'NONE' NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "refund_days_before_start" integer;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "refund_percent" integer;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "visibility" "catalog"."event_visibility" DEFAULT 'PUBLIC' NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "tickets_sold" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "series_id" uuid;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "published_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "cancelled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."ticket_types" ADD COLUMN "sales_start_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "catalog"."ticket_types" ADD COLUMN "sales_end_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "catalog"."ticket_types" ADD COLUMN "min_per_order" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."ticket_types" ADD COLUMN "max_per_order" integer DEFAULT 10 NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."ticket_types" ADD COLUMN "hidden" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."ticket_types" ADD COLUMN "sort_order" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "catalog"."event_versions" ADD CONSTRAINT "event_versions_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "catalog"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_scope_idx" ON "catalog"."audit_log" USING btree ("scope_id","id");--> statement-breakpoint
CREATE INDEX "audit_log_target_idx" ON "catalog"."audit_log" USING btree ("target_type","target_id");--> statement-breakpoint
CREATE INDEX "events_series_id_idx" ON "catalog"."events" USING btree ("series_id");--> statement-breakpoint
CREATE INDEX "events_organization_id_idx" ON "catalog"."events" USING btree ("organization_id","id");--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD CONSTRAINT "events_capacity_positive" CHECK ("catalog"."events"."capacity" > 0);--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD CONSTRAINT "events_tickets_sold_not_negative" CHECK ("catalog"."events"."tickets_sold" >= 0);--> statement-breakpoint
ALTER TABLE "catalog"."ticket_types" ADD CONSTRAINT "ticket_types_per_order_bounds" CHECK ("catalog"."ticket_types"."min_per_order" >= 1 and "catalog"."ticket_types"."max_per_order" >= "catalog"."ticket_types"."min_per_order");