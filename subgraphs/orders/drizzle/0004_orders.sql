ALTER TYPE "orders"."reservation_status" ADD VALUE 'CHECKED_OUT';--> statement-breakpoint
ALTER TYPE "orders"."reservation_status" ADD VALUE 'PURCHASED';--> statement-breakpoint
ALTER TABLE "orders"."orders" DROP CONSTRAINT "orders_quantity_positive";--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "status" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "status" SET DEFAULT 'PENDING_PAYMENT'::text;--> statement-breakpoint
DROP TYPE "orders"."order_status";--> statement-breakpoint
CREATE TYPE "orders"."order_status" AS ENUM('PENDING_PAYMENT', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED', 'EXPIRED', 'CANCELLED');--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "status" SET DEFAULT 'PENDING_PAYMENT'::"orders"."order_status";--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "status" SET DATA TYPE "orders"."order_status" USING "status"::"orders"."order_status";--> statement-breakpoint
DROP INDEX "orders"."reservations_held_idx";--> statement-breakpoint
DROP INDEX "orders"."orders_buyer_id_idx";--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "reservation_id" uuid NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "organization_id" uuid NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "currency" text NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "subtotal_amount" integer NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "fees_amount" integer NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "taxes_amount" integer NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "total_amount" integer NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "refunded_amount" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "buyer_name" text NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "buyer_email" text NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "attendees" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "expires_at" timestamp with time zone NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD CONSTRAINT "orders_reservation_id_reservations_id_fk" FOREIGN KEY ("reservation_id") REFERENCES "orders"."reservations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "reservations_live_idx" ON "orders"."reservations" USING btree ("event_id","expires_at") WHERE "orders"."reservations"."status" not in ('RELEASED', 'EXPIRED');--> statement-breakpoint
CREATE INDEX "orders_buyer_id_idx" ON "orders"."orders" USING btree ("buyer_id","id");--> statement-breakpoint
ALTER TABLE "orders"."orders" DROP COLUMN "ticket_type_id";--> statement-breakpoint
ALTER TABLE "orders"."orders" DROP COLUMN "quantity";--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD CONSTRAINT "orders_reservation_id_unique" UNIQUE("reservation_id");--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD CONSTRAINT "orders_amounts_not_negative" CHECK ("orders"."orders"."total_amount" >= 0 and "orders"."orders"."refunded_amount" >= 0);