import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@bilten/testkit';
import { expectNoCardNumbers } from '@bilten/testkit/checks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { connectDatabase, type DatabaseHandle } from '../src/db.ts';
import {
  columnAad,
  createKeyRing,
  DecryptionError,
  type EncryptedColumn,
  keyRingFromEnv,
  parseDataKeys,
  rotateEncryptedColumns,
} from '../src/encryption.ts';

const key = () => randomBytes(32);
const variable = (...keys: Array<[string, Buffer]>) =>
  keys.map(([kid, bytes]) => `${kid}:${bytes.toString('base64')}`).join(',');

describe('a key ring', () => {
  const old = key();
  const current = key();
  const ring = createKeyRing([['k2', current]]);

  it('encrypts with the key id beside the ciphertext, a fresh IV each time, and decrypts', () => {
    const one = ring.encrypt('pm_1Nabc', 'billing.payments.token:p-1');
    const two = ring.encrypt('pm_1Nabc', 'billing.payments.token:p-1');
    expect(one).toMatch(/^v1\.k2\.[A-Za-z0-9_-]+$/);
    expect(one).not.toBe(two);
    expect(one).not.toContain('pm_1Nabc');
    expect(ring.decrypt(one, 'billing.payments.token:p-1')).toBe('pm_1Nabc');
    expect(ring.needsRotation(one)).toBe(false);
  });

  it('refuses a value bound to another row, altered, or under a key it lacks, saying which', () => {
    const value = ring.encrypt('secret', 'row:1');
    expect(() => ring.decrypt(value, 'row:2')).toThrow(DecryptionError);
    const body = value.split('.')[2]!;
    const flipped = `${body.slice(0, -2)}${body.at(-2) === 'A' ? 'B' : 'A'}${body.at(-1)}`;
    expect(() => ring.decrypt(`v1.k2.${flipped}`, 'row:1')).toThrow(/does not decrypt/);
    const other = createKeyRing([['k9', key()]]).encrypt('secret', 'row:1');
    expect(() => ring.decrypt(other, 'row:1')).toThrow(/key "k9", which DATA_ENCRYPTION_KEYS does not hold/);
    expect(() => ring.decrypt('pm_plain', 'row:1')).toThrow(/not a value encrypted by this platform/);
    expect(() => ring.decrypt(value.replace('v1.k2.', 'v1.k1.'), 'row:1')).toThrow(DecryptionError);
  });

  it('holds several keys: encrypts with the first, decrypts with any, knows what to rotate', () => {
    const before = createKeyRing([['k1', old]]).encrypt('tok', 'a');
    const both = createKeyRing([
      ['k2', current],
      ['k1', old],
    ]);
    expect(both.decrypt(before, 'a')).toBe('tok');
    expect(both.needsRotation(before)).toBe(true);
    expect(both.needsRotation(both.encrypt('tok', 'a'))).toBe(false);
  });
});

