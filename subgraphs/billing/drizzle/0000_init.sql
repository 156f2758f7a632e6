CREATE SCHEMA "billing";
--> statement-breakpoint
CREATE TYPE "billing"."payment_provider" AS ENUM('STRIPE', 'BRAINTREE');--> statement-breakpoint
CREATE TYPE "billing"."payment_status" AS ENUM('PENDING', 'SUCCEEDED', 'FAILED', 'REFUNDED');--> statement-breakpoint
CREATE TABLE "billing"."payments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"amount" integer NOT NULL,
	"currency" text NOT NULL,
	"provider" "billing"."payment_provider" NOT NULL,
	"status" "billing"."payment_status" DEFAULT 'PENDING' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_amount_not_negative" CHECK ("billing"."payments"."amount" >= 0)
);
--> statement-breakpoint
CREATE INDEX "payments_order_id_idx" ON "billing"."payments" USING btree ("order_id");