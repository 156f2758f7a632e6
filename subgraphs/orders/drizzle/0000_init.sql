CREATE SCHEMA "orders";
--> statement-breakpoint
CREATE TYPE "orders"."order_status" AS ENUM('PENDING', 'PAID', 'CANCELLED', 'REFUNDED');--> statement-breakpoint
CREATE TABLE "orders"."orders" (
	"id" uuid PRIMARY KEY NOT NULL,
	"buyer_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"ticket_type_id" uuid NOT NULL,
	"quantity" integer NOT NULL,
	"status" "orders"."order_status" DEFAULT 'PENDING' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orders_quantity_positive" CHECK ("orders"."orders"."quantity" > 0)
);
--> statement-breakpoint
CREATE INDEX "orders_buyer_id_idx" ON "orders"."orders" USING btree ("buyer_id");--> statement-breakpoint
CREATE INDEX "orders_event_id_idx" ON "orders"."orders" USING btree ("event_id");