import { hkdfSync } from 'node:crypto';
import type postgres from 'postgres';
import { z } from 'zod';
import { ConfigError } from './config.ts';
import { seal, unseal } from './sealing.ts';

/**
 * Encryption at rest of stored secrets and personal data: AES-256-GCM with a random IV, the id of
 * its key beside the ciphertext, and additional data binding it to its row, so a value copied to
 * another row or column does not decrypt. Several keys at once: the first encrypts, all decrypt,
 * and `npm run keys:rotate` re-encrypts every registered column under the first.
 *
 * A value reads `v1.<kid>.<base64url(iv ‖ tag ‖ ciphertext)>`.
 */
const VERSION = 'v1';
const KID = /^[A-Za-z0-9_-]{1,32}$/;

/** The variable every service that encrypts reads: add it to its `serviceEnv`. */
export const dataEncryptionEnv = {
  /**
   * `kid:base64-key` pairs, comma-separated, or a JSON object `{"kid": "base64-key"}`; 32-byte
   * keys, the first encrypts. Required in production.
   */
  DATA_ENCRYPTION_KEYS: z.string().optional(),
};

// Outside production, one fixed key, so a laptop needs no configuration; never valid in production.
const DEVELOPMENT_KID = 'dev';
const developmentKey = () =>
  Buffer.from(hkdfSync('sha256', 'bilten-development-data-key', 'bilten', 'data-encryption', 32));

export interface KeyRing {
  /** The id of the key `encrypt` uses. */
  readonly currentKid: string;
  /** `plaintext` encrypted under the current key, bound to `aad` (e.g. `columnAad(column, id)`). */
  encrypt(plaintext: string, aad: string): string;
  /** The plaintext of a value encrypted under any key of the ring; throws when tampered with, bound elsewhere or of an unknown key. */
  decrypt(value: string, aad: string): string;
  /** Whether `value` is encrypted under another key than the current one. */
  needsRotation(value: string): boolean;
}

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

/** The keys of `DATA_ENCRYPTION_KEYS`, in order; throws ConfigError naming the variable, never a key. */
export function parseDataKeys(
  text: string,
  variable = 'DATA_ENCRYPTION_KEYS',
): Array<[kid: string, key: Buffer]> {
  let pairs: Array<[string, unknown]>;
  if (text.trim().startsWith('{')) {
    try {
      pairs = Object.entries(JSON.parse(text) as Record<string, unknown>);
    } catch {
      throw new ConfigError([`${variable}: not valid JSON`]);
    }
  } else {
    pairs = text
      .split(',')
      .filter((pair) => pair.trim())
      .map((pair) => {
        const colon = pair.indexOf(':');
        return colon < 0
          ? [pair.trim(), undefined]
          : [pair.slice(0, colon).trim(), pair.slice(colon + 1).trim()];
      });
  }
  const problems: string[] = [];
  const keys: Array<[string, Buffer]> = [];
  for (const [kid, encoded] of pairs) {
    if (!KID.test(kid)) {
      problems.push(
        `${variable}: key ids must be 1–32 letters, digits, "-" or "_" (got ${JSON.stringify(kid.slice(0, 40))})`,
      );
      continue;
    }
    const key = typeof encoded === 'string' ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (key.length !== 32)
      problems.push(`${variable}: key "${kid}" must be 32 bytes in base64 (openssl rand -base64 32)`);
    else if (keys.some(([seen]) => seen === kid)) problems.push(`${variable}: key id "${kid}" appears twice`);
    else keys.push([kid, key]);
  }
  if (!problems.length && !keys.length) problems.push(`${variable}: names no key`);
  if (problems.length) throw new ConfigError(problems);
  return keys;
}

/** A key ring of these keys, the first current. */
export function createKeyRing(keys: Array<[kid: string, key: Buffer]>): KeyRing {
  if (!keys.length) throw new Error('a key ring needs at least one key');
  const byKid = new Map(keys);
  const [currentKid, currentKey] = keys[0]!;
  const parts = (value: string) => {
    const [version, kid, body, extra] = value.split('.');
    if (version !== VERSION || !kid || !body || extra !== undefined) {
      throw new DecryptionError('not a value encrypted by this platform (expected v1.<kid>.<data>)');
    }
    return { kid, body };
  };
  return {
    currentKid,
    encrypt: (plaintext, aad) => `${VERSION}.${currentKid}.${seal(currentKey, plaintext, aad)}`,
    decrypt(value, aad) {
      const { kid, body } = parts(value);
      const key = byKid.get(kid);
      if (!key)
        throw new DecryptionError(`encrypted under key "${kid}", which DATA_ENCRYPTION_KEYS does not hold`);
      try {
        return unseal(key, body, aad);
      } catch {
        throw new DecryptionError(
          `a value under key "${kid}" does not decrypt: altered, or bound to another row`,
        );
      }
    },
    needsRotation: (value) => parts(value).kid !== currentKid,
  };
}

