CREATE TYPE "identity"."consent_purpose" AS ENUM('MARKETING_EMAIL', 'MARKETING_PUSH', 'ANALYTICS', 'ORGANIZER_SHARING');--> statement-breakpoint
CREATE TYPE "identity"."incident_status" AS ENUM('DETECTED', 'TRIAGED', 'CONTAINED', 'RESOLVED', 'POSTMORTEM');--> statement-breakpoint
CREATE TYPE "identity"."privacy_request_kind" AS ENUM('EXPORT', 'ERASURE');--> statement-breakpoint
CREATE TYPE "identity"."privacy_request_status" AS ENUM('IN_PROGRESS', 'COMPLETED', 'EXPIRED');--> statement-breakpoint
CREATE TYPE "identity"."severity" AS ENUM('LOW', 'MEDIUM', 'HIGH', 'CRITICAL');--> statement-breakpoint
CREATE TABLE "identity"."consent_history" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"purpose" "identity"."consent_purpose" NOT NULL,
	"scope" text DEFAULT '' NOT NULL,
	"granted" boolean NOT NULL,
	"text_version" text NOT NULL,
	"source" text NOT NULL,
	"ip_address" text,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "identity"."consents" (
	"user_id" uuid NOT NULL,
	"purpose" "identity"."consent_purpose" NOT NULL,
	"scope" text DEFAULT '' NOT NULL,
	"granted" boolean NOT NULL,
	"text_version" text NOT NULL,
	"source" text NOT NULL,
	"ip_address" text,
	"changed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "consents_user_id_purpose_scope_pk" PRIMARY KEY("user_id","purpose","scope")
);
--> statement-breakpoint
CREATE TABLE "identity"."incident_affected_users" (
	"incident_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"added_at" timestamp with time zone NOT NULL,
	"notified_at" timestamp with time zone,
	CONSTRAINT "incident_affected_users_incident_id_user_id_pk" PRIMARY KEY("incident_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "identity"."incident_timeline" (
	"id" uuid PRIMARY KEY NOT NULL,
	"incident_id" uuid NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"actor" text NOT NULL,
	"kind" text NOT NULL,
	"message" text NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "identity"."incidents" (
	"id" uuid PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"severity" "identity"."severity" NOT NULL,
	"status" "identity"."incident_status" DEFAULT 'DETECTED' NOT NULL,
	"personal_data_breach" boolean DEFAULT false NOT NULL,
	"opened_by" text NOT NULL,
	"detected_at" timestamp with time zone NOT NULL,
	"regulator_deadline_at" timestamp with time zone NOT NULL,
	"regulator_notified_at" timestamp with time zone,
	"data_categories" text[] DEFAULT '{}'::text[] NOT NULL,
	"likely_consequences" text DEFAULT '' NOT NULL,
	"measures_taken" text DEFAULT '' NOT NULL,
	"postmortem" text,
	"users_notified_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "identity"."privacy_request_steps" (
	"request_id" uuid NOT NULL,
	"service" text NOT NULL,
	"completed_at" timestamp with time zone,
	"sealed_part" text,
	"summary" jsonb,
	CONSTRAINT "privacy_request_steps_request_id_service_pk" PRIMARY KEY("request_id","service")
);
--> statement-breakpoint
CREATE TABLE "identity"."privacy_requests" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" "identity"."privacy_request_kind" NOT NULL,
	"user_id" uuid NOT NULL,
	"status" "identity"."privacy_request_status" DEFAULT 'IN_PROGRESS' NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone,
	"private_key_sealed" text,
	"archive_sealed" text,
	"download_token_hash" text,
	"download_expires_at" timestamp with time zone,
	"downloaded_at" timestamp with time zone,
	CONSTRAINT "privacy_requests_download_token_hash_unique" UNIQUE("download_token_hash")
);
--> statement-breakpoint
CREATE TABLE "identity"."security_alerts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"rule" text NOT NULL,
	"severity" "identity"."severity" NOT NULL,
	"dedupe_key" text NOT NULL,
	"summary" text NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"raised_at" timestamp with time zone NOT NULL,
	"incident_id" uuid,
	CONSTRAINT "security_alerts_dedupe_key_unique" UNIQUE("dedupe_key")
);
--> statement-breakpoint
CREATE TABLE "identity"."security_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"service" text NOT NULL,
	"type" text NOT NULL,
	"actor_id" text,
	"actor_kind" text NOT NULL,
	"ip" text,
	"organization_id" uuid,
	"request_id" text,
	"target" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "identity"."consent_history" ADD CONSTRAINT "consent_history_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "identity"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity"."consents" ADD CONSTRAINT "consents_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "identity"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity"."incident_affected_users" ADD CONSTRAINT "incident_affected_users_incident_id_incidents_id_fk" FOREIGN KEY ("incident_id") REFERENCES "identity"."incidents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity"."incident_timeline" ADD CONSTRAINT "incident_timeline_incident_id_incidents_id_fk" FOREIGN KEY ("incident_id") REFERENCES "identity"."incidents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity"."privacy_request_steps" ADD CONSTRAINT "privacy_request_steps_request_id_privacy_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "identity"."privacy_requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity"."security_alerts" ADD CONSTRAINT "security_alerts_incident_id_incidents_id_fk" FOREIGN KEY ("incident_id") REFERENCES "identity"."incidents"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "consent_history_user_idx" ON "identity"."consent_history" USING btree ("user_id","occurred_at");--> statement-breakpoint
CREATE INDEX "incident_timeline_incident_idx" ON "identity"."incident_timeline" USING btree ("incident_id","occurred_at");--> statement-breakpoint
CREATE INDEX "incidents_status_idx" ON "identity"."incidents" USING btree ("status","detected_at");--> statement-breakpoint
CREATE INDEX "privacy_requests_user_idx" ON "identity"."privacy_requests" USING btree ("user_id","requested_at");--> statement-breakpoint
CREATE INDEX "security_alerts_raised_idx" ON "identity"."security_alerts" USING btree ("raised_at");--> statement-breakpoint
CREATE INDEX "security_events_type_idx" ON "identity"."security_events" USING btree ("type","occurred_at");--> statement-breakpoint
CREATE INDEX "security_events_ip_idx" ON "identity"."security_events" USING btree ("ip","occurred_at");--> statement-breakpoint
CREATE INDEX "security_events_actor_idx" ON "identity"."security_events" USING btree ("actor_id","occurred_at");