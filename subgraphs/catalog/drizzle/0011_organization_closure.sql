CREATE TABLE "catalog"."closed_organizations" (
	"organization_id" uuid PRIMARY KEY NOT NULL,
	"closure_id" uuid NOT NULL,
	"closed_at" timestamp with time zone DEFAULT now() NOT NULL
);
