DROP INDEX "catalog"."events_coordinates_idx";--> statement-breakpoint
CREATE INDEX "events_venue_point_idx" ON "catalog"."events" USING gist (point("venue_longitude", "venue_latitude"));