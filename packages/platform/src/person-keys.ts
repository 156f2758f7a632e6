import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { and, asc, eq, gt, inArray, isNull, ne, sql } from 'drizzle-orm';
import { check, getTableConfig, type PgSchema, text, timestamp } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { ConfigError } from './config.ts';
import type { Database, Transaction } from './db.ts';
import { DecryptionError, parseDataKeys } from './encryption.ts';
import { seal, unseal } from './sealing.ts';

/**
 * Per-person envelope encryption (issue 18, "Encryption at rest, per person"): each person has a
 * random 32-byte data key per subgraph schema, stored only wrapped by a versioned key-encryption
 * key (KEK). Personal data is sealed with AES-256-GCM under the person's data key; destroying that
 * key (`shred`) makes every copy of their data unreadable, backups included. KEK rotation re-wraps
 * the keys table only, never the data. Equality lookups use a keyed blind index. See docs/person-keys.md.
 *
 * A value reads `p1.<key tag>.<base64url(iv ‖ tag ‖ ciphertext)>`: the key tag names the data key
 * (a fingerprint of it, not the person), so the value holds no person id and one copied to
 * another person's row does not decrypt.
 */
const VERSION = 'p1';

/** The variables a service that encrypts per person reads: add them to its `serviceEnv`. */
export const personKeysEnv = {
  /** Key-encryption keys, `kid:base64-key` pairs (or a JSON object), 32 bytes each, the first wraps. Required in production. */
  PERSON_KEK_KEYS: z.string().optional(),
  /** Blind-index secrets, `version:base64-secret` pairs, the first computes new indexes. Required in production. */
  BLIND_INDEX_KEY: z.string().optional(),
};

export class PersonDataErasedError extends Error {
  constructor() {
    super("this person's data key was destroyed (erased): the value can never be read again");
    this.name = 'PersonDataErasedError';
  }
}

/**
 * Where KEKs live. The config implementation holds them in memory; a KMS implementation
 * (AWS KMS Encrypt/Decrypt, Vault transit…) implements the same three members by calling the
 * KMS with `aad` as its encryption context, so the KEK never leaves it.
 */
export interface KeyEncryptionKeys {
  /** The id of the KEK new and re-wrapped data keys are wrapped under. */
  readonly currentId: string;
  wrap(id: string, dataKey: Buffer, aad: string): Promise<string> | string;
  /** Throws DecryptionError when the KEK is unknown, wrong, or the wrapped key was altered or bound elsewhere. */
  unwrap(id: string, wrapped: string, aad: string): Promise<Buffer> | Buffer;
}

/** KEKs given in configuration (`PERSON_KEK_KEYS`), the first current. */
export function configKeyEncryptionKeys(keys: Array<[id: string, key: Buffer]>): KeyEncryptionKeys {
  if (!keys.length) throw new Error('key-encryption keys need at least one key');
  const byId = new Map(keys);
  const keyOf = (id: string) => {
    const key = byId.get(id);
    if (!key)
      throw new DecryptionError(
        `a data key is wrapped under KEK "${id}", which PERSON_KEK_KEYS does not hold`,
      );
    return key;
  };
  return {
    currentId: keys[0]![0],
    wrap: (id, dataKey, aad) => seal(keyOf(id), dataKey.toString('base64'), aad),
    unwrap(id, wrapped, aad) {
      const key = keyOf(id);
      try {
        return Buffer.from(unseal(key, wrapped, aad), 'base64');
      } catch {
        throw new DecryptionError(
          `a data key does not unwrap under KEK "${id}": wrong key-encryption key, or the wrapped key was altered or moved`,
        );
      }
    },
  };
}

/** The KEKs of `PERSON_KEK_KEYS`: required in production, a fixed development key elsewhere. */
export function keyEncryptionKeysFromEnv(env: {
  NODE_ENV: string;
  PERSON_KEK_KEYS?: string | undefined;
}): KeyEncryptionKeys {
  if (env.PERSON_KEK_KEYS?.trim())
    return configKeyEncryptionKeys(parseDataKeys(env.PERSON_KEK_KEYS, 'PERSON_KEK_KEYS'));
  if (env.NODE_ENV === 'production') throw new ConfigError(['PERSON_KEK_KEYS: required in production']);
  const development = hkdfSync('sha256', 'bilten-development-person-kek', 'bilten', 'person-kek', 32);
  return configKeyEncryptionKeys([['dev', Buffer.from(development)]]);
}

