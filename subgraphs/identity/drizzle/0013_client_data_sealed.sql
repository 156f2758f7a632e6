-- Renamed, not replaced, so no data is lost: the rows keep their plaintext in the *_sealed columns
-- until the service's start-up step (db/client-data.ts, db/invitations.ts) seals them and fills
-- organization_invitations.email_index.
ALTER TABLE "identity"."sessions" RENAME COLUMN "ip" TO "ip_sealed";--> statement-breakpoint
ALTER TABLE "identity"."sessions" RENAME COLUMN "user_agent" TO "user_agent_sealed";--> statement-breakpoint
ALTER TABLE "identity"."consents" RENAME COLUMN "ip_address" TO "ip_address_sealed";--> statement-breakpoint
ALTER TABLE "identity"."consent_history" RENAME COLUMN "ip_address" TO "ip_address_sealed";--> statement-breakpoint
ALTER TABLE "identity"."organization_invitations" RENAME COLUMN "email" TO "email_sealed";--> statement-breakpoint
ALTER TABLE "identity"."organization_invitations" ADD COLUMN "email_index" text;--> statement-breakpoint
CREATE INDEX "organization_invitations_email_index_idx" ON "identity"."organization_invitations" USING btree ("email_index");
