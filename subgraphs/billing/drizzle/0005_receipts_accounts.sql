CREATE TYPE "billing"."receipt_kind" AS ENUM('RECEIPT', 'CREDIT_NOTE');--> statement-breakpoint
CREATE TABLE "billing"."organizations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"slug" text NOT NULL,
	"test_mode" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "billing"."provider_accounts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"provider" "billing"."payment_provider" NOT NULL,
	"credentials_sealed" text NOT NULL,
	"key_hint" text NOT NULL,
	"updated_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "billing"."receipt_counters" (
	"organization_id" uuid NOT NULL,
	"kind" "billing"."receipt_kind" NOT NULL,
	"year" integer NOT NULL,
	"last_number" integer NOT NULL,
	CONSTRAINT "receipt_counters_organization_id_kind_year_pk" PRIMARY KEY("organization_id","kind","year")
);
--> statement-breakpoint
CREATE TABLE "billing"."receipts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"kind" "billing"."receipt_kind" NOT NULL,
	"number" text NOT NULL,
	"year" integer NOT NULL,
	"sequence" integer NOT NULL,
	"payment_id" uuid NOT NULL,
	"refund_id" uuid,
	"credited_receipt_id" uuid,
	"issued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"seller_name" text NOT NULL,
	"buyer_name" text NOT NULL,
	"buyer_email" text NOT NULL,
	"event_title" text NOT NULL,
	"lines" jsonb NOT NULL,
	"currency" text NOT NULL,
	"subtotal" integer NOT NULL,
	"fees" integer NOT NULL,
	"taxes" integer NOT NULL,
	"tax_basis_points" integer NOT NULL,
	"total" integer NOT NULL,
	CONSTRAINT "receipts_total_adds_up" CHECK ("billing"."receipts"."subtotal" + "billing"."receipts"."fees" + "billing"."receipts"."taxes" = "billing"."receipts"."total")
);
--> statement-breakpoint
ALTER TABLE "billing"."order_charges" ADD COLUMN "buyer_name" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "billing"."order_charges" ADD COLUMN "event_title" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "billing"."order_charges" ADD COLUMN "lines" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "billing"."order_charges" ADD COLUMN "subtotal" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "billing"."order_charges" ADD COLUMN "fees" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "billing"."order_charges" ADD COLUMN "taxes" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "billing"."order_charges" ADD COLUMN "tax_basis_points" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "billing"."payments" ADD COLUMN "provider_account_id" uuid;--> statement-breakpoint
ALTER TABLE "billing"."receipts" ADD CONSTRAINT "receipts_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "billing"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing"."receipts" ADD CONSTRAINT "receipts_refund_id_refunds_id_fk" FOREIGN KEY ("refund_id") REFERENCES "billing"."refunds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "provider_accounts_one_live" ON "billing"."provider_accounts" USING btree ("organization_id","provider") WHERE "billing"."provider_accounts"."removed_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "receipts_number_per_organization" ON "billing"."receipts" USING btree ("organization_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "receipts_sequence" ON "billing"."receipts" USING btree ("organization_id","kind","year","sequence");--> statement-breakpoint
CREATE UNIQUE INDEX "receipts_one_per_order" ON "billing"."receipts" USING btree ("order_id") WHERE "billing"."receipts"."kind" = 'RECEIPT';--> statement-breakpoint
CREATE UNIQUE INDEX "receipts_one_per_refund" ON "billing"."receipts" USING btree ("refund_id");--> statement-breakpoint
CREATE INDEX "receipts_order_id_idx" ON "billing"."receipts" USING btree ("order_id");