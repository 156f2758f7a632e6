-- Every organization's current slug joins the registry of slugs (organization_slugs).
INSERT INTO "identity"."organization_slugs" ("slug", "organization_id", "created_at")
SELECT "slug", "id", "created_at" FROM "identity"."organizations"
ON CONFLICT ("slug") DO NOTHING;
