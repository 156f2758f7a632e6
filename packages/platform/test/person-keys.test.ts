import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@bilten/testkit';
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import { sql } from 'drizzle-orm';
import { pgSchema } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { connectDatabase, type DatabaseHandle } from '../src/db.ts';
import { DecryptionError } from '../src/encryption.ts';
import {
  blindIndex,
  blindIndexes,
  blindIndexKey,
  blindIndexKeysFromEnv,
  configKeyEncryptionKeys,
  createPersonVault,
  type KeyEncryptionKeys,
  keyEncryptionKeysFromEnv,
  PersonDataErasedError,
  type PersonVault,
  type PersonVaultOptions,
  personKeysFromEnv,
  personKeyTable,
  sealPlaintextRows,
} from '../src/person-keys.ts';

const schema = pgSchema('scratch');
const table = personKeyTable(schema);
const k1 = randomBytes(32);
const k2 = randomBytes(32);
const onlyK1 = configKeyEncryptionKeys([['k1', k1]]);

let database: TestDatabase;
let handle: DatabaseHandle;

beforeAll(async () => {
  database = await createTestDatabase();
  handle = connectDatabase({ url: database.url, poolSize: 10, applicationName: 'person-keys-test' });
  // The DDL drizzle-kit writes for the factory, as a subgraph's migration would hold it.
  const statements = await generateMigration(
    generateDrizzleJson({}),
    generateDrizzleJson({ schema, personKeys: table }),
  );
  for (const statement of statements) await handle.sql.unsafe(statement);
  await handle.sql`create table scratch.people (id text primary key, person_id text not null, email_sealed text)`;
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});
beforeEach(async () => {
  await handle.sql`truncate scratch.person_keys, scratch.people`;
});

const vaultOf = (keks: KeyEncryptionKeys = onlyK1, more: Partial<PersonVaultOptions> = {}) =>
  createPersonVault({ db: handle.db, table, keks, ...more });
const aadOf = (rowId: string) => `scratch.people.email_sealed:${rowId}`;

/** Stores `email` of `personId` in row `rowId`, encrypted, as a subgraph would. */
const store = async (vault: PersonVault, rowId: string, personId: string, email: string) => {
  await handle.db.transaction(async (tx) => {
    const sealed = await vault.encryptFor(tx, personId, email, aadOf(rowId));
    await tx.execute(sql`insert into scratch.people values (${rowId}, ${personId}, ${sealed})`);
  });
};
const sealedOf = async (rowId: string) =>
  (
    await handle.sql<{ email_sealed: string }[]>`select email_sealed from scratch.people where id = ${rowId}`
  )[0]!.email_sealed;
const read = (vault: PersonVault, rowId: string, personId: string) =>
  sealedOf(rowId).then((value) => vault.decryptFor(handle.db, personId, value, aadOf(rowId)));

