CREATE TABLE "orders"."person_keys" (
	"person_id" text PRIMARY KEY NOT NULL,
	"kek_id" text,
	"wrapped_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"destroyed_at" timestamp with time zone,
	CONSTRAINT "person_keys_live_or_destroyed" CHECK (("orders"."person_keys"."destroyed_at" is null and "orders"."person_keys"."kek_id" is not null and "orders"."person_keys"."wrapped_key" is not null)
          or ("orders"."person_keys"."destroyed_at" is not null and "orders"."person_keys"."kek_id" is null and "orders"."person_keys"."wrapped_key" is null))
);
--> statement-breakpoint
-- Issue 18: personal data sealed per person. Columns are renamed (no data lost); the service's
-- setup seals the plaintext they still hold (db/person-data.ts) and fills the index columns.
DROP INDEX "orders"."orders_buyer_email_idx";--> statement-breakpoint
DROP INDEX "orders"."tickets_holder_email_idx";--> statement-breakpoint
ALTER TABLE "orders"."orders" RENAME COLUMN "buyer_name" TO "buyer_name_sealed";--> statement-breakpoint
ALTER TABLE "orders"."orders" RENAME COLUMN "buyer_email" TO "buyer_email_sealed";--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "buyer_email_index" text;--> statement-breakpoint
ALTER TABLE "orders"."orders" RENAME COLUMN "attendees" TO "attendees_sealed";--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "attendees_sealed" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "attendees_sealed" SET DATA TYPE text USING "attendees_sealed"::text;--> statement-breakpoint
ALTER TABLE "orders"."tickets" ADD COLUMN "person_id" text;--> statement-breakpoint
ALTER TABLE "orders"."tickets" RENAME COLUMN "attendee_name" TO "attendee_name_sealed";--> statement-breakpoint
ALTER TABLE "orders"."tickets" RENAME COLUMN "holder_email" TO "holder_email_sealed";--> statement-breakpoint
ALTER TABLE "orders"."tickets" ADD COLUMN "holder_email_index" text;--> statement-breakpoint
ALTER TABLE "orders"."waiting_list_entries" RENAME COLUMN "email" TO "email_sealed";--> statement-breakpoint
CREATE INDEX "orders_buyer_email_index_idx" ON "orders"."orders" USING btree ("buyer_email_index","event_id");--> statement-breakpoint
CREATE INDEX "tickets_holder_email_index_idx" ON "orders"."tickets" USING btree ("holder_email_index");
