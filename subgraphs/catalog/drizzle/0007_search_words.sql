CREATE TABLE "catalog"."search_words" (
	"word" text PRIMARY KEY NOT NULL
);
--> statement-breakpoint
DROP INDEX "catalog"."events_title_trgm_idx";--> statement-breakpoint
CREATE INDEX "search_words_word_trgm_idx" ON "catalog"."search_words" USING gist ("word" gist_trgm_ops);--> statement-breakpoint
-- Triggers rather than application code, so every way an event is written (mutations, copies,
-- restores, seeding) feeds the dictionary. Only words of listed events (published and public):
-- a corrected word travels in the page's cursor, so a draft's words must never be among them.
-- Plain words only: the parser keeps 'rock-n-roll', hosts and addresses whole, and their
-- punctuation would break the tsquery and the cursor a corrected word goes into. Per statement,
-- so a batch of events costs one insert; words in one order, so two writers adding the same new
-- words cannot deadlock.
CREATE FUNCTION "catalog"."remember_search_words"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO "catalog"."search_words" ("word")
    SELECT DISTINCT word.lexeme
    FROM written JOIN previous ON previous.id = written.id, unnest(written.search_vector) AS word
    WHERE written.status = 'PUBLISHED' AND written.visibility = 'PUBLIC'
      AND (previous.status <> 'PUBLISHED' OR previous.visibility <> 'PUBLIC'
        OR previous.search_vector IS DISTINCT FROM written.search_vector)
      AND char_length(word.lexeme) BETWEEN 3 AND 40 AND word.lexeme !~ '[[:punct:]]'
    ORDER BY 1
    ON CONFLICT DO NOTHING;
  ELSE
    INSERT INTO "catalog"."search_words" ("word")
    SELECT DISTINCT word.lexeme FROM written, unnest(written.search_vector) AS word
    WHERE written.status = 'PUBLISHED' AND written.visibility = 'PUBLIC'
      AND char_length(word.lexeme) BETWEEN 3 AND 40 AND word.lexeme !~ '[[:punct:]]'
    ORDER BY 1
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "events_search_words_inserted" AFTER INSERT ON "catalog"."events"
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION "catalog"."remember_search_words"();--> statement-breakpoint
CREATE TRIGGER "events_search_words_updated" AFTER UPDATE ON "catalog"."events"
  REFERENCING OLD TABLE AS previous NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION "catalog"."remember_search_words"();--> statement-breakpoint
INSERT INTO "catalog"."search_words" ("word")
SELECT DISTINCT word.lexeme FROM "catalog"."events", unnest("events"."search_vector") AS word
WHERE "events"."status" = 'PUBLISHED' AND "events"."visibility" = 'PUBLIC'
  AND char_length(word.lexeme) BETWEEN 3 AND 40 AND word.lexeme !~ '[[:punct:]]'
ON CONFLICT DO NOTHING;