describe('per-person encryption at rest', () => {
  it('stores no plaintext: not in the data table, not in the keys table; reads back', async () => {
    const vault = vaultOf();
    await store(vault, 'r1', 'alice', 'alice@example.com');
    await store(vault, 'r2', 'alice', 'Alice Liddell');
    const dump = await handle.sql<{ row: string }[]>`
      select t::text as row from scratch.people t union all select k::text from scratch.person_keys k`;
    expect(dump).toHaveLength(3);
    for (const { row } of dump) {
      expect(row).not.toContain('alice@example.com');
      expect(row).not.toContain('Alice');
    }
    const sealed = await sealedOf('r1');
    expect(sealed).toMatch(/^p1\.[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]+$/);
    // The person id is not in the value: the caller passes it.
    expect(sealed).not.toContain('alice');
    expect(vault.isEncrypted(sealed)).toBe(true);
    expect(vault.isEncrypted('alice@example.com')).toBe(false);
    expect(await read(vaultOf(), 'r1', 'alice')).toBe('alice@example.com');
    expect(await read(vaultOf(), 'r2', 'alice')).toBe('Alice Liddell');
  });

  it("does not decrypt one person's value as another's, nor for another row, nor altered", async () => {
    const vault = vaultOf();
    await store(vault, 'r1', 'alice', 'alice@example.com');
    await store(vault, 'r2', 'bob', 'bob@example.com');
    const alices = await sealedOf('r1');
    await handle.sql`update scratch.people set email_sealed = ${alices} where id = 'r2'`;
    // Bob's row now holds Alice's value, under the row's aad: Bob's key does not open it.
    await expect(read(vaultOf(), 'r2', 'bob')).rejects.toThrow(DecryptionError);
    await expect(vault.decryptFor(handle.db, 'alice', alices, aadOf('r2'))).rejects.toThrow(
      /bound to another row/,
    );
    const body = alices.split('.')[2]!;
    const flipped = `${alices.slice(0, -body.length)}${body.slice(0, -2)}${body.at(-2) === 'A' ? 'B' : 'A'}${body.at(-1)}`;
    await expect(vault.decryptFor(handle.db, 'alice', flipped, aadOf('r1'))).rejects.toThrow(/altered/);
    await expect(vault.decryptFor(handle.db, 'alice', 'alice@example.com', aadOf('r1'))).rejects.toThrow(
      /not a value encrypted per person/,
    );
    await expect(vault.decryptFor(handle.db, 'carol', alices, aadOf('r1'))).rejects.toThrow(/no data key/);
  });

  it("a wrapped key copied to another person's row does not unwrap (bound to schema and person)", async () => {
    const vault = vaultOf();
    await store(vault, 'r1', 'alice', 'alice@example.com');
    await store(vault, 'r2', 'bob', 'bob@example.com');
    await handle.sql`update scratch.person_keys set wrapped_key = (
      select wrapped_key from scratch.person_keys where person_id = 'alice') where person_id = 'bob'`;
    await expect(read(vaultOf(), 'r2', 'bob')).rejects.toThrow(/does not unwrap under KEK "k1"/);
  });

  it('concurrent first uses by ten replicas agree on one key; every value decrypts', async () => {
    const values = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        handle.db.transaction((tx) =>
          vaultOf().encryptFor(tx, 'dana', `dana-${i}@example.com`, aadOf(`r${i}`)),
        ),
      ),
    );
    const rows = await handle.sql`select * from scratch.person_keys where person_id = 'dana'`;
    expect(rows).toHaveLength(1);
    const reader = vaultOf();
    for (const [i, value] of values.entries())
      expect(await reader.decryptFor(handle.db, 'dana', value, aadOf(`r${i}`))).toBe(`dana-${i}@example.com`);
  });
  it('a first use waiting on another transaction still creating the key takes that key', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let first!: string;
    const winner = handle.db.transaction(async (tx) => {
      first = await vaultOf().encryptFor(tx, 'lee', 'one', aadOf('r1'));
      await held;
    });
    await expect.poll(() => first).toBeDefined();
    const second = handle.db.transaction((tx) => vaultOf().encryptFor(tx, 'lee', 'two', aadOf('r2')));
    // The second insert waits on the first's uncommitted row; give it time to get there.
    await expect
      .poll(
        async () =>
          (
            await handle.sql`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`
          ).length,
      )
      .toBe(1);
    release();
    await winner;
    const reader = vaultOf();
    expect(await reader.decryptFor(handle.db, 'lee', await second, aadOf('r2'))).toBe('two');
    expect(await reader.decryptFor(handle.db, 'lee', first, aadOf('r1'))).toBe('one');
  });
});

