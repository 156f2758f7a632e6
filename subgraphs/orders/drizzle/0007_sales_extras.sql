CREATE TYPE "orders"."refund_reason" AS ENUM('EVENT_CANCELLED', 'CUSTOMER_REQUEST', 'PAID_AFTER_EXPIRY');--> statement-breakpoint
CREATE TYPE "orders"."waiting_list_status" AS ENUM('WAITING', 'OFFERED', 'CLAIMED', 'LAPSED', 'LEFT');--> statement-breakpoint
CREATE TABLE "orders"."organization_pricing" (
	"organization_id" uuid PRIMARY KEY NOT NULL,
	"fee_basis_points" integer DEFAULT 0 NOT NULL,
	"fee_per_ticket" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"tax_basis_points" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organization_pricing_shares" CHECK ("orders"."organization_pricing"."fee_basis_points" between 0 and 10000 and "orders"."organization_pricing"."tax_basis_points" between 0 and 10000)
);
--> statement-breakpoint
CREATE TABLE "orders"."refund_requests" (
	"refund_id" uuid PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"payment_id" uuid NOT NULL,
	"reason" "orders"."refund_reason" NOT NULL,
	"amount" integer NOT NULL,
	"currency" text NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"refunded_at" timestamp with time zone,
	CONSTRAINT "refund_requests_payment_id_unique" UNIQUE("payment_id")
);
--> statement-breakpoint
CREATE TABLE "orders"."waiting_list_entries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"ticket_type_id" uuid,
	"user_id" uuid NOT NULL,
	"email" text NOT NULL,
	"quantity" integer NOT NULL,
	"status" "orders"."waiting_list_status" DEFAULT 'WAITING' NOT NULL,
	"reservation_id" uuid,
	"offered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "waiting_list_entries_quantity_positive" CHECK ("orders"."waiting_list_entries"."quantity" > 0)
);
--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "buyer_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."reservations" ALTER COLUMN "buyer_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."reservations" ADD COLUMN "guest_token_hash" text;--> statement-breakpoint
ALTER TABLE "orders"."reservations" ADD COLUMN "waiting_list_entry_id" uuid;--> statement-breakpoint
ALTER TABLE "orders"."tickets" ADD COLUMN "holder_email" text;--> statement-breakpoint
ALTER TABLE "orders"."tickets" ADD COLUMN "transferred_from_id" uuid;--> statement-breakpoint
ALTER TABLE "orders"."refund_requests" ADD CONSTRAINT "refund_requests_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."waiting_list_entries" ADD CONSTRAINT "waiting_list_entries_event_id_offers_event_id_fk" FOREIGN KEY ("event_id") REFERENCES "orders"."offers"("event_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."waiting_list_entries" ADD CONSTRAINT "waiting_list_entries_reservation_id_reservations_id_fk" FOREIGN KEY ("reservation_id") REFERENCES "orders"."reservations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "refund_requests_order_id_idx" ON "orders"."refund_requests" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "waiting_list_entries_queue_idx" ON "orders"."waiting_list_entries" USING btree ("event_id","status","id");--> statement-breakpoint
CREATE INDEX "waiting_list_entries_user_id_idx" ON "orders"."waiting_list_entries" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "waiting_list_entries_one_per_user" ON "orders"."waiting_list_entries" USING btree ("event_id","user_id") WHERE "orders"."waiting_list_entries"."status" in ('WAITING', 'OFFERED');--> statement-breakpoint
CREATE INDEX "orders_buyer_email_idx" ON "orders"."orders" USING btree (lower("buyer_email"),"event_id");--> statement-breakpoint
CREATE INDEX "tickets_holder_email_idx" ON "orders"."tickets" USING btree (lower("holder_email"));--> statement-breakpoint
ALTER TABLE "orders"."reservations" ADD CONSTRAINT "reservations_one_owner" CHECK (("orders"."reservations"."buyer_id" is null) <> ("orders"."reservations"."guest_token_hash" is null));