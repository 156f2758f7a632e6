CREATE TYPE "messaging"."delivery_status" AS ENUM('QUEUED', 'SENT', 'DELIVERED', 'OPENED', 'CLICKED', 'BOUNCED', 'COMPLAINED', 'FAILED', 'SUPPRESSED');--> statement-breakpoint
CREATE TABLE "messaging"."announcements" (
	"id" uuid PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"posted_by" uuid NOT NULL,
	"subject" text NOT NULL,
	"body" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messaging"."brand_kits" (
	"organization_id" uuid PRIMARY KEY NOT NULL,
	"primary_color" text NOT NULL,
	"accent_color" text NOT NULL,
	"logo_url" text,
	"changed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messaging"."deliveries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"category" "messaging"."notification_category" NOT NULL,
	"critical" boolean NOT NULL,
	"channel" "messaging"."notification_channel" NOT NULL,
	"locale" text DEFAULT 'en' NOT NULL,
	"source_event_id" uuid NOT NULL,
	"recipient_id" uuid,
	"address_sealed" text NOT NULL,
	"address_hash" text NOT NULL,
	"data_sealed" text NOT NULL,
	"organization_id" uuid,
	"event_id" uuid,
	"fallback_of" uuid,
	"status" "messaging"."delivery_status" DEFAULT 'QUEUED' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"transport" text,
	"provider_message_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"opened_at" timestamp with time zone,
	"clicked_at" timestamp with time zone,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "messaging"."delivery_attempts" (
	"delivery_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"transport" text NOT NULL,
	"outcome" text NOT NULL,
	"detail" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "delivery_attempts_delivery_id_attempt_pk" PRIMARY KEY("delivery_id","attempt")
);
--> statement-breakpoint
CREATE TABLE "messaging"."event_schedules" (
	"event_id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"title" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"timezone" text NOT NULL,
	"place" text NOT NULL,
	"cancelled_at" timestamp with time zone,
	"reminded_for" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messaging"."order_book" (
	"id" uuid PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"user_id" uuid,
	"email_sealed" text NOT NULL,
	"name" text NOT NULL,
	"event_title" text NOT NULL,
	"total_amount" integer NOT NULL,
	"currency" text NOT NULL,
	"holding_since" timestamp with time zone,
	"released_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messaging"."push_subscriptions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"endpoint" text NOT NULL,
	"p256dh" text NOT NULL,
	"auth" text NOT NULL,
	"user_agent" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "push_subscriptions_endpoint_unique" UNIQUE("endpoint")
);
--> statement-breakpoint
CREATE TABLE "messaging"."suppressed_addresses" (
	"address_hash" text NOT NULL,
	"channel" "messaging"."notification_channel" NOT NULL,
	"reason" text NOT NULL,
	"delivery_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "suppressed_addresses_address_hash_channel_pk" PRIMARY KEY("address_hash","channel")
);
--> statement-breakpoint
ALTER TABLE "messaging"."notification_preferences" ADD COLUMN "locale" text;--> statement-breakpoint
ALTER TABLE "messaging"."notification_preferences" ADD COLUMN "phone_sealed" text;--> statement-breakpoint
ALTER TABLE "messaging"."notifications" ADD COLUMN "kind" text;--> statement-breakpoint
ALTER TABLE "messaging"."notifications" ADD COLUMN "url" text;--> statement-breakpoint
ALTER TABLE "messaging"."delivery_attempts" ADD CONSTRAINT "delivery_attempts_delivery_id_deliveries_id_fk" FOREIGN KEY ("delivery_id") REFERENCES "messaging"."deliveries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "announcements_event_id_idx" ON "messaging"."announcements" USING btree ("event_id");--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_source_recipient_channel_idx" ON "messaging"."deliveries" USING btree ("source_event_id","address_hash","channel");--> statement-breakpoint
CREATE INDEX "deliveries_due_idx" ON "messaging"."deliveries" USING btree ("next_attempt_at") WHERE status = 'QUEUED';--> statement-breakpoint
CREATE INDEX "deliveries_provider_message_id_idx" ON "messaging"."deliveries" USING btree ("provider_message_id");--> statement-breakpoint
CREATE INDEX "deliveries_address_hash_created_at_idx" ON "messaging"."deliveries" USING btree ("address_hash","created_at");--> statement-breakpoint
CREATE INDEX "deliveries_organization_id_created_at_idx" ON "messaging"."deliveries" USING btree ("organization_id","created_at");--> statement-breakpoint
CREATE INDEX "event_schedules_starts_at_idx" ON "messaging"."event_schedules" USING btree ("starts_at") WHERE cancelled_at is null;--> statement-breakpoint
CREATE INDEX "order_book_order_id_idx" ON "messaging"."order_book" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "order_book_holders_idx" ON "messaging"."order_book" USING btree ("event_id","id") WHERE holding_since is not null and released_at is null;--> statement-breakpoint
CREATE INDEX "push_subscriptions_user_id_idx" ON "messaging"."push_subscriptions" USING btree ("user_id");