describe('batches', () => {
  it('warm reads the keys of a page in one statement; sealing and opening it then reads none', async () => {
    const people = ['p-a', 'p-b', 'p-c', 'p-d', 'p-e'];
    for (const person of people) await store(vaultOf(), `row-${person}`, person, `${person}@example.com`);
    await handle.db.transaction((tx) => vaultOf().shred(tx, 'p-e'));
    const values = await Promise.all(people.map((person) => sealedOf(`row-${person}`)));
    const statements: string[] = [];
    const counted = connectDatabase({
      url: database.url,
      applicationName: 'person-keys-warm',
      onStatement: (query) => statements.push(query),
    });
    try {
      const vault = createPersonVault({ db: counted.db, table, keks: onlyK1 });
      await vault.warm(counted.db, [...people, 'p-a', 'nobody']);
      expect(statements).toHaveLength(1);
      const opened = await Promise.all(
        people
          .slice(0, 4)
          .map((person, i) => vault.decryptFor(counted.db, person, values[i]!, aadOf(`row-${person}`))),
      );
      expect(opened).toEqual(people.slice(0, 4).map((person) => `${person}@example.com`));
      await counted.db.transaction((tx) => vault.encryptFor(tx, 'p-b', 'again', 'aad'));
      // No key read: warm's is still the only statement on the keys table.
      expect(statements.filter((query) => /person_keys/.test(query))).toHaveLength(1);
      // Erased people are not cached: their values still refuse.
      await expect(vault.decryptFor(counted.db, 'p-e', values[4]!, aadOf('row-p-e'))).rejects.toThrow(
        PersonDataErasedError,
      );
    } finally {
      await counted.close();
    }
  });
});

describe('crypto-shredding', () => {
  it('makes every copy unreadable, a backup of the row included; idempotent; no new key after', async () => {
    const vault = vaultOf();
    await store(vault, 'r1', 'erin', 'erin@example.com');
    await store(vault, 'r2', 'frank', 'frank@example.com');
    expect(await read(vault, 'r1', 'erin')).toBe('erin@example.com');
    const backup = await sealedOf('r1');
    expect(await handle.db.transaction((tx) => vault.shred(tx, 'erin'))).toBe(true);
    expect(await handle.db.transaction((tx) => vault.shred(tx, 'erin'))).toBe(false);
    const [key] = await handle.sql`
      select kek_id, wrapped_key, destroyed_at is not null as destroyed from scratch.person_keys where person_id = 'erin'`;
    expect(key).toEqual({ kek_id: null, wrapped_key: null, destroyed: true });
    // This process forgot the key at once; a fresh one never had it.
    await expect(read(vault, 'r1', 'erin')).rejects.toThrow(PersonDataErasedError);
    await expect(vaultOf().decryptFor(handle.db, 'erin', backup, aadOf('r1'))).rejects.toThrow(
      PersonDataErasedError,
    );
    await expect(
      handle.db.transaction((tx) => vault.encryptFor(tx, 'erin', 'again', aadOf('r3'))),
    ).rejects.toThrow(PersonDataErasedError);
    expect(await read(vault, 'r2', 'frank')).toBe('frank@example.com');
  });

  it('a backup of the keys table dies with the retired KEK it was wrapped under', async () => {
    await store(vaultOf(), 'r1', 'gina', 'gina@example.com');
    const [keysBackup] = await handle.sql<{ kek_id: string; wrapped_key: string }[]>`
      select kek_id, wrapped_key from scratch.person_keys where person_id = 'gina'`;
    const rotated = configKeyEncryptionKeys([
      ['k2', k2],
      ['k1', k1],
    ]);
    await vaultOf(rotated).rewrap(handle.db);
    await handle.db.transaction((tx) => vaultOf(rotated).shred(tx, 'gina'));
    // Restoring the old keys row after k1 was destroyed gives nothing back.
    await handle.sql`update scratch.person_keys set kek_id = ${keysBackup!.kek_id}, wrapped_key = ${keysBackup!.wrapped_key}, destroyed_at = null where person_id = 'gina'`;
    await expect(read(vaultOf(configKeyEncryptionKeys([['k2', k2]])), 'r1', 'gina')).rejects.toThrow(
      /KEK "k1", which PERSON_KEK_KEYS does not hold/,
    );
  });

  it('tombstones a person erased before any key existed', async () => {
    const vault = vaultOf();
    expect(await handle.db.transaction((tx) => vault.shred(tx, 'hank'))).toBe(false);
    await expect(
      handle.db.transaction((tx) => vault.encryptFor(tx, 'hank', 'x', aadOf('r1'))),
    ).rejects.toThrow(PersonDataErasedError);
  });

  it('renews the key of a returning person when asked; the old values stay unreadable', async () => {
    const vault = vaultOf(onlyK1, { renewAfterShred: true });
    await store(vault, 'r1', 'ivy', 'ivy@example.com');
    await handle.db.transaction((tx) => vault.shred(tx, 'ivy'));
    await store(vault, 'r2', 'ivy', 'ivy@example.com');
    expect(await read(vaultOf(), 'r2', 'ivy')).toBe('ivy@example.com');
    await expect(read(vaultOf(), 'r1', 'ivy')).rejects.toThrow(/another data key/);
  });

  it('another replica reads from its cache for at most the TTL after a shred', async () => {
    let clock = 0;
    const replica = vaultOf(onlyK1, { cache: { ttlMs: 1_000, now: () => clock } });
    await store(replica, 'r1', 'jack', 'jack@example.com');
    expect(await read(replica, 'r1', 'jack')).toBe('jack@example.com');
    await handle.db.transaction((tx) => vaultOf().shred(tx, 'jack'));
    expect(await read(replica, 'r1', 'jack')).toBe('jack@example.com');
    clock = 1_000;
    await expect(read(replica, 'r1', 'jack')).rejects.toThrow(PersonDataErasedError);
  });
});

