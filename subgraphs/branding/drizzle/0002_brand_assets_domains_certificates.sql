CREATE TYPE "branding"."asset_kind" AS ENUM('LOGO', 'COVER', 'FAVICON', 'EMAIL_HEADER');--> statement-breakpoint
CREATE TYPE "branding"."brand_font" AS ENUM('SYSTEM_UI', 'INTER', 'ROBOTO', 'OPEN_SANS', 'LATO', 'SOURCE_SERIF', 'MERRIWEATHER', 'GEORGIA');--> statement-breakpoint
CREATE TYPE "branding"."domain_state" AS ENUM('PENDING_VERIFICATION', 'VERIFIED', 'CERTIFICATE_ISSUED', 'ACTIVE', 'FAILED');--> statement-breakpoint
CREATE TYPE "branding"."ticket_layout" AS ENUM('CLASSIC', 'COMPACT', 'POSTER');--> statement-breakpoint
CREATE TABLE "branding"."acme_accounts" (
	"directory_url" text PRIMARY KEY NOT NULL,
	"account_key_encrypted" text NOT NULL,
	"account_url" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "branding"."acme_challenges" (
	"token" text PRIMARY KEY NOT NULL,
	"key_authorization" text NOT NULL,
	"hostname" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "branding"."assets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"kind" "branding"."asset_kind" NOT NULL,
	"sha256" text NOT NULL,
	"content_type" text NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"byte_size" integer NOT NULL,
	"variants" jsonb NOT NULL,
	"original_name" text,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "branding"."brand_kit_versions" (
	"kit_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"settings" jsonb NOT NULL,
	"restored_from" integer,
	"changed_by" uuid,
	"request_id" text,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "brand_kit_versions_kit_id_version_pk" PRIMARY KEY("kit_id","version")
);
--> statement-breakpoint
CREATE TABLE "branding"."custom_domains" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"hostname" text NOT NULL,
	"state" "branding"."domain_state" DEFAULT 'PENDING_VERIFICATION' NOT NULL,
	"verification_token" text NOT NULL,
	"failure_reason" text,
	"last_checked_at" timestamp with time zone,
	"verified_at" timestamp with time zone,
	"activated_at" timestamp with time zone,
	"certificate_chain_encrypted" text,
	"certificate_key_encrypted" text,
	"certificate_issued_at" timestamp with time zone,
	"certificate_expires_at" timestamp with time zone,
	"certificate_due_at" timestamp with time zone,
	"certificate_lease_until" timestamp with time zone,
	"certificate_attempts" integer DEFAULT 0 NOT NULL,
	"certificate_error" text,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "custom_domains_hostname_unique" UNIQUE("hostname")
);
--> statement-breakpoint
CREATE TABLE "branding"."stored_blobs" (
	"sha256" text PRIMARY KEY NOT NULL,
	"content_type" text NOT NULL,
	"byte_size" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "background_color" text DEFAULT '#FFFFFF' NOT NULL;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "text_color" text DEFAULT '#111827' NOT NULL;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "logo_asset_id" uuid;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "logo_on_dark_asset_id" uuid;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "favicon_asset_id" uuid;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "email_header_asset_id" uuid;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "cover_asset_id" uuid;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "font_family" "branding"."brand_font" DEFAULT 'SYSTEM_UI' NOT NULL;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "email_footer" text;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "ticket_layout" "branding"."ticket_layout" DEFAULT 'CLASSIC' NOT NULL;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD COLUMN "updated_by" uuid;--> statement-breakpoint
ALTER TABLE "branding"."brand_kit_versions" ADD CONSTRAINT "brand_kit_versions_kit_id_brand_kits_id_fk" FOREIGN KEY ("kit_id") REFERENCES "branding"."brand_kits"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "assets_organization_idx" ON "branding"."assets" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE INDEX "custom_domains_organization_idx" ON "branding"."custom_domains" USING btree ("organization_id");--> statement-breakpoint
CREATE INDEX "custom_domains_certificate_due_idx" ON "branding"."custom_domains" USING btree ("certificate_due_at");--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD CONSTRAINT "brand_kits_logo_asset_id_assets_id_fk" FOREIGN KEY ("logo_asset_id") REFERENCES "branding"."assets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD CONSTRAINT "brand_kits_logo_on_dark_asset_id_assets_id_fk" FOREIGN KEY ("logo_on_dark_asset_id") REFERENCES "branding"."assets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD CONSTRAINT "brand_kits_favicon_asset_id_assets_id_fk" FOREIGN KEY ("favicon_asset_id") REFERENCES "branding"."assets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD CONSTRAINT "brand_kits_email_header_asset_id_assets_id_fk" FOREIGN KEY ("email_header_asset_id") REFERENCES "branding"."assets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" ADD CONSTRAINT "brand_kits_cover_asset_id_assets_id_fk" FOREIGN KEY ("cover_asset_id") REFERENCES "branding"."assets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branding"."brand_kits" DROP COLUMN "logo_url";--> statement-breakpoint
-- Every kit that existed before versions starts its history with what it was.
INSERT INTO "branding"."brand_kit_versions" ("kit_id", "version", "settings", "changed_at")
SELECT "id", 1, jsonb_build_object('primaryColor', "primary_color", 'accentColor', "accent_color",
  'backgroundColor', "background_color", 'textColor', "text_color", 'logoAssetId', NULL,
  'logoOnDarkAssetId', NULL, 'faviconAssetId', NULL, 'emailHeaderAssetId', NULL, 'coverAssetId', NULL,
  'fontFamily', "font_family", 'emailFooter', NULL, 'ticketLayout', "ticket_layout"), "updated_at"
FROM "branding"."brand_kits";
