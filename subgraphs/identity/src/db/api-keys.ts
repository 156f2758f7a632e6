import type { Database, Transaction } from '@bilten/platform';
import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { type ApiKeyRow, apiKeys, organizations } from './schema.ts';

type Db = Database | Transaction;

export async function insertApiKey(db: Db, row: typeof apiKeys.$inferInsert): Promise<ApiKeyRow> {
  const [key] = await db.insert(apiKeys).values(row).returning();
  return key!;
}

export async function apiKeyById(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  const [key] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return key;
}

export async function revokeApiKeyRow(db: Db, id: string): Promise<ApiKeyRow> {
  const [key] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning();
  return key!;
}

const sandboxes = alias(organizations, 'sandboxes');

/**
 * A live key by the hash of its secret (a revoked one is as good as unknown), with what decides
 * where it acts: whether its organization is in test mode, and that one's sandbox, if opened.
 */
export async function activeApiKeyBySecretHash(
  db: Db,
  hash: string,
): Promise<{ key: ApiKeyRow; testMode: boolean; sandboxId: string | null } | undefined> {
  const [found] = await db
    .select({ key: apiKeys, testMode: organizations.testMode, sandboxId: sandboxes.id })
    .from(apiKeys)
    .innerJoin(organizations, eq(organizations.id, apiKeys.organizationId))
    .leftJoin(sandboxes, eq(sandboxes.sandboxOf, apiKeys.organizationId))
    .where(and(eq(apiKeys.secretHash, hash), isNull(apiKeys.revokedAt)));
  return found;
}

export async function setApiKeyPlanRow(db: Db, id: string, plan: string): Promise<ApiKeyRow | undefined> {
  const [key] = await db.update(apiKeys).set({ plan }).where(eq(apiKeys.id, id)).returning();
  return key;
}

/** At most one write per key and minute, however often the key is used. */
export async function touchApiKey(db: Db, id: string) {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: new Date() })
    .where(
      and(
        eq(apiKeys.id, id),
        or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`)),
      ),
    );
}

export const apiKeysOf = (db: Database, organizationId: string) =>
  db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.organizationId, organizationId))
    .orderBy(desc(apiKeys.createdAt));