describe('KEK rotation', () => {
  const people = Array.from({ length: 25 }, (_, i) => `person-${String(i).padStart(2, '0')}`);
  const kekIds = async () =>
    (
      await handle.sql<
        { kek_id: string }[]
      >`select kek_id from scratch.person_keys where destroyed_at is null`
    ).map((row) => row.kek_id);

  it('re-wraps every data key under the new KEK, not the data; all reads, even without the old KEK', async () => {
    for (const person of people) await store(vaultOf(), `row-${person}`, person, `${person}@example.com`);
    await handle.db.transaction((tx) => vaultOf().shred(tx, people[0]!));
    const before = await handle.sql`select id, email_sealed from scratch.people order by id`;
    const rotated = configKeyEncryptionKeys([
      ['k2', k2],
      ['k1', k1],
    ]);
    expect(await vaultOf(rotated).rewrap(handle.db, { batchSize: 10 })).toEqual({
      rewrapped: 24,
      failed: [],
    });
    expect(new Set(await kekIds())).toEqual(new Set(['k2']));
    expect(await handle.sql`select id, email_sealed from scratch.people order by id`).toEqual(before);
    const k2Only = vaultOf(configKeyEncryptionKeys([['k2', k2]]));
    for (const person of people.slice(1))
      expect(await read(k2Only, `row-${person}`, person)).toBe(`${person}@example.com`);
    await expect(read(k2Only, `row-${people[0]}`, people[0]!)).rejects.toThrow(PersonDataErasedError);
    expect(await vaultOf(rotated).rewrap(handle.db)).toEqual({ rewrapped: 0, failed: [] });
    // New people get keys under the new KEK.
    await store(vaultOf(rotated), 'r-new', 'newcomer', 'new@example.com');
    expect(new Set(await kekIds())).toEqual(new Set(['k2']));
  });

  it('fails loudly under a wrong KEK; rewrap names the keys it could not unwrap and leaves them', async () => {
    await store(vaultOf(), 'r1', 'kim', 'kim@example.com');
    const impostor = configKeyEncryptionKeys([['k1', randomBytes(32)]]);
    await expect(read(vaultOf(impostor), 'r1', 'kim')).rejects.toThrow(
      /does not unwrap under KEK "k1": wrong key-encryption key/,
    );
    await expect(
      handle.db.transaction((tx) => vaultOf(impostor).encryptFor(tx, 'kim', 'x', 'a')),
    ).rejects.toThrow(DecryptionError);
    const wrongOld = configKeyEncryptionKeys([
      ['k2', k2],
      ['k1', randomBytes(32)],
    ]);
    expect(await vaultOf(wrongOld).rewrap(handle.db)).toEqual({ rewrapped: 0, failed: ['kim'] });
    expect(await kekIds()).toEqual(['k1']);
    expect(await read(vaultOf(), 'r1', 'kim')).toBe('kim@example.com');
  });
  it('npm run keys:rewrap re-wraps every person_keys table of the database, or the schemas named', async () => {
    for (const person of people.slice(0, 5))
      await store(vaultOf(), `row-${person}`, person, `${person}@example.com`);
    const run = promisify(execFile);
    const root = new URL('../../../', import.meta.url).pathname;
    const kek = (...keys: Array<[string, Buffer]>) =>
      keys.map(([id, key]) => `${id}:${key.toString('base64')}`).join(',');
    const env = { ...process.env, DATABASE_URL: database.url, PERSON_KEK_KEYS: kek(['k2', k2], ['k1', k1]) };
    const all = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'stack/src/rewrap-keys.ts',
        '--schema',
        'elsewhere',
        '--schema',
        'scratch',
        '--batch-size',
        '2',
      ],
      { cwd: root, env },
    );
    expect(all.stdout).toContain('elsewhere.person_keys: no such table here, skipped');
    expect(all.stdout).toContain('scratch.person_keys: 5 data key(s) re-wrapped under KEK "k2"');
    expect(new Set(await kekIds())).toEqual(new Set(['k2']));
    // A KEK list that cannot unwrap them: exit 1, keys left as they were.
    const wrong = run(process.execPath, ['--import', 'tsx', 'stack/src/rewrap-keys.ts'], {
      cwd: root,
      env: { ...env, PERSON_KEK_KEYS: kek(['k3', randomBytes(32)], ['k2', randomBytes(32)]) },
    });
    await expect(wrong).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('5 key(s) did not unwrap'),
    });
    expect(new Set(await kekIds())).toEqual(new Set(['k2']));
    const refused = run(
      process.execPath,
      ['--import', 'tsx', 'stack/src/rewrap-keys.ts', '--schema', 'No Schema'],
      { cwd: root, env },
    );
    await expect(refused).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage:') });
  }, 120_000);
});