/**
 * `<schema>.person_keys`: one row per person, the data key wrapped under KEK `kek_id`; after
 * shredding both are null and `destroyed_at` set. `person_id` is text, so a subgraph can key
 * people without an account (guests) by a blind index of their address.
 */
export function personKeyTable(schema: PgSchema) {
  return schema.table(
    'person_keys',
    {
      personId: text('person_id').primaryKey(),
      kekId: text('kek_id'),
      wrappedKey: text('wrapped_key'),
      createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
      destroyedAt: timestamp('destroyed_at', { withTimezone: true }),
    },
    (table) => [
      check(
        'person_keys_live_or_destroyed',
        sql`(${table.destroyedAt} is null and ${table.kekId} is not null and ${table.wrappedKey} is not null)
          or (${table.destroyedAt} is not null and ${table.kekId} is null and ${table.wrappedKey} is null)`,
      ),
    ],
  );
}

export type PersonKeyTable = ReturnType<typeof personKeyTable>;

export interface PersonVault {
  /** `plaintext` sealed under the person's data key (created on first use), bound to `aad` (e.g. `columnAad(column, rowId)`). */
  encryptFor(tx: Transaction, personId: string, plaintext: string, aad: string): Promise<string>;
  /** The plaintext; PersonDataErasedError when the person's key was destroyed, DecryptionError when altered or bound elsewhere. */
  decryptFor(db: Database | Transaction, personId: string, value: string, aad: string): Promise<string>;
  /** Destroys the person's data key (idempotent); true when a live key was destroyed by this call. */
  shred(tx: Transaction, personId: string): Promise<boolean>;
  /**
   * Reads the live keys of `personIds` not cached yet in one statement, so sealing or opening a
   * batch (a fan-out, a page) costs no read per person. People without a key are left to the
   * first `encryptFor`, erased ones to the error it throws.
   */
  warm(db: Database | Transaction, personIds: string[]): Promise<void>;
  /** Whether the person was erased here (their key destroyed): events arriving late for them must change nothing. */
  isShredded(db: Database | Transaction, personId: string): Promise<boolean>;
  /** Re-wraps every live data key under the current KEK, in batches; keys that do not unwrap are listed, left as they were. */
  rewrap(db: Database, options?: { batchSize?: number }): Promise<{ rewrapped: number; failed: string[] }>;
  /** Whether `value` looks like a value of this vault (to tell encrypted rows from plaintext during a migration). */
  isEncrypted(value: string): boolean;
}

export interface PersonVaultOptions {
  db: Database;
  table: PersonKeyTable;
  keks: KeyEncryptionKeys;
  /**
   * After `shred`, `encryptFor` refuses (PersonDataErasedError: data arriving late for an erased
   * person must not come back) unless `renewAfterShred`, which gives the person a fresh key —
   * for people keyed by a blind index who may return (a guest buying again after erasure).
   */
  renewAfterShred?: boolean;
  cache?: { size?: number; ttlMs?: number; now?: () => number };
}

interface DataKey {
  key: Buffer;
  tag: string;
}

const keyTag = (key: Buffer) =>
  createHmac('sha256', key).update('bilten-person-key-tag').digest().subarray(0, 8).toString('base64url');

/**
 * Unwrapped keys are cached per process (LRU, `ttlMs`, default 60 s) so reading a page of rows
 * unwraps each person's key once. `shred` evicts the key here at once; another replica may keep
 * a cached copy — and so read and write that person's data — for up to `ttlMs` after the shred.
 * That bound is the trade-off for not asking the keys table (or a KMS) on every field: keep the
 * TTL short. Data written meanwhile under the destroyed key is unreadable once caches expire.
 */
