CREATE TABLE "billing"."brand_contexts" (
	"organization_id" uuid PRIMARY KEY NOT NULL,
	"context" jsonb NOT NULL,
	"changed_at" timestamp with time zone NOT NULL
);