describe('configuration', () => {
  it('PERSON_KEK_KEYS: kid:base64 pairs, the first current; required in production; a development key elsewhere', () => {
    const text = `k2:${k2.toString('base64')},k1:${k1.toString('base64')}`;
    expect(keyEncryptionKeysFromEnv({ NODE_ENV: 'production', PERSON_KEK_KEYS: text }).currentId).toBe('k2');
    expect(() => keyEncryptionKeysFromEnv({ NODE_ENV: 'production' })).toThrow(
      'PERSON_KEK_KEYS: required in production',
    );
    const development = keyEncryptionKeysFromEnv({ NODE_ENV: 'test' });
    const wrapped = development.wrap('dev', k1, 'a') as string;
    expect(keyEncryptionKeysFromEnv({ NODE_ENV: 'development' }).unwrap('dev', wrapped, 'a')).toEqual(k1);
    let error: unknown;
    try {
      keyEncryptionKeysFromEnv({
        NODE_ENV: 'production',
        PERSON_KEK_KEYS: `k1:${k1.toString('base64').slice(4)}`,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('PERSON_KEK_KEYS: key "k1" must be 32 bytes');
  });

  it('BLIND_INDEX_KEY: versioned secrets; required in production', () => {
    const keys = blindIndexKeysFromEnv({
      NODE_ENV: 'production',
      BLIND_INDEX_KEY: `b2:${k2.toString('base64')},b1:${k1.toString('base64')}`,
    });
    expect(keys.map((key) => key.version)).toEqual(['b2', 'b1']);
    expect(() => blindIndexKeysFromEnv({ NODE_ENV: 'production' })).toThrow(
      'BLIND_INDEX_KEY: required in production',
    );
    expect(blindIndexKeysFromEnv({ NODE_ENV: 'test' })[0]!.version).toBe('dev');
  });
});

describe('blind index', () => {
  const key = blindIndexKey('b1', k1);

  it('is equal for differently written equal emails, keyed, versioned, and holds no plaintext', () => {
    const index = blindIndex(key, 'Alice@Example.COM', 'email');
    expect(index).toMatch(/^b1\.[A-Za-z0-9_-]{43}$/);
    expect(blindIndex(key, '  alice@example.com ', 'email')).toBe(index);
    // NFKC: the full-width "Ａ" is the letter A.
    expect(blindIndex(key, 'Ａlice@example.com', 'email')).toBe(index);
    expect(blindIndex(key, 'alice@example.org', 'email')).not.toBe(index);
    expect(index).not.toContain('alice');
    expect(blindIndex(blindIndexKey('b1', k2), 'alice@example.com', 'email')).not.toBe(index);
    expect(blindIndex(blindIndexKey('b2', k1), 'alice@example.com', 'email').split('.')[1]).not.toBe(
      index.split('.')[1],
    );
  });

  it('keeps the case of other text; gives one index per key during a rotation', () => {
    expect(blindIndex(key, 'Smith')).not.toBe(blindIndex(key, 'smith'));
    expect(blindIndex(key, ' Smith ')).toBe(blindIndex(key, 'Smith'));
    const next = blindIndexKey('b2', k2);
    expect(blindIndexes([next, key], 'A@b.c', 'email')).toEqual([
      blindIndex(next, 'a@b.c', 'email'),
      blindIndex(key, 'a@b.c', 'email'),
    ]);
  });
});

describe('sealing rows written before per-person keys', () => {
  it('encrypts every plaintext row in batches, once, leaving sealed rows alone; replicas share the work', async () => {
    const keys = personKeysFromEnv(handle.db, table, { NODE_ENV: 'test' });
    const rows = Array.from({ length: 23 }, (_, i) => ({
      id: `r${i}`,
      person: `p${i % 5}`,
      email: `p${i}@example.com`,
    }));
    for (const row of rows)
      await handle.sql`insert into scratch.people values (${row.id}, ${row.person}, ${row.email})`;
    let batches = 0;
    const step = async (
      tx: Parameters<Parameters<typeof handle.db.transaction>[0]>[0],
      batchSize: number,
    ) => {
      batches += 1;
      const plain = (await tx.execute(sql`
        select id, person_id, email_sealed from scratch.people where email_sealed not like 'p1.%'
        order by id limit ${batchSize} for update skip locked`)) as unknown as Array<{
        id: string;
        person_id: string;
        email_sealed: string;
      }>;
      for (const row of plain) {
        const sealed = await keys.vault.encryptFor(tx, row.person_id, row.email_sealed, aadOf(row.id));
        await tx.execute(sql`update scratch.people set email_sealed = ${sealed} where id = ${row.id}`);
      }
      return plain.length;
    };
    // Two replicas starting together: skip locked splits the rows, none is sealed twice.
    const counts = await Promise.all([
      sealPlaintextRows(handle.db, step, 5),
      sealPlaintextRows(handle.db, step, 5),
    ]);
    expect(counts[0]! + counts[1]!).toBe(23);
    expect(batches).toBeGreaterThanOrEqual(5);
    const stored = await handle.sql<Array<{ id: string; person_id: string; email_sealed: string }>>`
      select * from scratch.people order by id`;
    for (const row of stored) {
      expect(keys.vault.isEncrypted(row.email_sealed)).toBe(true);
      const original = rows.find((r) => r.id === row.id)!;
      expect(await keys.vault.decryptFor(handle.db, row.person_id, row.email_sealed, aadOf(row.id))).toBe(
        original.email,
      );
    }
    // Idempotent: a second start finds nothing left to seal.
    expect(await keys.vault.isShredded(handle.db, 'p1')).toBe(false);
    await handle.db.transaction((tx) => keys.vault.shred(tx, 'p1'));
    expect(await keys.vault.isShredded(handle.db, 'p1')).toBe(true);
    expect(await keys.vault.isShredded(handle.db, 'nobody')).toBe(false);
    expect(await sealPlaintextRows(handle.db, step, 5)).toBe(0);
    // The blind index is the environment's: equal for equal addresses, whatever their case.
    expect(keys.index('A@Example.com', 'email')).toBe(keys.index('a@example.com', 'email'));
    expect(keys.indexes('a@example.com', 'email')).toEqual([keys.index('a@example.com', 'email')]);
  });
});
