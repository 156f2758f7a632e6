CREATE TABLE "identity"."platform_alerts" (
	"fingerprint" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"alertname" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "platform_alerts_fingerprint_starts_at_status_pk" PRIMARY KEY("fingerprint","starts_at","status")
);
