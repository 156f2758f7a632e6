CREATE TYPE "orders"."event_cancellation_status" AS ENUM('RUNNING', 'DONE');--> statement-breakpoint
CREATE TABLE "orders"."event_cancellation_refunds" (
	"order_id" uuid PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"refund_id" uuid NOT NULL,
	"amount" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_cancellation_refunds_refund_id_unique" UNIQUE("refund_id")
);
--> statement-breakpoint
CREATE TABLE "orders"."event_cancellations" (
	"event_id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"status" "orders"."event_cancellation_status" DEFAULT 'RUNNING' NOT NULL,
	"holds_released" integer DEFAULT 0 NOT NULL,
	"orders_cancelled" integer DEFAULT 0 NOT NULL,
	"refunds_requested" integer DEFAULT 0 NOT NULL,
	"tickets_voided" integer DEFAULT 0 NOT NULL,
	"batches" integer DEFAULT 0 NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "orders"."event_cancellation_refunds" ADD CONSTRAINT "event_cancellation_refunds_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "event_cancellation_refunds_event_id_idx" ON "orders"."event_cancellation_refunds" USING btree ("event_id");