-- Trigram matching for typo-tolerant event search (needs a role allowed to create extensions).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
