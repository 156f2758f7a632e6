CREATE TYPE "identity"."organization_status" AS ENUM('ACTIVE', 'CLOSING', 'CLOSED');--> statement-breakpoint
ALTER TABLE "identity"."organizations" ADD COLUMN "status" "identity"."organization_status" DEFAULT 'ACTIVE' NOT NULL;--> statement-breakpoint
ALTER TABLE "identity"."organizations" ADD COLUMN "closure_id" uuid;--> statement-breakpoint
ALTER TABLE "identity"."organizations" ADD COLUMN "closure_refusal" text;--> statement-breakpoint
ALTER TABLE "identity"."organizations" ADD COLUMN "closed_at" timestamp with time zone;