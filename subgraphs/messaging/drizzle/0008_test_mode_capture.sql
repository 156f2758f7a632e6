ALTER TYPE "messaging"."delivery_status" ADD VALUE 'CAPTURED';--> statement-breakpoint
CREATE TABLE "messaging"."test_messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"delivery_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"channel" "messaging"."notification_channel" NOT NULL,
	"recipient" text NOT NULL,
	"subject" text,
	"text" text NOT NULL,
	"html" text,
	"captured_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "test_messages_delivery_id_unique" UNIQUE("delivery_id")
);
--> statement-breakpoint
ALTER TABLE "messaging"."organization_names" ADD COLUMN "test_mode" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "messaging"."test_messages" ADD CONSTRAINT "test_messages_delivery_id_deliveries_id_fk" FOREIGN KEY ("delivery_id") REFERENCES "messaging"."deliveries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "test_messages_organization_id_captured_at_idx" ON "messaging"."test_messages" USING btree ("organization_id","captured_at");