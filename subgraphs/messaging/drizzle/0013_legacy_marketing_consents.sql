-- Custom SQL migration file, put your code below! --
-- Issue 18: consent now comes from identity (consentChanged). Marketing consent recorded here
-- before that becomes a granted MARKETING_EMAIL in the copy, so nobody loses it; identity has no
-- record of these. The old columns stay until a later removal.
INSERT INTO "messaging"."consents" ("user_id", "purpose", "granted", "text_version", "legacy_source", "changed_at")
SELECT "user_id", 'MARKETING_EMAIL', true, 'legacy-preferences/2026-01', coalesce("marketing_consent_source", 'preferences'), "marketing_consent_at"
FROM "messaging"."notification_preferences"
WHERE "marketing_consent_at" IS NOT NULL
ON CONFLICT ("user_id", "purpose") DO NOTHING;