export function createPersonVault(options: PersonVaultOptions): PersonVault {
  const { table, keks } = options;
  const schemaName = getTableConfig(table).schema ?? 'public';
  const wrapAad = (personId: string) => `${schemaName}.person_keys:${personId}`;
  const size = options.cache?.size ?? 1000;
  const ttlMs = options.cache?.ttlMs ?? 60_000;
  const now = options.cache?.now ?? Date.now;
  const cache = new Map<string, DataKey & { expiresAt: number }>();

  const cached = (personId: string): DataKey | undefined => {
    const entry = cache.get(personId);
    if (!entry) return undefined;
    cache.delete(personId);
    if (entry.expiresAt <= now()) return undefined;
    cache.set(personId, entry);
    return entry;
  };
  const remember = (personId: string, key: Buffer): DataKey => {
    const entry = { key, tag: keyTag(key), expiresAt: now() + ttlMs };
    cache.delete(personId);
    cache.set(personId, entry);
    if (cache.size > size) cache.delete(cache.keys().next().value!);
    return entry;
  };

  type Row = typeof table.$inferSelect;
  const readRow = async (db: Database | Transaction, personId: string): Promise<Row | undefined> =>
    (await db.select().from(table).where(eq(table.personId, personId)))[0];
  const unwrapRow = async (personId: string, row: Row): Promise<DataKey> => {
    if (row.destroyedAt || !row.kekId || !row.wrappedKey) throw new PersonDataErasedError();
    return remember(personId, await keks.unwrap(row.kekId, row.wrappedKey, wrapAad(personId)));
  };
  const newKeyValues = async (personId: string) => {
    const key = randomBytes(32);
    return {
      key,
      kekId: keks.currentId,
      wrappedKey: await keks.wrap(keks.currentId, key, wrapAad(personId)),
    };
  };

  async function keyForWriting(tx: Transaction, personId: string): Promise<DataKey> {
    const known = cached(personId);
    if (known) return known;
    const row = await readRow(tx, personId);
    if (row && !row.destroyedAt) return unwrapRow(personId, row);
    const fresh = await newKeyValues(personId);
    if (row) {
      if (!options.renewAfterShred) throw new PersonDataErasedError();
      // Only one of concurrent renewals wins (the condition); the others read its key below.
      await tx
        .update(table)
        .set({ kekId: fresh.kekId, wrappedKey: fresh.wrappedKey, destroyedAt: null, createdAt: new Date() })
        .where(and(eq(table.personId, personId), sql`${table.destroyedAt} is not null`));
    } else {
      // Concurrent first uses agree on one key: the losers' inserts wait for the winner's commit,
      // do nothing, and the read below (a new snapshot under READ COMMITTED) finds its row.
      await tx
        .insert(table)
        .values({ personId, kekId: fresh.kekId, wrappedKey: fresh.wrappedKey })
        .onConflictDoNothing();
    }
    const winner = await readRow(tx, personId);
    if (!winner) throw new Error(`the data key of a person vanished while being created in ${schemaName}`);
    return unwrapRow(personId, winner);
  }

  const parts = (value: string) => {
    const [version, tag, body, extra] = value.split('.');
    if (version !== VERSION || !tag || !body || extra !== undefined)
      throw new DecryptionError('not a value encrypted per person (expected p1.<key tag>.<data>)');
    return { tag, body };
  };

  return {
    async encryptFor(tx, personId, plaintext, aad) {
      const { key, tag } = await keyForWriting(tx, personId);
      return `${VERSION}.${tag}.${seal(key, plaintext, aad)}`;
    },

    async decryptFor(db, personId, value, aad) {
      const { tag, body } = parts(value);
      let dataKey = cached(personId);
      // A mismatch may be a key renewed by another replica since it was cached: read it again.
      if (!dataKey || dataKey.tag !== tag) {
        const row = await readRow(db, personId);
        if (!row) throw new DecryptionError(`no data key for this person in ${schemaName}.person_keys`);
        dataKey = await unwrapRow(personId, row);
      }
      if (dataKey.tag !== tag)
        throw new DecryptionError(
          "a value under another data key: another person's, or one of a key destroyed before this person's key was renewed",
        );
      try {
        return unseal(dataKey.key, body, aad);
      } catch {
        throw new DecryptionError('a per-person value does not decrypt: altered, or bound to another row');
      }
    },

    async shred(tx, personId) {
      const destroyed = await tx
        .update(table)
        .set({ kekId: null, wrappedKey: null, destroyedAt: new Date() })
        .where(and(eq(table.personId, personId), isNull(table.destroyedAt)))
        .returning({ personId: table.personId });
      // A person erased before any key existed keeps a tombstone, so no key is made for them later.
      if (!destroyed.length)
        await tx.insert(table).values({ personId, destroyedAt: new Date() }).onConflictDoNothing();
      // After the update, so a concurrent read in this process cannot put the old key back.
      cache.delete(personId);
      return destroyed.length > 0;
    },

    async warm(db, personIds) {
      const missing = [...new Set(personIds)].filter((personId) => !cached(personId));
      if (!missing.length) return;
      const rows = await db
        .select()
        .from(table)
        .where(and(inArray(table.personId, missing), isNull(table.destroyedAt)));
      await Promise.all(rows.map((row) => unwrapRow(row.personId, row)));
    },

    async isShredded(db, personId) {
      return Boolean((await readRow(db, personId))?.destroyedAt);
    },

    async rewrap(db, { batchSize = 500 } = {}) {
      const result = { rewrapped: 0, failed: [] as string[] };
      let after = '';
      for (;;) {
        const batch = await db.transaction(async (tx) => {
          const rows = await tx
            .select()
            .from(table)
            .where(and(isNull(table.destroyedAt), ne(table.kekId, keks.currentId), gt(table.personId, after)))
            .orderBy(asc(table.personId))
            .limit(batchSize)
            .for('update');
          let count = 0;
          for (const row of rows) {
            after = row.personId;
            let wrappedKey: string;
            try {
              const key = await keks.unwrap(row.kekId!, row.wrappedKey!, wrapAad(row.personId));
              wrappedKey = await keks.wrap(keks.currentId, key, wrapAad(row.personId));
            } catch {
              result.failed.push(row.personId);
              continue;
            }
            const updated = await tx
              .update(table)
              .set({ kekId: keks.currentId, wrappedKey })
              .where(and(eq(table.personId, row.personId), isNull(table.destroyedAt)))
              .returning({ personId: table.personId });
            count += updated.length;
          }
          return { rows: rows.length, count };
        });
        result.rewrapped += batch.count;
        if (batch.rows < batchSize) return result;
      }
    },

    isEncrypted: (value) => value.startsWith(`${VERSION}.`) && value.split('.').length === 3,
  };
}