describe('DATA_ENCRYPTION_KEYS', () => {
  const k1 = key();
  const k2 = key();

  it('reads a comma list or a JSON object, the first key current', () => {
    expect(parseDataKeys(variable(['k2', k2], ['k1', k1]))).toEqual([
      ['k2', k2],
      ['k1', k1],
    ]);
    const json = JSON.stringify({ k2: k2.toString('base64'), k1: k1.toString('base64') });
    expect(parseDataKeys(json).map(([kid]) => kid)).toEqual(['k2', 'k1']);
    expect(keyRingFromEnv({ NODE_ENV: 'production', DATA_ENCRYPTION_KEYS: json }).currentKid).toBe('k2');
  });

  it('is required in production; elsewhere a development key serves', () => {
    expect(() => keyRingFromEnv({ NODE_ENV: 'production' })).toThrow(
      'DATA_ENCRYPTION_KEYS: required in production',
    );
    const development = keyRingFromEnv({ NODE_ENV: 'development' });
    expect(development.currentKid).toBe('dev');
    // The same key in every process, so what one wrote the next reads.
    expect(keyRingFromEnv({ NODE_ENV: 'test' }).decrypt(development.encrypt('x', 'a'), 'a')).toBe('x');
  });

  it.each([
    ['a short key', `k1:${randomBytes(16).toString('base64')}`, 'key "k1" must be 32 bytes'],
    ['no key', 'k1', 'key "k1" must be 32 bytes'],
    ['a bad key id', `k.1:${key().toString('base64')}`, 'key ids must be'],
    ['a key id twice', variable(['k1', k1], ['k1', k2]), 'appears twice'],
    ['broken JSON', '{"k1":', 'not valid JSON'],
    ['nothing', ' , ', 'names no key'],
  ])('names the problem with %s, never the key', (_, text, problem) => {
    let error: unknown;
    try {
      parseDataKeys(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(problem);
    expect((error as Error).message).not.toContain(k1.toString('base64'));
  });
});

describe('rotation, on PostgreSQL', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  const k1 = key();
  const k2 = key();
  const column: EncryptedColumn = { schema: 'scratch', table: 'secrets', column: 'token_sealed' };
  const oldRing = createKeyRing([['k1', k1]]);
  const newRing = createKeyRing([
    ['k2', k2],
    ['k1', k1],
  ]);
  const ids = Array.from({ length: 25 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);

  beforeAll(async () => {
    database = await createTestDatabase();
    handle = connectDatabase({ url: database.url, poolSize: 2, applicationName: 'encryption-test' });
    await handle.sql`create schema scratch`;
    await handle.sql`create table scratch.secrets (id uuid primary key, token_sealed text)`;
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  const fill = async () => {
    await handle.sql`truncate scratch.secrets`;
    for (const id of ids) {
      const value = oldRing.encrypt(`tok_${id}`, columnAad(column, id));
      await handle.sql`insert into scratch.secrets values (${id}, ${value})`;
    }
    await handle.sql`insert into scratch.secrets values ('10000000-0000-4000-8000-000000000000', null)`;
  };
  const kids = async () =>
    (
      await handle.sql<{ kid: string | null }[]>`
      select split_part(token_sealed, '.', 2) as kid from scratch.secrets where token_sealed is not null`
    ).map((row) => row.kid);

  it('re-encrypts every row under the new key in batches; the values are the same; again does nothing', async () => {
    await fill();
    const batches: number[] = [];
    const [result] = await rotateEncryptedColumns(handle.sql, newRing, [column], {
      batchSize: 10,
      onBatch: (_, rotated) => batches.push(rotated),
    });
    expect(result).toEqual({ column: 'scratch.secrets.token_sealed', rotated: 25, failed: [] });
    expect(batches).toEqual([10, 10, 5]);
    expect(new Set(await kids())).toEqual(new Set(['k2']));
    const rows = await handle.sql<{ id: string; token_sealed: string }[]>`
      select id, token_sealed from scratch.secrets where token_sealed is not null`;
    // Only the new key is needed now.
    const k2Only = createKeyRing([['k2', k2]]);
    for (const row of rows)
      expect(k2Only.decrypt(row.token_sealed, columnAad(column, row.id))).toBe(`tok_${row.id}`);
    const [again] = await rotateEncryptedColumns(handle.sql, newRing, [column]);
    expect(again!.rotated).toBe(0);
  });

  it('leaves a value that does not decrypt as it was, names its row, and rotates the rest', async () => {
    await fill();
    const moved = ids[3]!;
    // A value copied from another row: bound to that row, it must not decrypt here.
    await handle.sql`update scratch.secrets set token_sealed = (select token_sealed from scratch.secrets where id = ${ids[4]!}) where id = ${moved}`;
    const [result] = await rotateEncryptedColumns(handle.sql, newRing, [column], { batchSize: 7 });
    expect(result).toMatchObject({ rotated: 24, failed: [moved] });
    expect((await kids()).filter((kid) => kid === 'k1')).toHaveLength(1);
  });

  it('skips a table this database does not have', async () => {
    const [result] = await rotateEncryptedColumns(handle.sql, newRing, [{ ...column, table: 'absent' }]);
    expect(result).toMatchObject({ missing: true, rotated: 0 });
  });

  it('is `npm run keys:rotate`: given columns, the keys from DATA_ENCRYPTION_KEYS', async () => {
    await fill();
    const run = promisify(execFile);
    const root = new URL('../../../', import.meta.url).pathname;
    const { stdout } = await run(
      'npx',
      ['tsx', 'stack/src/rotate-keys.ts', '--column', 'scratch.secrets.token_sealed'],
      {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          DATA_ENCRYPTION_KEYS: variable(['k2', k2], ['k1', k1]),
        },
      },
    );
    expect(stdout).toContain('scratch.secrets.token_sealed: 25 value(s) re-encrypted under key "k2"');
    expect(new Set(await kids())).toEqual(new Set(['k2']));
    expectNoCardNumbers([stdout]);
    const refused = run(
      process.execPath,
      ['--import', 'tsx', 'stack/src/rotate-keys.ts', '--column', 'not a column'],
      {
        cwd: root,
        env: { ...process.env, DATABASE_URL: database.url },
      },
    );
    await expect(refused).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage:') });
    // Each service has its own key ring: --service rotates that one's columns only.
    const messagingOnly = await run('npx', ['tsx', 'stack/src/rotate-keys.ts', '--service', 'messaging'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: database.url, DATA_ENCRYPTION_KEYS: variable(['k2', k2]) },
    });
    expect(messagingOnly.stdout).toContain('messaging.deliveries.data_sealed');
    // Personal data is under per-person keys now (`keys:rewrap`), not the service's key ring.
    expect(messagingOnly.stdout).not.toContain('messaging.recipients.');
    expect(messagingOnly.stdout).not.toContain('billing.');
    const unknownService = run(
      process.execPath,
      ['--import', 'tsx', 'stack/src/rotate-keys.ts', '--service', 'nothing'],
      { cwd: root, env: { ...process.env, DATABASE_URL: database.url } },
    );
    await expect(unknownService).rejects.toMatchObject({ code: 2 });
  }, 90_000);
});
