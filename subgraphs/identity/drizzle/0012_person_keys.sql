CREATE TABLE "identity"."person_keys" (
	"person_id" text PRIMARY KEY NOT NULL,
	"kek_id" text,
	"wrapped_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"destroyed_at" timestamp with time zone,
	CONSTRAINT "person_keys_live_or_destroyed" CHECK (("identity"."person_keys"."destroyed_at" is null and "identity"."person_keys"."kek_id" is not null and "identity"."person_keys"."wrapped_key" is not null)
          or ("identity"."person_keys"."destroyed_at" is not null and "identity"."person_keys"."kek_id" is null and "identity"."person_keys"."wrapped_key" is null))
);
--> statement-breakpoint
-- Renamed, not replaced, so no data is lost: the rows keep their plaintext in the *_sealed columns
-- until the service's start-up step (db/users.ts sealPlaintextUsers) seals them and fills email_index.
ALTER TABLE "identity"."users" DROP CONSTRAINT "users_email_unique";--> statement-breakpoint
ALTER TABLE "identity"."users" RENAME COLUMN "email" TO "email_sealed";--> statement-breakpoint
ALTER TABLE "identity"."users" RENAME COLUMN "display_name" TO "display_name_sealed";--> statement-breakpoint
ALTER TABLE "identity"."users" ADD COLUMN "email_index" text;--> statement-breakpoint
ALTER TABLE "identity"."email_verifications" RENAME COLUMN "email" TO "email_sealed";--> statement-breakpoint
ALTER TABLE "identity"."users" ADD CONSTRAINT "users_email_index_unique" UNIQUE("email_index");