ALTER TYPE "orders"."refund_reason" ADD VALUE 'DUPLICATE_PAYMENT';--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "paid_payment_id" uuid;--> statement-breakpoint
ALTER TABLE "orders"."reservations" ADD COLUMN "guest_client_key" text;--> statement-breakpoint
ALTER TABLE "orders"."reservations" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "reservations_buyer_idempotency_key" ON "orders"."reservations" USING btree ("buyer_id","idempotency_key") WHERE "orders"."reservations"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "reservations_guest_client_idx" ON "orders"."reservations" USING btree ("event_id","guest_client_key") WHERE "orders"."reservations"."guest_client_key" is not null;