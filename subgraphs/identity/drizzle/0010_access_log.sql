CREATE TABLE "identity"."access_log" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"actor_id" text,
	"actor_kind" text NOT NULL,
	"subject_user_id" uuid NOT NULL,
	"organization_id" uuid,
	"purpose" text NOT NULL,
	"fields" text[] NOT NULL,
	"resource" text NOT NULL,
	"request_id" text,
	"service" text NOT NULL,
	"prev_hash" text NOT NULL,
	"row_hash" text NOT NULL,
	CONSTRAINT "access_log_seq_unique" UNIQUE("seq")
);
--> statement-breakpoint
CREATE INDEX "access_log_subject_idx" ON "identity"."access_log" USING btree ("subject_user_id","seq");--> statement-breakpoint
CREATE INDEX "access_log_actor_idx" ON "identity"."access_log" USING btree ("actor_id","seq");--> statement-breakpoint
CREATE INDEX "access_log_organization_idx" ON "identity"."access_log" USING btree ("organization_id","seq");--> statement-breakpoint
-- Hand-added (issue 18): the access log is append-only. The database refuses every UPDATE,
-- DELETE and TRUNCATE; a superuser who disables these triggers can still edit, which is what
-- `npm run audit:verify` (the hash chain) catches.
CREATE FUNCTION "identity"."access_log_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'identity.access_log is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;--> statement-breakpoint
CREATE TRIGGER "access_log_append_only" BEFORE UPDATE OR DELETE ON "identity"."access_log"
  FOR EACH ROW EXECUTE FUNCTION "identity"."access_log_refuse_change"();--> statement-breakpoint
CREATE TRIGGER "access_log_no_truncate" BEFORE TRUNCATE ON "identity"."access_log"
  FOR EACH STATEMENT EXECUTE FUNCTION "identity"."access_log_refuse_change"();