/** The ring of `DATA_ENCRYPTION_KEYS`: required in production, a fixed development key elsewhere. */
export function keyRingFromEnv(env: {
  NODE_ENV: string;
  DATA_ENCRYPTION_KEYS?: string | undefined;
}): KeyRing {
  if (env.DATA_ENCRYPTION_KEYS?.trim()) return createKeyRing(parseDataKeys(env.DATA_ENCRYPTION_KEYS));
  if (env.NODE_ENV === 'production') throw new ConfigError(['DATA_ENCRYPTION_KEYS: required in production']);
  return createKeyRing([[DEVELOPMENT_KID, developmentKey()]]);
}

/**
 * A column holding `KeyRing.encrypt` values, each bound to `columnAad(column, <its row's key>)`.
 * Each subgraph lists its own in one exported `encryptedColumns` (from its `src/server.ts`);
 * `npm run keys:rotate` takes them all.
 */
export interface EncryptedColumn {
  schema: string;
  table: string;
  column: string;
  /** The row's primary key column, one column, compared as text (default `id`). */
  key?: string;
}

/** The additional data binding a value to its row and column, e.g. `billing.payments.payment_method_token_sealed:<id>`. */
export function columnAad(column: EncryptedColumn, rowKey: string): string {
  return `${column.schema}.${column.table}.${column.column}:${rowKey}`;
}

export interface RotationResult {
  column: string;
  /** Rows re-encrypted under the current key. */
  rotated: number;
  /** Row keys whose value did not decrypt (altered, or under a key the ring lacks): left as they were. */
  failed: string[];
  /** The table does not exist in this database (its subgraph's migrations never ran here). */
  missing?: boolean;
}

/**
 * Re-encrypts, under the ring's current key, every value of `columns` under another key, in
 * batches of `batchSize` rows, one short transaction each. A value that changed meanwhile keeps
 * its new content (the update compares it); running it again after a failure is safe.
 */
export async function rotateEncryptedColumns(
  sql: postgres.Sql,
  ring: KeyRing,
  columns: EncryptedColumn[],
  {
    batchSize = 500,
    onBatch,
  }: { batchSize?: number; onBatch?: (column: string, rotated: number) => void } = {},
): Promise<RotationResult[]> {
  const results: RotationResult[] = [];
  for (const column of columns) {
    const name = `${column.schema}.${column.table}.${column.column}`;
    const table = `${column.schema}.${column.table}`;
    const key = column.key ?? 'id';
    const [exists] = await sql<{ found: string | null }[]>`select to_regclass(${table}) as found`;
    const result: RotationResult = { column: name, rotated: 0, failed: [] };
    results.push(result);
    if (!exists?.found) {
      result.missing = true;
      continue;
    }
    const current = `${VERSION}.${ring.currentKid}.%`;
    let after: string | null = null;
    for (;;) {
      const rotated = await sql.begin(async (tx) => {
        const rows = await tx<{ key: string; value: string }[]>`
          select ${tx(key)}::text as key, ${tx(column.column)} as value from ${tx(table)}
          where ${tx(column.column)} is not null and ${tx(column.column)} not like ${current}
            and (${after}::text is null or ${tx(key)} > ${after})
          order by ${tx(key)} limit ${batchSize} for update`;
        let count = 0;
        for (const row of rows) {
          after = row.key;
          let value: string;
          try {
            value = ring.encrypt(
              ring.decrypt(row.value, columnAad(column, row.key)),
              columnAad(column, row.key),
            );
          } catch {
            result.failed.push(row.key);
            continue;
          }
          const updated = await tx`
            update ${tx(table)} set ${tx(column.column)} = ${value}
            where ${tx(key)} = ${row.key} and ${tx(column.column)} = ${row.value}`;
          count += updated.count;
        }
        return { rows: rows.length, count };
      });
      result.rotated += rotated.count;
      if (rotated.count) onBatch?.(name, rotated.count);
      if (rotated.rows < batchSize) break;
    }
  }
  return results;
}
