ALTER TABLE "catalog"."events" ADD COLUMN "min_price" integer;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "max_price" integer;--> statement-breakpoint
ALTER TABLE "catalog"."events" ADD COLUMN "search_vector" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, title), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(venue_name, '') || ' ' || coalesce(venue_city, '')), 'B') || setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'C')) STORED;--> statement-breakpoint
CREATE INDEX "events_search_vector_idx" ON "catalog"."events" USING gin ("search_vector");--> statement-breakpoint
CREATE INDEX "events_title_trgm_idx" ON "catalog"."events" USING gin ("title" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "events_listed_starts_at_idx" ON "catalog"."events" USING btree ("starts_at","id") WHERE status = 'PUBLISHED' and visibility = 'PUBLIC';--> statement-breakpoint
CREATE INDEX "events_min_price_idx" ON "catalog"."events" USING btree ("min_price","id");--> statement-breakpoint
CREATE INDEX "events_country_idx" ON "catalog"."events" USING btree ("venue_country");--> statement-breakpoint
CREATE INDEX "events_city_starts_at_idx" ON "catalog"."events" USING btree (lower("venue_city"),"starts_at");--> statement-breakpoint
CREATE INDEX "events_coordinates_idx" ON "catalog"."events" USING btree ("venue_latitude","venue_longitude");--> statement-breakpoint
-- Hand-edited: price ranges of events that had ticket types before the columns existed.
UPDATE "catalog"."events" e SET "min_price" = p.min, "max_price" = p.max FROM (SELECT "event_id", min("price_amount") AS min, max("price_amount") AS max FROM "catalog"."ticket_types" WHERE NOT "hidden" GROUP BY "event_id") p WHERE p."event_id" = e."id";
