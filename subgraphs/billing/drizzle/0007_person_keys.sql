CREATE TABLE "billing"."person_keys" (
	"person_id" text PRIMARY KEY NOT NULL,
	"kek_id" text,
	"wrapped_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"destroyed_at" timestamp with time zone,
	CONSTRAINT "person_keys_live_or_destroyed" CHECK (("billing"."person_keys"."destroyed_at" is null and "billing"."person_keys"."kek_id" is not null and "billing"."person_keys"."wrapped_key" is not null)
          or ("billing"."person_keys"."destroyed_at" is not null and "billing"."person_keys"."kek_id" is null and "billing"."person_keys"."wrapped_key" is null))
);
--> statement-breakpoint
-- Renamed, not dropped: existing rows keep their plaintext until billing's setup seals it (db/buyers.ts).
ALTER TABLE "billing"."order_charges" RENAME COLUMN "buyer_email" TO "buyer_email_sealed";--> statement-breakpoint
ALTER TABLE "billing"."order_charges" RENAME COLUMN "buyer_name" TO "buyer_name_sealed";--> statement-breakpoint
ALTER TABLE "billing"."order_charges" ADD COLUMN "buyer_email_index" text;--> statement-breakpoint
ALTER TABLE "billing"."receipts" RENAME COLUMN "buyer_email" TO "buyer_email_sealed";--> statement-breakpoint
ALTER TABLE "billing"."receipts" RENAME COLUMN "buyer_name" TO "buyer_name_sealed";--> statement-breakpoint
ALTER TABLE "billing"."receipts" ADD COLUMN "buyer_id" uuid;--> statement-breakpoint
ALTER TABLE "billing"."receipts" ADD COLUMN "buyer_email_index" text;--> statement-breakpoint
-- A receipt's key is its signed-in buyer's: the order's.
UPDATE "billing"."receipts" AS r SET "buyer_id" = c."buyer_id" FROM "billing"."order_charges" AS c WHERE c."order_id" = r."order_id";--> statement-breakpoint
CREATE INDEX "order_charges_buyer_email_index_idx" ON "billing"."order_charges" USING btree ("buyer_email_index");--> statement-breakpoint
CREATE INDEX "receipts_buyer_email_index_idx" ON "billing"."receipts" USING btree ("buyer_email_index");
