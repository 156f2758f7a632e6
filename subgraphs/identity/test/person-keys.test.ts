/** Identity's personal data under per-person keys (issue 18): sealed at rest, found by blind index, shredded at erasure. */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  columnAad,
  createOutbox,
  type Database,
  keyRingFromEnv,
  PersonDataErasedError,
  personKeysFromEnv,
  startSubgraph,
} from '@bilten/platform';
import {
  captureLogs,
  emailIndexOf,
  graphql,
  insertAccounts,
  invitationTokenOf,
  refreshAccess,
  type SignedInUser,
  signUp,
  startTestSubgraph,
  type TestSubgraph,
  withIdentityKeys,
} from '@bilten/testkit';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession } from '../src/db/client-data.ts';
import { eventStore, personKeys, sessions } from '../src/db/schema.ts';
import { USER_EMAIL_COLUMN } from '../src/db/users.ts';
import { privacyAnswerConsumers } from '../src/domain/privacy-saga.ts';
import { sweepSecurityEvents } from '../src/domain/security-retention.ts';
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
/** The vault identity keys invitees with: the same table, renewed after a shred. */
const guestVaultOf = (db: Database) =>
  personKeysFromEnv(db, personKeys, { NODE_ENV: 'test' }, { renewAfterShred: true }).vault;

/** Another identity over the same database, e.g. with other key-encryption keys. */
const startIdentity = (env: Record<string, string> = {}) =>
  startSubgraph(identitySubgraph, {
    databaseUrl: subgraph.database.url,
    bus: subgraph.testBus.bus,
    log: captureLogs('identity-restart').log,
    host: '127.0.0.1',
    port: 0,
    env: { ...MANY_SIGNUPS, ...env },
  });
const restart = async () => (await startIdentity()).stop();

const GRANT = `mutation($input: GrantConsentInput!) { grantConsent(input: $input) { errors { code } } }`;
const CLIENT_DATA = `{ mySessions { id ip userAgent } myConsentHistory { edges { node { ipAddress } } } }`;
type ClientData = {
  mySessions: Array<{ id: string; ip: string | null; userAgent: string | null }>;
  myConsentHistory: { edges: Array<{ node: { ipAddress: string | null } }> };
};
const grantMarketing = (user: SignedInUser) =>
  subgraph.gql(
    GRANT,
    { input: { purpose: 'MARKETING_EMAIL', textVersion: 'marketing-email/2026-11', source: 'test' } },
    user.headers,
  );

async function organizationOf(owner: SignedInUser) {
  const slug = `org-${randomUUID().slice(0, 8)}`;
  const created = await subgraph.gql<{ createOrganization: { organization: { id: string } } }>(
    `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }`,
    { input: { name: `Org ${slug}`, slug } },
    owner.headers,
  );
  await refreshAccess(subgraph.service.url, owner);
  return created.data!.createOrganization.organization.id;
}

const invite = async (owner: SignedInUser, organizationId: string, email: string) =>
  (
    await subgraph.gql<{ inviteMember: { invitation: { id: string; email: string } } }>(
      `mutation($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id email } } }`,
      { input: { organizationId, email, role: 'STAFF' } },
      owner.headers,
    )
  ).data!.inviteMember.invitation;

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
    // An invitation to their address, sealed under its guest key: erased with them.
    const owner = await signUp(subgraph.service.url, subgraph.sql);
    const invitation = await invite(owner, await organizationOf(owner), user.email);
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
        guestVault: guestVaultOf(db),
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
      const [guestKey] = await subgraph.sql`
        select destroyed_at is not null as destroyed from identity.person_keys where person_id = ${emailIndexOf(user.email)}`;
      expect(guestKey).toEqual({ destroyed: true });
      const left =
        await subgraph.sql`select id from identity.organization_invitations where id = ${invitation.id}`;
      expect(left).toEqual([]);
      await expect(
        keys.vault.decryptFor(db, user.userId, before.email_sealed, aad(user.userId)),
      ).rejects.toBeInstanceOf(PersonDataErasedError);
    });
  });
});