/** One version of the blind-index key: the version prefixes every index it computes. */
export interface BlindIndexKey {
  readonly version: string;
  readonly key: Buffer;
}

/** What is compared: emails are case-insensitive, other text keeps its case. */
export type BlindIndexKind = 'email' | 'text';

/** The keys of `BLIND_INDEX_KEY` (`version:base64-secret`, first current), each derived for HMAC; a fixed development key outside production. */
export function blindIndexKeysFromEnv(env: {
  NODE_ENV: string;
  BLIND_INDEX_KEY?: string | undefined;
}): BlindIndexKey[] {
  if (env.BLIND_INDEX_KEY?.trim())
    return parseDataKeys(env.BLIND_INDEX_KEY, 'BLIND_INDEX_KEY').map(([version, secret]) =>
      blindIndexKey(version, secret),
    );
  if (env.NODE_ENV === 'production') throw new ConfigError(['BLIND_INDEX_KEY: required in production']);
  return [blindIndexKey('dev', Buffer.from('bilten-development-blind-index'))];
}

/** The HMAC key of one version, derived from its secret (never the secret itself, which may serve elsewhere). */
export function blindIndexKey(version: string, secret: Buffer): BlindIndexKey {
  return { version, key: Buffer.from(hkdfSync('sha256', secret, 'bilten', `blind-index:${version}`, 32)) };
}

export function normalizeForIndex(value: string, kind: BlindIndexKind = 'text'): string {
  const normalized = value.normalize('NFKC').trim();
  return kind === 'email' ? normalized.toLowerCase() : normalized;
}

/** `<version>.<base64url(HMAC-SHA256(key, normalized value))>`: equal for equal values under one key, unlinkable without it. */
export function blindIndex(key: BlindIndexKey, value: string, kind: BlindIndexKind = 'text'): string {
  const mac = createHmac('sha256', key.key)
    .update(normalizeForIndex(value, kind), 'utf8')
    .digest('base64url');
  return `${key.version}.${mac}`;
}

/** The index of `value` under every key (current first): a lookup during a rotation matches either column. */
export function blindIndexes(keys: BlindIndexKey[], value: string, kind: BlindIndexKind = 'text'): string[] {
  return keys.map((key) => blindIndex(key, value, kind));
}

