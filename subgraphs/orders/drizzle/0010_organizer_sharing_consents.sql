CREATE TABLE "orders"."organizer_sharing_consents" (
	"user_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"granted" boolean NOT NULL,
	"text_version" text NOT NULL,
	"changed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "organizer_sharing_consents_user_id_organization_id_pk" PRIMARY KEY("user_id","organization_id")
);
