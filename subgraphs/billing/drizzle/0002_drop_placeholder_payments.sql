DROP TABLE "billing"."payments" CASCADE;--> statement-breakpoint
DROP TYPE "billing"."payment_provider";--> statement-breakpoint
DROP TYPE "billing"."payment_status";