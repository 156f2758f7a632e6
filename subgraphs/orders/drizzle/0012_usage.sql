CREATE TABLE "orders"."usage_hourly" (
	"organization_id" uuid NOT NULL,
	"metric" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"quantity" bigint NOT NULL,
	CONSTRAINT "usage_hourly_organization_id_metric_hour_pk" PRIMARY KEY("organization_id","metric","hour")
);
--> statement-breakpoint
CREATE TABLE "orders"."usage_jumps" (
	"organization_id" uuid NOT NULL,
	"metric" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"detected_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_jumps_organization_id_metric_hour_pk" PRIMARY KEY("organization_id","metric","hour")
);