/** What a subgraph holding personal data builds once at start-up: its vault and its blind index. */
export interface PersonKeys {
  vault: PersonVault;
  /** The current blind index of `value`: what rows store and lookups compare. */
  index(value: string, kind?: BlindIndexKind): string;
  /** Its index under every configured key (current first), for lookups during a blind-index rotation. */
  indexes(value: string, kind?: BlindIndexKind): string[];
}

/** The vault over `table` and the blind index, both from `PERSON_KEK_KEYS` and `BLIND_INDEX_KEY`. */
export function personKeysFromEnv(
  db: Database,
  table: PersonKeyTable,
  env: { NODE_ENV: string; PERSON_KEK_KEYS?: string | undefined; BLIND_INDEX_KEY?: string | undefined },
  options: Pick<PersonVaultOptions, 'renewAfterShred' | 'cache'> = {},
): PersonKeys {
  const vault = createPersonVault({ db, table, keks: keyEncryptionKeysFromEnv(env), ...options });
  const keys = blindIndexKeysFromEnv(env);
  return {
    vault,
    index: (value, kind) => blindIndex(keys[0]!, value, kind),
    indexes: (value, kind) => blindIndexes(keys, value, kind),
  };
}

/**
 * A service's people: accounts by user id, whose keys never come back once destroyed (a late event
 * for an erased user stores nothing), and people without an account (guest buyers, a ticket's new
 * holder) by the blind index of their address, whose keys renew (a guest may buy again after
 * erasure). Both vaults share the service's one keys table.
 */
export interface People {
  users: PersonKeys;
  guests: PersonVault;
}

export function peopleFromEnv(
  db: Database,
  table: PersonKeyTable,
  env: Parameters<typeof personKeysFromEnv>[2],
): People {
  return {
    users: personKeysFromEnv(db, table, env),
    guests: personKeysFromEnv(db, table, env, { renewAfterShred: true }).vault,
  };
}

/** Whose key seals a value: an account (its user id) or a guest (the blind index of their address). */
export type Person = { userId: string } | { guestIndex: string };

/** The person of a row: its account when it has one, otherwise the guest its address names. */
export const personOf = (people: People, userId: string | null, address: string): Person =>
  userId ? { userId } : { guestIndex: people.users.index(address, 'email') };

const vaultOf = (people: People, person: Person): [PersonVault, string] =>
  'userId' in person ? [people.users.vault, person.userId] : [people.guests, person.guestIndex];

/** `plaintext` sealed under the person's key; null when the person was erased here (keep nothing of it). */
export async function sealFor(
  tx: Transaction,
  people: People,
  person: Person,
  plaintext: string,
  aad: string,
): Promise<string | null> {
  const [vault, personId] = vaultOf(people, person);
  return erasedAsNull(() => vault.encryptFor(tx, personId, plaintext, aad));
}

/** The plaintext; null when the person's key was destroyed (erased): show or send nothing of it. */
export async function openFor(
  db: Database | Transaction,
  people: People,
  person: Person,
  value: string,
  aad: string,
): Promise<string | null> {
  const [vault, personId] = vaultOf(people, person);
  return erasedAsNull(() => vault.decryptFor(db, personId, value, aad));
}

/** The one place an erased person's data reads as nothing instead of an error. */
export async function erasedAsNull<T>(use: () => Promise<T>): Promise<T | null> {
  try {
    return await use();
  } catch (error) {
    if (error instanceof PersonDataErasedError) return null;
    throw error;
  }
}

/**
 * The data migration that encrypts rows written before per-person keys: a service runs it in its
 * `setup`, after the schema migrations and before serving. `step` seals up to `batchSize` rows
 * still holding plaintext (select them `for update skip locked`, so replicas starting together
 * share the work) and returns how many it sealed; batches run in short transactions until a
 * batch comes back short. Idempotent: sealed rows are never selected again.
 */
export async function sealPlaintextRows(
  db: Database,
  step: (tx: Transaction, batchSize: number) => Promise<number>,
  batchSize = 500,
): Promise<number> {
  let sealed = 0;
  for (;;) {
    const count = await db.transaction((tx) => step(tx, batchSize));
    sealed += count;
    if (count < batchSize) return sealed;
  }
}