describe('client addresses and invitations under per-person keys (issue 18)', () => {
  it("seals a session's address and user agent and a consent's address; the user reads them back", async () => {
    const user = await signUp(subgraph.service.url, subgraph.sql);
    await grantMarketing(user);
    const [session] = await subgraph.sql<[{ ip_sealed: string; user_agent_sealed: string | null }]>`
      select ip_sealed, user_agent_sealed from identity.sessions where user_id = ${user.userId}`;
    expect(session.ip_sealed).toMatch(/^p1\./);
    const [consent] = await subgraph.sql<[{ ip_address_sealed: string }]>`
      select ip_address_sealed from identity.consents where user_id = ${user.userId}`;
    const [change] = await subgraph.sql<[{ ip_address_sealed: string }]>`
      select ip_address_sealed from identity.consent_history where user_id = ${user.userId}`;
    expect(consent.ip_address_sealed).toMatch(/^p1\./);
    expect(change.ip_address_sealed).toMatch(/^p1\./);
    expect(change.ip_address_sealed).not.toBe(consent.ip_address_sealed);
    const read = (await subgraph.gql<ClientData>(CLIENT_DATA, {}, user.headers)).data!;
    expect(read.mySessions[0]!.ip).toMatch(/127\.0\.0\.1/);
    expect(read.myConsentHistory.edges[0]!.node.ipAddress).toMatch(/127\.0\.0\.1/);
  });

  it("reads a session's client data as null once the user's key is destroyed", async () => {
    const user = await signUp(subgraph.service.url, subgraph.sql);
    await withIdentityKeys(subgraph.sql, async (db, keys) => {
      await db.transaction((tx) => keys.vault.shred(tx, user.userId));
      const [row] = await db.select().from(sessions).where(eq(sessions.userId, user.userId));
      expect(await openSession(db, keys, row!)).toMatchObject({ ip: null, userAgent: null });
    });
  });

  it('seals at start-up the addresses, user agents and invitations written before migration 0013', async () => {
    const user = await signUp(subgraph.service.url, subgraph.sql);
    const organizationId = await organizationOf(user);
    const sessionId = randomUUID();
    const historyId = randomUUID();
    const invitationId = randomUUID();
    const invitee = `legacy-invitee-${randomUUID().slice(0, 8)}@example.com`;
    // As migration 0013 leaves rows: the plaintext renamed into the *_sealed columns.
    await subgraph.sql`
      insert into identity.sessions (id, user_id, ip_sealed, user_agent_sealed, expires_at)
      values (${sessionId}, ${user.userId}, '203.0.113.9', null, now() + interval '1 day')`;
    await subgraph.sql`
      insert into identity.consent_history (id, user_id, purpose, text_version, source, granted, ip_address_sealed, occurred_at)
      values (${historyId}, ${user.userId}, 'ANALYTICS', 'analytics/2026-11', 'test', true, '203.0.113.9', now())`;
    await subgraph.sql`
      insert into identity.organization_invitations (id, organization_id, email_sealed, role, token_hash, expires_at)
      values (${invitationId}, ${organizationId}, ${invitee}, 'STAFF', ${randomUUID()}, now() + interval '1 day')`;
    await restart();
    const [session] = await subgraph.sql`
      select ip_sealed, user_agent_sealed from identity.sessions where id = ${sessionId}`;
    expect(session).toEqual({ ip_sealed: expect.stringMatching(/^p1\./), user_agent_sealed: null });
    const [change] =
      await subgraph.sql`select ip_address_sealed from identity.consent_history where id = ${historyId}`;
    expect(change!.ip_address_sealed).toMatch(/^p1\./);
    const [invitation] = await subgraph.sql`
      select email_sealed, email_index from identity.organization_invitations where id = ${invitationId}`;
    expect(invitation).toEqual({
      email_sealed: expect.stringMatching(/^p1\./),
      email_index: emailIndexOf(invitee),
    });
    const read = (await subgraph.gql<ClientData>(CLIENT_DATA, {}, user.headers)).data!;
    expect(read.mySessions.find((s) => s.id === sessionId)).toMatchObject({
      ip: '203.0.113.9',
      userAgent: null,
    });
    const team = await subgraph.gql<{ organization: { invitations: Array<{ id: string; email: string }> } }>(
      `query($id: ID!) { organization(id: $id) { invitations { id email } } }`,
      { id: organizationId },
      user.headers,
    );
    expect(team.data!.organization.invitations).toContainEqual({ id: invitationId, email: invitee });
  });

  it("seals an invitation under the invitee's address index; acceptance matches by index", async () => {
    const owner = await signUp(subgraph.service.url, subgraph.sql);
    const organizationId = await organizationOf(owner);
    const local = `invitee-${randomUUID().slice(0, 8)}`;
    const invitation = await invite(owner, organizationId, `${local}@example.com`);
    expect(invitation.email).toBe(`${local}@example.com`);
    const [row] = await subgraph.sql`
      select email_sealed, email_index from identity.organization_invitations where id = ${invitation.id}`;
    expect(row!.email_sealed).toMatch(/^p1\./);
    expect(row!.email_index).toBe(emailIndexOf(`${local}@example.com`));
    const [key] = await subgraph.sql`
      select count(*)::int as n from identity.person_keys where person_id = ${row!.email_index}`;
    expect(key!.n).toBe(1);
    // Someone else may not take it; the invitee, signed up later under another case, may.
    const stranger = await signUp(subgraph.service.url, subgraph.sql);
    const token = await invitationTokenOf(subgraph.sql, invitation.id);
    const ACCEPT = `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { role } }`;
    const refused = await subgraph.gql(ACCEPT, { input: { token } }, stranger.headers);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const invitee = await signUp(subgraph.service.url, subgraph.sql, {
      email: `${local.toUpperCase()}@example.com`,
    });
    const accepted = await subgraph.gql<{ acceptInvitation: { role: string } }>(
      ACCEPT,
      { input: { token } },
      invitee.headers,
    );
    expect(accepted.data!.acceptInvitation.role).toBe('STAFF');
  });
});

