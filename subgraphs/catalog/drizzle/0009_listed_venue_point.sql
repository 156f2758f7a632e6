-- Written by hand: drizzle cannot declare INCLUDE columns. Public near searches read the box,
-- the price and the exact distance from this index alone (an index-only scan while the table's
-- pages are all-visible), so the events around a city are ordered and counted without reading
-- thousands of table pages; only the page's events are then read.
CREATE INDEX "events_listed_venue_point_idx" ON "catalog"."events" USING gist (point("venue_longitude", "venue_latitude"))
  INCLUDE ("min_price", "venue_latitude", "venue_longitude", "id")
  WHERE "status" = 'PUBLISHED' AND "visibility" = 'PUBLIC';
