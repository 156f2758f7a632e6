CREATE TYPE "billing"."payment_provider" AS ENUM('STRIPE', 'BRAINTREE', 'SANDBOX');--> statement-breakpoint
CREATE TYPE "billing"."payment_status" AS ENUM('PENDING', 'REQUIRES_ACTION', 'SUCCEEDED', 'FAILED');--> statement-breakpoint
CREATE TYPE "billing"."refund_status" AS ENUM('PENDING', 'SUCCEEDED', 'FAILED');--> statement-breakpoint
CREATE TABLE "billing"."order_charges" (
	"order_id" uuid PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"buyer_id" uuid,
	"guest_token_hash" text,
	"buyer_email" text NOT NULL,
	"amount" integer NOT NULL,
	"currency" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "billing"."payments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"provider" "billing"."payment_provider" NOT NULL,
	"status" "billing"."payment_status" DEFAULT 'PENDING' NOT NULL,
	"amount" integer NOT NULL,
	"currency" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"provider_payment_id" text,
	"failure_code" text,
	"failure_message" text,
	"next_action" jsonb,
	"card" jsonb,
	"payment_method_token_sealed" text,
	"refunded_amount" integer DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_amount_positive" CHECK ("billing"."payments"."amount" > 0),
	CONSTRAINT "payments_refunded_within" CHECK ("billing"."payments"."refunded_amount" between 0 and "billing"."payments"."amount")
);
--> statement-breakpoint
CREATE TABLE "billing"."refunds" (
	"id" uuid PRIMARY KEY NOT NULL,
	"payment_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"amount" integer NOT NULL,
	"currency" text NOT NULL,
	"reason" text NOT NULL,
	"status" "billing"."refund_status" DEFAULT 'PENDING' NOT NULL,
	"provider_refund_id" text,
	"failure_code" text,
	"failure_message" text,
	"requested_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "refunds_amount_positive" CHECK ("billing"."refunds"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE "billing"."webhook_events" (
	"provider" "billing"."payment_provider" NOT NULL,
	"event_id" text NOT NULL,
	"kind" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_events_provider_event_id_pk" PRIMARY KEY("provider","event_id")
);
--> statement-breakpoint
ALTER TABLE "billing"."refunds" ADD CONSTRAINT "refunds_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "billing"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "payments_order_id_idx" ON "billing"."payments" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_order_idempotency_key" ON "billing"."payments" USING btree ("order_id","idempotency_key");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_one_live_per_order" ON "billing"."payments" USING btree ("order_id") WHERE "billing"."payments"."status" <> 'FAILED';--> statement-breakpoint
CREATE UNIQUE INDEX "payments_provider_payment_id" ON "billing"."payments" USING btree ("provider","provider_payment_id");--> statement-breakpoint
CREATE INDEX "refunds_payment_id_idx" ON "billing"."refunds" USING btree ("payment_id");--> statement-breakpoint
CREATE INDEX "refunds_order_id_idx" ON "billing"."refunds" USING btree ("order_id");