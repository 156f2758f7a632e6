-- GIN over text, enum and lower(text) columns beside the tsvector (in PostgreSQL's contrib, as pg_trgm).
CREATE EXTENSION IF NOT EXISTS btree_gin;--> statement-breakpoint
DROP INDEX "catalog"."events_search_vector_idx";--> statement-breakpoint
DROP INDEX "catalog"."events_country_idx";--> statement-breakpoint
CREATE INDEX "events_search_idx" ON "catalog"."events" USING gin ("search_vector","venue_country","category",lower("venue_city"));