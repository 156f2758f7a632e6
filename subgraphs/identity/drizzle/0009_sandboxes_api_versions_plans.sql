-- Keys made before dated versions existed are pinned on the first one (what /api/v1 answered then).
ALTER TABLE "identity"."api_keys" ADD COLUMN "api_version" text DEFAULT '2026-12-06' NOT NULL;--> statement-breakpoint
ALTER TABLE "identity"."api_keys" ALTER COLUMN "api_version" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "identity"."api_keys" ADD COLUMN "plan" text DEFAULT 'standard' NOT NULL;--> statement-breakpoint
ALTER TABLE "identity"."organizations" ADD COLUMN "sandbox_of" uuid;--> statement-breakpoint
ALTER TABLE "identity"."organizations" ADD CONSTRAINT "organizations_sandbox_of_organizations_id_fk" FOREIGN KEY ("sandbox_of") REFERENCES "identity"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity"."organizations" ADD CONSTRAINT "organizations_sandbox_of_unique" UNIQUE("sandbox_of");