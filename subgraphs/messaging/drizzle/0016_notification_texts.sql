-- Renamed, not dropped: existing texts are sealed under their recipient's key at start-up (domain/sealing-migration.ts).
ALTER TABLE "messaging"."notifications" RENAME COLUMN "subject" TO "subject_sealed";--> statement-breakpoint
ALTER TABLE "messaging"."notifications" RENAME COLUMN "body" TO "body_sealed";
