-- Renamed, not dropped: existing names are sealed per person at start-up (domain/sealing-migration.ts).
ALTER TABLE "messaging"."order_book" RENAME COLUMN "name" TO "name_sealed";
