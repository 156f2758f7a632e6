CREATE TABLE "messaging"."person_keys" (
	"person_id" text PRIMARY KEY NOT NULL,
	"kek_id" text,
	"wrapped_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"destroyed_at" timestamp with time zone,
	CONSTRAINT "person_keys_live_or_destroyed" CHECK (("messaging"."person_keys"."destroyed_at" is null and "messaging"."person_keys"."kek_id" is not null and "messaging"."person_keys"."wrapped_key" is not null)
          or ("messaging"."person_keys"."destroyed_at" is not null and "messaging"."person_keys"."kek_id" is null and "messaging"."person_keys"."wrapped_key" is null))
);
--> statement-breakpoint
ALTER TABLE "messaging"."deliveries" ADD COLUMN "address_index" text;--> statement-breakpoint
ALTER TABLE "messaging"."order_book" ADD COLUMN "email_index" text;--> statement-breakpoint
CREATE INDEX "order_book_email_index_idx" ON "messaging"."order_book" USING btree ("email_index");--> statement-breakpoint
-- Renamed, not dropped: the start-up step (db/person-keys.ts) seals the plaintext names it holds.
ALTER TABLE "messaging"."recipients" RENAME COLUMN "display_name" TO "display_name_sealed";