CREATE TABLE "messaging"."brand_contexts" (
	"organization_id" uuid PRIMARY KEY NOT NULL,
	"context" jsonb NOT NULL,
	"changed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- The kits messaging already heard become its first brand contexts (the fields they lacked take Bilten's defaults).
INSERT INTO "messaging"."brand_contexts" ("organization_id", "context", "changed_at")
SELECT "organization_id", jsonb_build_object('organizationId', "organization_id", 'primaryColor', "primary_color",
  'accentColor', "accent_color", 'backgroundColor', '#FFFFFF', 'textColor', '#111827', 'logoUrl', "logo_url",
  'logo', NULL, 'emailHeader', NULL, 'fontFamily', 'SYSTEM_UI', 'emailFooter', NULL, 'ticketLayout', 'CLASSIC',
  'domain', NULL, 'version', 0, 'changedAt', to_char("changed_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
  "changed_at"
FROM "messaging"."brand_kits"
ON CONFLICT DO NOTHING;
