ALTER TABLE "messaging"."organization_names" ALTER COLUMN "name" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "messaging"."organization_names" ALTER COLUMN "named_at" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "messaging"."organization_names" ADD COLUMN "closed_at" timestamp with time zone;