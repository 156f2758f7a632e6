CREATE TYPE "orders"."offer_status" AS ENUM('DRAFT', 'PUBLISHED', 'CANCELLED', 'ENDED');--> statement-breakpoint
CREATE TYPE "orders"."reservation_status" AS ENUM('HELD', 'RELEASED', 'EXPIRED');--> statement-breakpoint
CREATE TABLE "orders"."offer_ticket_types" (
	"id" uuid PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"name" text NOT NULL,
	"price_amount" integer NOT NULL,
	"capacity" integer NOT NULL,
	"sales_start_at" timestamp with time zone,
	"sales_end_at" timestamp with time zone,
	"min_per_order" integer NOT NULL,
	"max_per_order" integer NOT NULL,
	"max_per_buyer" integer,
	"transferable" boolean NOT NULL,
	"hidden" boolean NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"withdrawn" boolean DEFAULT false NOT NULL,
	CONSTRAINT "offer_ticket_types_sold_not_negative" CHECK ("orders"."offer_ticket_types"."sold" >= 0)
);
--> statement-breakpoint
CREATE TABLE "orders"."offers" (
	"event_id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"title" text NOT NULL,
	"status" "orders"."offer_status" NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"timezone" text NOT NULL,
	"currency" text NOT NULL,
	"capacity" integer NOT NULL,
	"refund_policy" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "offers_capacity_positive" CHECK ("orders"."offers"."capacity" > 0)
);
--> statement-breakpoint
CREATE TABLE "orders"."reservation_items" (
	"reservation_id" uuid NOT NULL,
	"ticket_type_id" uuid NOT NULL,
	"quantity" integer NOT NULL,
	"unit_price_amount" integer NOT NULL,
	CONSTRAINT "reservation_items_reservation_id_ticket_type_id_pk" PRIMARY KEY("reservation_id","ticket_type_id"),
	CONSTRAINT "reservation_items_quantity_positive" CHECK ("orders"."reservation_items"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "orders"."reservations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"buyer_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"status" "orders"."reservation_status" DEFAULT 'HELD' NOT NULL,
	"currency" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "orders"."offer_ticket_types" ADD CONSTRAINT "offer_ticket_types_event_id_offers_event_id_fk" FOREIGN KEY ("event_id") REFERENCES "orders"."offers"("event_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."reservation_items" ADD CONSTRAINT "reservation_items_reservation_id_reservations_id_fk" FOREIGN KEY ("reservation_id") REFERENCES "orders"."reservations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."reservation_items" ADD CONSTRAINT "reservation_items_ticket_type_id_offer_ticket_types_id_fk" FOREIGN KEY ("ticket_type_id") REFERENCES "orders"."offer_ticket_types"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."reservations" ADD CONSTRAINT "reservations_event_id_offers_event_id_fk" FOREIGN KEY ("event_id") REFERENCES "orders"."offers"("event_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "offer_ticket_types_event_id_idx" ON "orders"."offer_ticket_types" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "reservation_items_ticket_type_id_idx" ON "orders"."reservation_items" USING btree ("ticket_type_id");--> statement-breakpoint
CREATE INDEX "reservations_held_idx" ON "orders"."reservations" USING btree ("event_id","expires_at") WHERE "orders"."reservations"."status" = 'HELD';--> statement-breakpoint
CREATE INDEX "reservations_buyer_id_idx" ON "orders"."reservations" USING btree ("buyer_id");