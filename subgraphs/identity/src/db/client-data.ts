import {
  columnAad,
  type Database,
  type EncryptedColumn,
  erasedAsNull,
  type PersonKeys,
  sealPlaintextRows,
  type Transaction,
} from '@bilten/platform';
import { and, eq, isNotNull, notLike, or } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import {
  type ConsentRow,
  consentHistory,
  consents,
  type SealedConsentRow,
  type SessionRow,
  sessions,
} from './schema.ts';

// The client addresses and user agents identity keeps beyond its logs (a session's, the one a
// consent came from) are sealed under the user's key (issue 18): erasure destroys the key, and a
// destroyed key reads as null. Security events keep their address in clear (db/security.ts).

type Db = Database | Transaction;

const column = (table: string, name: string, key?: string): EncryptedColumn => ({
  schema: 'identity',
  table,
  column: name,
  ...(key ? { key } : {}),
});
const SESSION_IP = column('sessions', 'ip_sealed');
const SESSION_USER_AGENT = column('sessions', 'user_agent_sealed');
const CONSENT_IP = column('consents', 'ip_address_sealed', 'user_id:purpose:scope');
const CONSENT_HISTORY_IP = column('consent_history', 'ip_address_sealed');

const PLAINTEXT = 'p1.%';

const sealOrNull = (tx: Transaction, keys: PersonKeys, userId: string, value: string | null, aad: string) =>
  value === null ? null : keys.vault.encryptFor(tx, userId, value, aad);

/** The one place these columns are opened: null when absent or when the user's key was destroyed. */
async function openOrNull(db: Db, keys: PersonKeys, userId: string, value: string | null, aad: string) {
  if (value === null) return null;
  return erasedAsNull(() => keys.vault.decryptFor(db, userId, value, aad));
}

const consentKey = (row: { userId: string; purpose: string; scope: string }) =>
  `${row.userId}:${row.purpose}:${row.scope}`;

/** A session's client columns, sealed for its user. */
export async function sealSessionClient(
  tx: Transaction,
  keys: PersonKeys,
  session: { id: string; userId: string; ip: string | null; userAgent: string | null },
) {
  return {
    ipSealed: await sealOrNull(tx, keys, session.userId, session.ip, columnAad(SESSION_IP, session.id)),
    userAgentSealed: await sealOrNull(
      tx,
      keys,
      session.userId,
      session.userAgent,
      columnAad(SESSION_USER_AGENT, session.id),
    ),
  };
}

export type OpenedSession = Omit<SessionRow, 'ipSealed' | 'userAgentSealed'> & {
  ip: string | null;
  userAgent: string | null;
};

export async function openSession(db: Db, keys: PersonKeys, row: SessionRow): Promise<OpenedSession> {
  const { ipSealed, userAgentSealed, ...rest } = row;
  const [ip, userAgent] = await Promise.all([
    openOrNull(db, keys, row.userId, ipSealed, columnAad(SESSION_IP, row.id)),
    openOrNull(db, keys, row.userId, userAgentSealed, columnAad(SESSION_USER_AGENT, row.id)),
  ]);
  return { ...rest, ip, userAgent };
}

/** The sealed address of a consent and of its history entry (each bound to its own row). */
export async function sealConsentIp(tx: Transaction, keys: PersonKeys, row: ConsentRow, historyId: string) {
  return {
    current: await sealOrNull(tx, keys, row.userId, row.ipAddress, columnAad(CONSENT_IP, consentKey(row))),
    history: await sealOrNull(tx, keys, row.userId, row.ipAddress, columnAad(CONSENT_HISTORY_IP, historyId)),
  };
}

export async function openConsent(db: Db, keys: PersonKeys, row: SealedConsentRow): Promise<ConsentRow> {
  const { ipAddressSealed, ...rest } = row;
  const aad = columnAad(CONSENT_IP, consentKey(row));
  return { ...rest, ipAddress: await openOrNull(db, keys, row.userId, ipAddressSealed, aad) };
}

type SealedChange = typeof consentHistory.$inferSelect;
export type ConsentChangeRow = Omit<SealedChange, 'ipAddressSealed'> & { ipAddress: string | null };

export async function openConsentChange(
  db: Db,
  keys: PersonKeys,
  row: SealedChange,
): Promise<ConsentChangeRow> {
  const { ipAddressSealed, ...rest } = row;
  const aad = columnAad(CONSENT_HISTORY_IP, row.id);
  return { ...rest, ipAddress: await openOrNull(db, keys, row.userId, ipAddressSealed, aad) };
}

/**
 * The data migration of rows written before their client data was sealed (migration 0013 renamed
 * the plaintext columns to `*_sealed`): seals them, nulls staying null. Run in setup, before serving.
 */
export async function sealPlaintextClientData(db: Database, keys: PersonKeys, batchSize = 500) {
  return {
    sessions: await sealPlaintextRows(db, (tx, limit) => sealSessionBatch(tx, keys, limit), batchSize),
    consents: await sealPlaintextRows(db, (tx, limit) => sealConsentBatch(tx, keys, limit), batchSize),
    consentHistory: await sealPlaintextRows(db, (tx, limit) => sealHistoryBatch(tx, keys, limit), batchSize),
  };
}

const plaintext = (value: AnyPgColumn) => and(isNotNull(value), notLike(value, PLAINTEXT));

async function sealSessionBatch(tx: Transaction, keys: PersonKeys, limit: number) {
  const rows = await tx
    .select()
    .from(sessions)
    .where(or(plaintext(sessions.ipSealed), plaintext(sessions.userAgentSealed)))
    .limit(limit)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const seal = (value: string | null, sealed: EncryptedColumn) =>
      value === null || keys.vault.isEncrypted(value)
        ? value
        : keys.vault.encryptFor(tx, row.userId, value, columnAad(sealed, row.id));
    await tx
      .update(sessions)
      .set({
        ipSealed: await seal(row.ipSealed, SESSION_IP),
        userAgentSealed: await seal(row.userAgentSealed, SESSION_USER_AGENT),
      })
      .where(eq(sessions.id, row.id));
  }
  return rows.length;
}

async function sealConsentBatch(tx: Transaction, keys: PersonKeys, limit: number) {
  const rows = await tx
    .select()
    .from(consents)
    .where(plaintext(consents.ipAddressSealed))
    .limit(limit)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const aad = columnAad(CONSENT_IP, consentKey(row));
    await tx
      .update(consents)
      .set({ ipAddressSealed: await sealOrNull(tx, keys, row.userId, row.ipAddressSealed, aad) })
      .where(
        and(
          eq(consents.userId, row.userId),
          eq(consents.purpose, row.purpose),
          eq(consents.scope, row.scope),
        ),
      );
  }
  return rows.length;
}

async function sealHistoryBatch(tx: Transaction, keys: PersonKeys, limit: number) {
  const rows = await tx
    .select()
    .from(consentHistory)
    .where(plaintext(consentHistory.ipAddressSealed))
    .limit(limit)
    .for('update', { skipLocked: true });
  for (const row of rows) {
    const aad = columnAad(CONSENT_HISTORY_IP, row.id);
    await tx
      .update(consentHistory)
      .set({ ipAddressSealed: await sealOrNull(tx, keys, row.userId, row.ipAddressSealed, aad) })
      .where(eq(consentHistory.id, row.id));
  }
  return rows.length;
}
