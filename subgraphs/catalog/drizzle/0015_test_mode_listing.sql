-- Written by hand (drizzle cannot declare INCLUDE columns or triggers). Test-mode organizations'
-- events are listed to nobody else: the public's covering index for near searches leaves them out
-- (a predicate column needs no room in an index-only scan), as the other listed indexes do.
DROP INDEX "catalog"."events_listed_venue_point_idx";--> statement-breakpoint
CREATE INDEX "events_listed_venue_point_idx" ON "catalog"."events" USING gist (point("venue_longitude", "venue_latitude"))
  INCLUDE ("min_price", "venue_latitude", "venue_longitude", "id")
  WHERE "status" = 'PUBLISHED' AND "visibility" = 'PUBLIC' AND NOT "test_mode";--> statement-breakpoint
-- Nor do their words enter the typo dictionary, which every public search is corrected against.
CREATE OR REPLACE FUNCTION "catalog"."remember_search_words"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO "catalog"."search_words" ("word")
    SELECT DISTINCT word.lexeme
    FROM written JOIN previous ON previous.id = written.id, unnest(written.search_vector) AS word
    WHERE written.status = 'PUBLISHED' AND written.visibility = 'PUBLIC' AND NOT written.test_mode
      AND (previous.status <> 'PUBLISHED' OR previous.visibility <> 'PUBLIC'
        OR previous.search_vector IS DISTINCT FROM written.search_vector)
      AND char_length(word.lexeme) BETWEEN 3 AND 40 AND word.lexeme !~ '[[:punct:]]'
    ORDER BY 1
    ON CONFLICT DO NOTHING;
  ELSE
    INSERT INTO "catalog"."search_words" ("word")
    SELECT DISTINCT word.lexeme FROM written, unnest(written.search_vector) AS word
    WHERE written.status = 'PUBLISHED' AND written.visibility = 'PUBLIC' AND NOT written.test_mode
      AND char_length(word.lexeme) BETWEEN 3 AND 40 AND word.lexeme !~ '[[:punct:]]'
    ORDER BY 1
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
