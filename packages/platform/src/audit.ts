import { and, desc, eq, lt } from 'drizzle-orm';
import { index, jsonb, type PgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { v7 as uuidv7 } from 'uuid';
import type { Viewer } from './auth.ts';
import type { Database, Transaction } from './db.ts';

/**
 * Who did what to which object, with the state before and after: one table per subgraph schema,
 * written in the transaction of the change so that no change goes unrecorded. `scope_id` is the
 * organization (or other tenant) whose admins may read the entry.
 */
export function auditTable(schema: PgSchema) {
  return schema.table(
    'audit_log',
    {
      id: uuid().primaryKey(),
      occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
      actorId: uuid('actor_id'),
      action: text().notNull(),
      targetType: text('target_type').notNull(),
      targetId: text('target_id').notNull(),
      scopeId: uuid('scope_id'),
      before: jsonb(),
      after: jsonb(),
      requestId: text('request_id'),
      ip: text(),
      userAgent: text('user_agent'),
    },
    (table) => [
      index('audit_log_scope_idx').on(table.scopeId, table.id),
      index('audit_log_target_idx').on(table.targetType, table.targetId),
    ],
  );
}

export type AuditTable = ReturnType<typeof auditTable>;
export type AuditRow = AuditTable['$inferSelect'];

export interface AuditEntry {
  /** The caller (a user or an API key); anonymous and system actions are recorded without an actor. */
  actor: Viewer | null;
  /** `<target>.<verb>`, e.g. `event.published`. */
  action: string;
  targetType: string;
  targetId: string;
  /** The tenant whose admins may read the entry (an organization id), if any. */
  scopeId?: string | null;
  before?: unknown;
  after?: unknown;
  requestId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

/** Who an audit entry or a version names: a user, or a third party by its API key's id. */
export const actorIdOf = (viewer: Viewer | null) =>
  viewer?.kind === 'user' ? viewer.userId : viewer?.kind === 'apiKey' ? viewer.keyId : null;

/** `audit(tx, entry)` bound to a subgraph's own `audit_log` table. */
export function auditWriter(table: AuditTable) {
  return async function audit(tx: Transaction | Database, entry: AuditEntry): Promise<void> {
    await tx.insert(table).values({
      id: uuidv7(),
      actorId: actorIdOf(entry.actor),
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      scopeId: entry.scopeId ?? null,
      before: entry.before ?? null,
      after: entry.after ?? null,
      requestId: entry.requestId ?? null,
      ip: entry.ip ?? null,
      userAgent: entry.userAgent ?? null,
    });
  };
}

/** One scope's entries, newest first, keyset on the time-ordered id. */
export function auditEntriesOf(
  db: Database,
  table: AuditTable,
  scopeId: string,
  limit: number,
  beforeId?: string,
) {
  return db
    .select()
    .from(table)
    .where(and(eq(table.scopeId, scopeId), beforeId ? lt(table.id, beforeId) : undefined))
    .orderBy(desc(table.id))
    .limit(limit);
}
