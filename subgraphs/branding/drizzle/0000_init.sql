CREATE SCHEMA "branding";
--> statement-breakpoint
CREATE TABLE "branding"."brand_kits" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"primary_color" text NOT NULL,
	"accent_color" text NOT NULL,
	"logo_url" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "brand_kits_organization_id_unique" UNIQUE("organization_id")
);
