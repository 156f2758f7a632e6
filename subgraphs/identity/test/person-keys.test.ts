/** Identity's personal data under per-person keys (issue 18): sealed at rest, found by blind index, shredded at erasure. */
import { randomUUID } from 'node:crypto';
import {
  columnAad,
  createOutbox,
  keyRingFromEnv,
  PersonDataErasedError,
  startSubgraph,
} from '@bilten/platform';
import {
  captureLogs,
  emailIndexOf,
  insertAccounts,
  signUp,
  startTestSubgraph,
  type TestSubgraph,
  withIdentityKeys,
} from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStore } from '../src/db/schema.ts';
import { USER_EMAIL_COLUMN } from '../src/db/users.ts';
import { privacyAnswerConsumers } from '../src/domain/privacy-saga.ts';
import { createPasswordHasher, identitySubgraph } from '../src/server.ts';
import { MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'in-process', { env: MANY_SIGNUPS, ...OWN_TOKENS });
});

afterAll(async () => {
  await subgraph?.dispose();
});

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken errors { code } } }`;
const login = async (email: string, password: string) =>
  (await subgraph.gql<{ login: { accessToken: string | null } }>(LOGIN, { input: { email, password } })).data!
    .login.accessToken;
const stored = async (userId: string) =>
  (
    await subgraph.sql<
      Array<{ email_sealed: string; email_index: string | null; display_name_sealed: string }>
    >`select email_sealed, email_index, display_name_sealed from identity.users where id = ${userId}`
  )[0];
const aad = (userId: string) => columnAad(USER_EMAIL_COLUMN, userId);

describe('per-person keys in identity (issue 18)', () => {
  it('stores no plaintext address or name: sealed values and a blind index only', async () => {
    const email = `sealed-${randomUUID().slice(0, 8)}@example.com`;
    const user = await signUp(subgraph.service.url, subgraph.sql, { email, displayName: 'Selma Sealed' });
    const row = (await stored(user.userId))!;
    expect(row.email_sealed).toMatch(/^p1\./);
    expect(row.display_name_sealed).toMatch(/^p1\./);
    expect(row.email_index).toBe(emailIndexOf(email));
    expect(JSON.stringify(row)).not.toContain(email.split('@')[0]);
    expect(JSON.stringify(row)).not.toContain('Selma');
    const [verification] = await subgraph.sql<[{ email_sealed: string }]>`
      select email_sealed from identity.email_verifications where user_id = ${user.userId}`;
    expect(verification.email_sealed).toMatch(/^p1\./);
  });

  it('finds accounts by the index: login and a duplicate sign-up in other case and padding', async () => {
    const local = `case-${randomUUID().slice(0, 8)}`;
    const user = await signUp(subgraph.service.url, subgraph.sql, { email: `${local}@example.com` });
    expect(await login(`  ${local.toUpperCase()}@Example.COM `, user.password)).toBeTruthy();
    const again = await subgraph.gql<{ register: { accepted: boolean } }>(
      `mutation($input: RegisterInput!) { register(input: $input) { accepted } }`,
      {
        input: {
          email: ` ${local.toUpperCase()}@EXAMPLE.com`,
          password: 'another long passphrase',
          displayName: 'X',
        },
      },
    );
    expect(again.data!.register.accepted).toBe(true);
    const rows =
      await subgraph.sql`select id from identity.users where email_index = ${emailIndexOf(`${local}@example.com`)}`;
    expect(rows.map((r) => r.id)).toEqual([user.userId]);
  });

  it('seals at start-up the rows written before the migration, which then log in as before', async () => {
    const id = randomUUID();
    const email = `legacy-${id.slice(0, 8)}@example.com`;
    const password = 'a legacy passphrase, long enough';
    const hash = await (await createPasswordHasher()).hash(password);
    // As migration 0012 leaves a row: the plaintext renamed into the *_sealed columns, no index.
    await subgraph.sql`
      insert into identity.users (id, email_sealed, display_name_sealed, password_hash, email_verified_at)
      values (${id}, ${email}, 'Lejla Legacy', ${hash}, now())`;
    const { log } = captureLogs('identity-restart');
    const restarted = await startSubgraph(identitySubgraph, {
      databaseUrl: subgraph.database.url,
      bus: subgraph.testBus.bus,
      log,
      host: '127.0.0.1',
      port: 0,
      env: MANY_SIGNUPS,
    });
    await restarted.stop();
    const row = (await stored(id))!;
    expect(row.email_sealed).toMatch(/^p1\./);
    expect(row.display_name_sealed).toMatch(/^p1\./);
    expect(row.email_index).toBe(emailIndexOf(email));
    expect(await login(email, password)).toBeTruthy();
  });

  it('reads an account whose key was destroyed as erased, without an error', async () => {
    const id = randomUUID();
    await insertAccounts(subgraph.sql, [
      { id, email: `gone-${id.slice(0, 8)}@example.com`, displayName: 'Gone' },
    ]);
    await withIdentityKeys(subgraph.sql, (db, keys) => db.transaction((tx) => keys.vault.shred(tx, id)));
    const answer = await subgraph.gql<{ user: { id: string; displayName: string } | null }>(
      `query($id: ID!) { user(id: $id) { id displayName } }`,
      { id },
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.user).toEqual({ id, displayName: '(erased)' });
  });

  it('destroys the key when the erasure completes: the sealed address never decrypts again', async () => {
    const user = await signUp(subgraph.service.url, subgraph.sql);
    const before = (await stored(user.userId))!;
    const asked = await subgraph.gql<{ requestAccountDeletion: { request: { id: string } | null } }>(
      `mutation($input: RequestAccountDeletionInput!) { requestAccountDeletion(input: $input) { request { id } } }`,
      { input: { confirm: true, currentPassword: user.password } },
      user.headers,
    );
    const requestId = asked.data!.requestAccountDeletion.request!.id;
    await withIdentityKeys(subgraph.sql, async (db, keys) => {
      const { log } = captureLogs('identity-erasure');
      const consumers = privacyAnswerConsumers({
        outbox: createOutbox(eventStore, 'identity'),
        log,
        dataKeys: keyRingFromEnv({ NODE_ENV: 'test' }),
        personKeys: keys,
      }).filter((consumer) => consumer.name.startsWith('privacy-erasure-'));
      // The five other services answer; the last answer makes identity erase the account.
      for (const consumer of consumers) {
        await db.transaction((tx) =>
          consumer.handle({ payload: { requestId, userId: user.userId, summary: {} } } as never, tx),
        );
      }
      expect(await stored(user.userId)).toBeUndefined();
      const [key] = await subgraph.sql`
        select wrapped_key, destroyed_at is not null as destroyed from identity.person_keys where person_id = ${user.userId}`;
      expect(key).toEqual({ wrapped_key: null, destroyed: true });
      await expect(
        keys.vault.decryptFor(db, user.userId, before.email_sealed, aad(user.userId)),
      ).rejects.toBeInstanceOf(PersonDataErasedError);
    });
  });
});
