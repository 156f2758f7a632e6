-- Messaging renders from brand_contexts now; 0010 copied these rows there.
DROP TABLE "messaging"."brand_kits" CASCADE;