CREATE TABLE "messaging"."organization_names" (
	"organization_id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"named_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messaging"."recipients" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"email_sealed" text NOT NULL,
	"email_set_at" timestamp with time zone NOT NULL,
	"display_name" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