describe('security events retention (issue 18)', () => {
  it('deletes security events older than the retention, keeps the recent ones', async () => {
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    const [old, recent] = [randomUUID(), randomUUID()];
    await subgraph.sql`
      insert into identity.security_events (id, occurred_at, service, type, actor_kind, ip)
      values (${old}, now() - interval '91 days', 'identity', 'login_failed', 'anonymous', ${ip}),
             (${recent}, now() - interval '89 days', 'identity', 'login_failed', 'anonymous', ${ip})`;
    await withIdentityKeys(subgraph.sql, async (db) => {
      expect(await sweepSecurityEvents(db, 90)).toBeGreaterThanOrEqual(1);
    });
    const left = await subgraph.sql`select id from identity.security_events where id in (${old}, ${recent})`;
    expect(left.map((row) => row.id)).toEqual([recent]);
  });
});

describe('key-encryption key rotation (issue 18)', () => {
  const kek = () => randomBytes(32).toString('base64');
  const LOGIN_ME = `mutation($input: LoginInput!) { login(input: $input) { accessToken user { email displayName } } }`;
  type LoginMe = { login: { accessToken: string; user: { email: string; displayName: string } } | null };
  const keyRow = async (userId: string) =>
    (await subgraph.sql`select kek_id, wrapped_key from identity.person_keys where person_id = ${userId}`)[0];

  it('re-wraps under the new KEK: users log in with it alone; a wrong KEK fails loudly and changes nothing', async () => {
    const [k1, k2] = [kek(), kek()];
    const underK1 = await startIdentity({ PERSON_KEK_KEYS: `k1:${k1}` });
    const user = await signUp(underK1.url, subgraph.sql, { displayName: 'Rotated Rosa' });
    await underK1.stop();
    expect((await keyRow(user.userId))!.kek_id).toBe('k1');

    await withIdentityKeys(subgraph.sql, async (db) => {
      const env = { NODE_ENV: 'test', PERSON_KEK_KEYS: `k2:${k2},k1:${k1}` };
      const { failed } = await personKeysFromEnv(db, personKeys, env).vault.rewrap(db);
      expect(failed).not.toContain(user.userId);
    });
    const rewrapped = (await keyRow(user.userId))!;
    expect(rewrapped.kek_id).toBe('k2');

    const underK2 = await startIdentity({ PERSON_KEK_KEYS: `k2:${k2}` });
    try {
      const input = { email: user.email, password: user.password };
      const { body } = await graphql<LoginMe, unknown>(underK2.url, LOGIN_ME, { input });
      expect(body.data!.login!.user).toEqual({ email: user.email, displayName: 'Rotated Rosa' });
    } finally {
      await underK2.stop();
    }

    const sealedBefore = await stored(user.userId);
    const wrongKek = await startIdentity({ PERSON_KEK_KEYS: `k2:${kek()}` });
    try {
      const input = { email: user.email, password: user.password };
      const { body } = await graphql<LoginMe, unknown>(wrongKek.url, LOGIN_ME, { input });
      expect(body.errors?.length).toBeGreaterThan(0);
      expect(body.data?.login ?? null).toBeNull();
    } finally {
      await wrongKek.stop();
    }
    expect(await keyRow(user.userId)).toEqual(rewrapped);
    expect(await stored(user.userId)).toEqual(sealedBefore);
  });
});
