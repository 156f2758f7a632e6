import type { Transaction } from '@bilten/platform';
import { asc, eq } from 'drizzle-orm';
import { auditLog, eventVersions } from './schema.ts';

// What catalog holds about a person: only their id as the actor of changes (with the address and
// browser of the audit entries). Events belong to organizations, not to the people who edited them.

/** The audit entries and event versions the user made, oldest first. */
export async function personalRecordsOf(tx: Transaction, userId: string) {
  const [audit, versions] = await Promise.all([
    tx
      .select({
        id: auditLog.id,
        occurredAt: auditLog.occurredAt,
        action: auditLog.action,
        targetType: auditLog.targetType,
        targetId: auditLog.targetId,
        organizationId: auditLog.scopeId,
        requestId: auditLog.requestId,
        ip: auditLog.ip,
        userAgent: auditLog.userAgent,
      })
      .from(auditLog)
      .where(eq(auditLog.actorId, userId))
      .orderBy(asc(auditLog.occurredAt), asc(auditLog.id)),
    tx
      .select({
        eventId: eventVersions.eventId,
        version: eventVersions.version,
        action: eventVersions.action,
        createdAt: eventVersions.createdAt,
      })
      .from(eventVersions)
      .where(eq(eventVersions.actorId, userId))
      .orderBy(asc(eventVersions.createdAt), asc(eventVersions.eventId), asc(eventVersions.version)),
  ]);
  return { audit, versions };
}

/**
 * The user's trace as an actor removed: the entries and versions stay (the organization's
 * history of its events), without who made them, from where or with which browser.
 */
export async function anonymizeActor(tx: Transaction, userId: string) {
  const audit = await tx
    .update(auditLog)
    .set({ actorId: null, ip: null, userAgent: null })
    .where(eq(auditLog.actorId, userId))
    .returning({ id: auditLog.id });
  const versions = await tx
    .update(eventVersions)
    .set({ actorId: null })
    .where(eq(eventVersions.actorId, userId))
    .returning({ eventId: eventVersions.eventId });
  return { audit: audit.length, versions: versions.length };
}
