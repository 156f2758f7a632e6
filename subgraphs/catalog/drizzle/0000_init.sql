CREATE SCHEMA "catalog";
--> statement-breakpoint
CREATE TYPE "catalog"."event_status" AS ENUM('DRAFT', 'PUBLISHED', 'CANCELLED', 'ENDED');--> statement-breakpoint
CREATE TABLE "catalog"."events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"title" text NOT NULL,
	"description" text,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"timezone" text NOT NULL,
	"currency" text NOT NULL,
	"status" "catalog"."event_status" DEFAULT 'DRAFT' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_ends_after_start" CHECK ("catalog"."events"."ends_at" > "catalog"."events"."starts_at")
);
--> statement-breakpoint
CREATE TABLE "catalog"."ticket_types" (
	"id" uuid PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"name" text NOT NULL,
	"price_amount" integer NOT NULL,
	"price_currency" text NOT NULL,
	"capacity" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ticket_types_price_not_negative" CHECK ("catalog"."ticket_types"."price_amount" >= 0),
	CONSTRAINT "ticket_types_capacity_positive" CHECK ("catalog"."ticket_types"."capacity" > 0)
);
--> statement-breakpoint
ALTER TABLE "catalog"."ticket_types" ADD CONSTRAINT "ticket_types_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "catalog"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "events_organization_id_idx" ON "catalog"."events" USING btree ("organization_id");--> statement-breakpoint
CREATE INDEX "ticket_types_event_id_idx" ON "catalog"."ticket_types" USING btree ("event_id");