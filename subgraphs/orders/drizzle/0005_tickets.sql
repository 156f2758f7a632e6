CREATE TYPE "orders"."ticket_status" AS ENUM('VALID', 'CHECKED_IN', 'VOID', 'TRANSFERRED');--> statement-breakpoint
CREATE TABLE "orders"."ticket_signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"private_jwk_encrypted" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activates_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "orders"."tickets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"ticket_type_id" uuid NOT NULL,
	"attendee_name" text NOT NULL,
	"status" "orders"."ticket_status" DEFAULT 'VALID' NOT NULL,
	"code" text NOT NULL,
	"signed_payload" text NOT NULL,
	"kid" text NOT NULL,
	"checked_in_at" timestamp with time zone,
	"checked_in_gate" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tickets_code_unique" UNIQUE("code"),
	CONSTRAINT "tickets_checked_in_has_time" CHECK ("orders"."tickets"."status" <> 'CHECKED_IN' or "orders"."tickets"."checked_in_at" is not null)
);
--> statement-breakpoint
ALTER TABLE "orders"."tickets" ADD CONSTRAINT "tickets_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."tickets" ADD CONSTRAINT "tickets_kid_ticket_signing_keys_kid_fk" FOREIGN KEY ("kid") REFERENCES "orders"."ticket_signing_keys"("kid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "tickets_order_id_idx" ON "orders"."tickets" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "tickets_event_id_idx" ON "orders"."tickets" USING btree ("event_id","status");