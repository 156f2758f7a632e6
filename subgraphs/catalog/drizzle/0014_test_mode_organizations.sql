CREATE TABLE "catalog"."test_mode_organizations" (
	"organization_id" uuid PRIMARY KEY NOT NULL,
	"sandbox_of" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "catalog"."events_listed_starts_at_idx";--> statement-breakpoint
DROP INDEX "catalog"."events_listed_city_category_starts_at_idx";--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "test_mode" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "events_listed_starts_at_idx" ON "catalog"."events" USING btree ("starts_at","id") WHERE status = 'PUBLISHED' and visibility = 'PUBLIC' and not test_mode;--> statement-breakpoint
CREATE INDEX "events_listed_city_category_starts_at_idx" ON "catalog"."events" USING btree (lower("venue_city"),"category","starts_at") WHERE status = 'PUBLISHED' and visibility = 'PUBLIC' and not test_mode;