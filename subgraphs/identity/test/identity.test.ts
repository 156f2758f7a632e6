import { type DomainEvent, emailAddress, type RunningService } from '@bilten/platform';
import {
  emailIndexOf,
  openedAccount,
  recordEvents,
  type SignedInUser,
  signUp,
  startTestSubgraph,
  statementsOf,
  type TestBus,
  type TestSubgraph,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import type postgres from 'postgres';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { organizationCreated } from '../src/events.ts';
import { identitySubgraph } from '../src/server.ts';
import { claimsOf, MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

// Every test signs up from 127.0.0.1.

let subgraph: TestSubgraph;
let testBus: TestBus;
let service: RunningService;
let sql: postgres.Sql;
let published: DomainEvent<{ organizationId: string; name: string; slug: string }>[] = [];
let owner: SignedInUser;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'in-process', { env: MANY_SIGNUPS, ...OWN_TOKENS });
  ({ testBus, service, sql } = subgraph);
  published = await recordEvents(testBus.bus, organizationCreated);
  owner = await signUp(service.url, sql);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface User {
  id: string;
  email: string;
  displayName: string;
  createdAt: string;
}
interface Organization {
  id: string;
  name: string;
  slug: string;
  createdAt: string;
}

const rowCount = async (table: 'users' | 'organizations') =>
  (await sql.unsafe<{ count: number }[]>(`select count(*)::int as count from identity.${table}`))[0]!.count;

const REGISTER = `mutation($input: RegisterInput!) {
  register(input: $input) { accepted errors { code message field } }
}`;
const CREATE_ORGANIZATION = `mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id name slug createdAt } errors { code message field } }
}`;
const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on User { id email displayName }
    ... on Organization { id name slug }
  }
}`;

type RegisterResult = { register: { accepted: boolean; errors: UserError[] } };
type CreateOrganizationResult = {
  createOrganization: { organization: Organization | null; errors: UserError[] };
};

/** The answer names no account (issue 12): `user` is the one at the address afterwards, read back. */
async function register(input: { email: string; displayName: string; password?: string }) {
  const { data, errors } = await subgraph.gql<RegisterResult>(REGISTER, {
    input: { password: 'correct horse battery staple', ...input },
  });
  expect(errors).toBeUndefined();
  const address = emailAddress.safeParse(input.email);
  const [row] = address.success
    ? await sql`select id, created_at from identity.users where email_index = ${emailIndexOf(address.data)}`
    : [];
  const opened = row && (await openedAccount(sql, row.id))!;
  const user: User | null = row
    ? {
        id: row.id,
        email: opened!.email,
        displayName: opened!.displayName,
        createdAt: row.created_at.toISOString(),
      }
    : null;
  return { ...data!.register, user };
}

async function createOrganization(input: { name: string; slug: string }) {
  const { data, errors } = await subgraph.gql<CreateOrganizationResult>(
    CREATE_ORGANIZATION,
    { input },
    owner.headers,
  );
  expect(errors).toBeUndefined();
  return data!.createOrganization;
}

let uniqueCounter = 0;
const unique = (prefix: string) => `${prefix}-${++uniqueCounter}-${Date.now().toString(36)}`;

// ---------------------------------------------------------------- users

describe('register and user(id)', () => {
  it('creates a user with a normalized email and reads it back by id', async () => {
    const { user, errors } = await register({
      email: '  Ana.Kovac@Example.COM ',
      displayName: ' Ana Kovač ',
    });
    expect(errors).toEqual([]);
    expect(user).toMatchObject({ email: 'ana.kovac@example.com', displayName: 'Ana Kovač' });
    expect(user!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);

    const { data } = await subgraph.gql<{ user: User }>(
      'query($id: ID!) { user(id: $id) { id email displayName createdAt } }',
      {
        id: user!.id,
      },
    );
    // Anonymous: everything but the address, which is for the user themself.
    expect(data!.user).toEqual({ ...user, email: null });
    expect(await openedAccount(sql, user!.id)).toEqual({
      email: 'ana.kovac@example.com',
      displayName: 'Ana Kovač',
    });
  });

  it('NFKC-normalizes the email, so full-width letters map to the same account', async () => {
    const local = unique('wide');
    const wide = [...local].map((c) =>
      /[a-z]/.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c,
    );
    const { user } = await register({ email: `${wide.join('')}@EXAMPLE.com`, displayName: 'Wide' });
    expect(user!.email).toBe(`${local}@example.com`);
    expect((await register({ email: `${local}@example.com`, displayName: 'Narrow' })).user).toEqual(user);
  });

  it('stores an argon2id hash with OWASP parameters, never the password', async () => {
    const email = `${unique('hash')}@example.com`;
    await register({ email, displayName: 'Hash', password: 'a long and unusual passphrase' });
    const [row] =
      await sql`select password_hash from identity.users where email_index = ${emailIndexOf(email)}`;
    expect(row!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row!.password_hash).not.toContain('passphrase');
  });

  it('NFKC-normalizes the display name', async () => {
    const { user } = await register({ email: `${unique('nfkc')}@example.com`, displayName: 'Ｌｅａ' });
    expect(user!.displayName).toBe('Lea');
  });

  it('finds a user by its id in upper case too', async () => {
    const { user } = await register({ email: `${unique('upper')}@example.com`, displayName: 'Upper' });
    const { data } = await subgraph.gql<{ user: User | null }>('query($id: ID!) { user(id: $id) { id } }', {
      id: user!.id.toUpperCase(),
    });
    expect(data?.user?.id).toBe(user!.id);
  });

  it('answers null, not an error, for unknown and non-UUID ids', async () => {
    const { data, errors } = await subgraph.gql<{ a: User | null; b: User | null }>(
      'query($a: ID!, $b: ID!) { a: user(id: $a) { id } b: user(id: $b) { id } }',
      { a: uuidv7(), b: 'not-a-uuid' },
    );
    expect(errors).toBeUndefined();
    expect(data).toEqual({ a: null, b: null });
  });

  it('makes no second account for the same email, and answers as for the first (issue 12)', async () => {
    const email = `${unique('twice')}@example.com`;
    const first = await register({ email, displayName: 'First' });
    expect(first).toMatchObject({ accepted: true, errors: [] });
    const before = await rowCount('users');
    const second = await register({ email: email.toUpperCase(), displayName: 'Second' });
    expect(second).toEqual(first);
    expect(await rowCount('users')).toBe(before);
  });
});

describe('register validation', () => {
  const valid = () => ({ email: `${unique('valid')}@example.com`, displayName: 'Valid Name' });

  it.each([
    ['an email without @', { email: 'not-an-email' }, 'email'],
    ['an empty email', { email: '   ' }, 'email'],
    ['an email longer than 320 characters', { email: `${'a'.repeat(320)}@example.com` }, 'email'],
    ['an empty display name', { displayName: '   ' }, 'displayName'],
    ['a display name over 80 characters', { displayName: 'x'.repeat(81) }, 'displayName'],
    ['a 7-character password', { password: 'abc1234' }, 'password'],
    ['a password of 7 code points in 14 UTF-16 units', { password: '😀😀😀😀😀😀😀' }, 'password'],
    ['a 129-character password', { password: 'x'.repeat(129) }, 'password'],
    ['a 10 KB password', { password: 'x'.repeat(10_240) }, 'password'],
    ['a common password', { password: 'password123' }, 'password'],
    ['a common password in other letter cases', { password: 'PassWord123' }, 'password'],
    ['a common keyboard walk', { password: 'qwertyuiop' }, 'password'],
    ['an email with two @', { email: 'ana@@example.com' }, 'email'],
    ['an email with a space inside', { email: 'ana kovac@example.com' }, 'email'],
    ['a 10 KB display name', { displayName: 'x'.repeat(10_240) }, 'displayName'],
    ['a NUL in the display name', { displayName: 'Ana\u0000Kovac' }, 'displayName'],
    ['a tab in the display name', { displayName: 'Ana\tKovac' }, 'displayName'],
    ['an escape sequence in the display name', { displayName: 'Ana\u001b[31mKovac' }, 'displayName'],
    ['DEL in the display name', { displayName: 'Ana\u007fKovac' }, 'displayName'],
    ['a C1 control in the display name', { displayName: 'Ana\u0085Kovac' }, 'displayName'],
    ['a right-to-left override', { displayName: 'invoice\u202Efdp.exe' }, 'displayName'],
    ['a left-to-right embedding', { displayName: 'Ana\u202AKovac' }, 'displayName'],
    ['a bidi isolate', { displayName: 'Ana\u2066Kovac\u2069' }, 'displayName'],
    ['a right-to-left mark', { displayName: 'Ana\u200FKovac' }, 'displayName'],
    ['an Arabic letter mark', { displayName: 'Ana\u061CKovac' }, 'displayName'],
    ['a zero-width space', { displayName: 'Ana\u200BKovac' }, 'displayName'],
    ['a byte order mark inside the name', { displayName: 'Ana\uFEFFKovac' }, 'displayName'],
    ['a line separator', { displayName: 'Ana\u2028Kovac' }, 'displayName'],
    ['a Cyrillic look-alike inside a Latin name', { displayName: '\u0420aypal Support' }, 'displayName'],
    ['a Greek look-alike inside a Latin name', { displayName: 'Ana Kov\u03b1c' }, 'displayName'],
  ])('rejects %s with a field error and stores nothing', async (_, override, field) => {
    const before = await rowCount('users');
    const payload = await register({ ...valid(), ...override });
    expect(payload.user).toBeNull();
    expect(payload.errors).toEqual([
      { code: 'INVALID_INPUT', message: expect.any(String), field: ['input', field] },
    ]);
    expect(await rowCount('users')).toBe(before);
  });
});

it('accepts names whose words each keep to one script, Cyrillic and Greek included', async () => {
  const { user, errors } = await register({
    email: `${unique('scripts')}@example.com`,
    displayName: 'Ана Ковач – Ana Kovač, Αθηνά',
  });
  expect(errors).toEqual([]);
  expect(user!.displayName).toBe('Ана Ковач – Ana Kovač, Αθηνά');
});

describe('register under concurrency', () => {
  it('makes exactly one account out of 20 concurrent sign-ups with one email in different cases and padding', async () => {
    const local = unique('mia');
    const variants = Array.from({ length: 20 }, (_, i) => {
      const cased = [...`${local}@example.com`]
        .map((char, j) => ((i >> (j % 5)) & 1 ? char.toUpperCase() : char))
        .join('');
      return `${[' ', '\t', '  ', ''][i % 4]}${cased}${['', ' ', '\n', '   '][(i >> 2) % 4]}`;
    });
    expect(new Set(variants).size).toBe(20);

    const results = await Promise.all(variants.map((email) => register({ email, displayName: 'Mia' })));
    // One answer for all (issue 12), one account.
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0]).toMatchObject({ accepted: true, errors: [] });
    expect(results[0]!.user!.email).toBe(`${local}@example.com`);

    const rows =
      await sql`select id from identity.users where email_index = ${emailIndexOf(`${local}@example.com`)}`;
    expect(rows.map((r) => r.id)).toEqual([results[0]!.user!.id]);
  });
});

// ---------------------------------------------------------------- organizations

describe('createOrganization, organization(id) and organizationBySlug', () => {
  it('creates an organization, reads it back both ways and announces it once on the bus', async () => {
    const slug = unique('sarajevo-jazz');
    const { organization, errors } = await createOrganization({ name: 'Sarajevo Jazz', slug });
    expect(errors).toEqual([]);
    expect(organization).toMatchObject({ name: 'Sarajevo Jazz', slug });

    const { data } = await subgraph.gql<{
      byId: Organization;
      bySlug: Organization;
      missing: Organization | null;
    }>(
      `query($id: ID!, $slug: String!) {
        byId: organization(id: $id) { id name slug createdAt }
        bySlug: organizationBySlug(slug: $slug) { id name slug createdAt }
        missing: organizationBySlug(slug: "no-such-slug") { id }
      }`,
      { id: organization!.id, slug },
    );
    expect(data).toEqual({ byId: organization, bySlug: organization, missing: null });

    const event = await waitFor(async () =>
      published.find((e) => e.payload.organizationId === organization!.id),
    );
    expect(event.type).toBe('bilten.identity.organization.created');
    expect(event.payload).toEqual({
      organizationId: organization!.id,
      name: 'Sarajevo Jazz',
      slug,
      testMode: false,
      sandboxOf: null,
    });
  });

  it('refuses a taken slug with ALREADY_EXISTS on input.slug', async () => {
    const slug = unique('taken');
    await createOrganization({ name: 'First', slug });
    const before = await rowCount('organizations');
    expect(await createOrganization({ name: 'Second', slug })).toEqual({
      organization: null,
      errors: [{ code: 'ALREADY_EXISTS', message: expect.any(String), field: ['input', 'slug'] }],
    });
    expect(await rowCount('organizations')).toBe(before);
  });
});

describe('createOrganization access', () => {
  const CREATE = CREATE_ORGANIZATION;

  it('records the creator as OWNER, carried by their next access token', async () => {
    const slug = unique('owned');
    const { organization } = await createOrganization({ name: 'Owned', slug });
    const [member] =
      await sql`select user_id, role from identity.organization_members where organization_id = ${organization!.id}`;
    expect(member).toEqual({ user_id: owner.userId, role: 'OWNER' });
    const { data } = await subgraph.gql<{ refreshToken: { accessToken: string; refreshToken: string } }>(
      'mutation($input: RefreshTokenInput!) { refreshToken(input: $input) { accessToken refreshToken } }',
      { input: { refreshToken: owner.refreshToken } },
    );
    owner.refreshToken = data!.refreshToken.refreshToken;
    const claims = claimsOf(data!.refreshToken.accessToken);
    expect(claims.orgs[organization!.id]).toBe('OWNER');
  });

  it('refuses anonymous callers (UNAUTHENTICATED) and unverified users (EMAIL_NOT_VERIFIED), storing nothing', async () => {
    const before = await rowCount('organizations');
    const anonymous = await subgraph.gql(CREATE, { input: { name: 'Anon', slug: unique('anon') } });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const unverified = await signUp(service.url, sql, { verified: false });
    const refused = await subgraph.gql(
      CREATE,
      { input: { name: 'Unverified', slug: unique('unv') } },
      unverified.headers,
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('EMAIL_NOT_VERIFIED');
    expect(await rowCount('organizations')).toBe(before);
  });
});

describe('createOrganization validation', () => {
  it.each([
    ['an empty name', { name: '  ' }, 'name'],
    ['a name over 100 characters', { name: 'n'.repeat(101) }, 'name'],
    ['a control character in the name', { name: 'Jazz\u0007Fest' }, 'name'],
    ['a bidi override in the name', { name: 'Jazz\u202EFest' }, 'name'],
    ['a homoglyph in the name (Cyrillic а in a Latin word)', { name: 'Jazz F\u0435st' }, 'name'],
    ['a slug in upper case', { slug: 'Jazz-Fest' }, 'slug'],
    ['a one-character slug', { slug: 'j' }, 'slug'],
    ['a slug over 50 characters', { slug: 'j'.repeat(51) }, 'slug'],
    ['a slug starting with a dash', { slug: '-jazz' }, 'slug'],
    ['a slug ending with a dash', { slug: 'jazz-' }, 'slug'],
    ['a slug with a space', { slug: 'jazz fest' }, 'slug'],
    ['a slug with SQL in it', { slug: "x'; drop table identity.organizations; --" }, 'slug'],
  ])('rejects %s with a field error and stores nothing', async (_, override, field) => {
    const before = await rowCount('organizations');
    const payload = await createOrganization({ name: 'Valid Name', slug: unique('valid'), ...override });
    expect(payload.organization).toBeNull();
    expect(payload.errors).toEqual([
      { code: 'INVALID_INPUT', message: expect.any(String), field: ['input', field] },
    ]);
    expect(await rowCount('organizations')).toBe(before);
  });
});

describe('createOrganization under concurrency', () => {
  it('lets exactly one of 20 concurrent creations with the same slug win and announces only that one', async () => {
    const slug = unique('race');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => createOrganization({ name: `Racer ${i}`, slug })),
    );
    const winners = results.filter((r) => r.organization);
    expect(winners).toHaveLength(1);
    const losers = results.filter((r) => !r.organization);
    expect(losers).toHaveLength(19);
    for (const r of losers)
      expect(r.errors).toEqual([
        { code: 'ALREADY_EXISTS', message: expect.any(String), field: ['input', 'slug'] },
      ]);

    const rows = await sql`select id from identity.organizations where slug = ${slug}`;
    expect(rows.map((r) => r.id)).toEqual([winners[0]!.organization!.id]);
    await waitFor(async () => published.some((e) => e.payload.slug === slug));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(published.filter((e) => e.payload.slug === slug)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------- federation

describe('federation _entities', () => {
  let users: User[];
  let organizations: Organization[];

  beforeAll(async () => {
    users = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const { user } = await register({
          email: `${unique('entity')}@example.com`,
          displayName: `Entity ${i}`,
        });
        return user!;
      }),
    );
    organizations = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const { organization } = await createOrganization({
          name: `Entity Org ${i}`,
          slug: unique('entity-org'),
        });
        return organization!;
      }),
    );
  });

  const entities = (representations: Array<{ __typename: string; id: string }>) =>
    subgraph.gql<{ _entities: Array<Record<string, string> | null> }>(ENTITIES, { representations });

  it('answers many User and Organization representations in the order asked', async () => {
    const asked = [...users].reverse().map((u) => ({ __typename: 'User', id: u.id }));
    const { data, errors } = await entities(asked);
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual(
      [...users]
        .reverse()
        .map((u) => ({ __typename: 'User', id: u.id, email: null, displayName: u.displayName })),
    );
  });

  it('yields null for unknown and non-UUID ids, in place, without an error', async () => {
    const [u0, u1] = users;
    const [o0] = organizations;
    const { data, errors } = await entities([
      { __typename: 'User', id: u0!.id },
      { __typename: 'User', id: uuidv7() },
      { __typename: 'Organization', id: o0!.id },
      { __typename: 'User', id: 'not-a-uuid' },
      { __typename: 'Organization', id: "1' or '1'='1" },
      { __typename: 'Organization', id: uuidv7() },
      { __typename: 'User', id: u1!.id },
    ]);
    expect(errors).toBeUndefined();
    expect(data!._entities.map((e) => e?.id ?? null)).toEqual([
      u0!.id,
      null,
      o0!.id,
      null,
      null,
      null,
      u1!.id,
    ]);
  });

  it('costs one SQL statement for 10 users', async () => {
    const representations = users.map((u) => ({ __typename: 'User', id: u.id }));
    expect(await statementsOf(service.url, () => entities(representations))).toBe(1);
  });

  it('costs one SQL statement per loader for 10 users and 10 organizations mixed', async () => {
    const representations = users.flatMap((u, i) => [
      { __typename: 'User', id: u.id },
      { __typename: 'Organization', id: organizations[i]!.id },
    ]);
    expect(await statementsOf(service.url, () => entities(representations))).toBe(2);
  });

  it('costs no statement when no id is a UUID', async () => {
    const representations = Array.from({ length: 10 }, (_, i) => ({ __typename: 'User', id: `nope-${i}` }));
    expect(await statementsOf(service.url, () => entities(representations))).toBe(0);
  });
});

describe('user(id) and User references', () => {
  const USER = 'query($id: ID!) { user(id: $id) { id email displayName } }';
  const ENTITY = `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { id email } } }`;

  it('shows the email address only to the user themself and platform administrators', async () => {
    const target = await signUp(service.url, sql);
    const stranger = await signUp(service.url, sql);
    const admin = await signUp(service.url, sql);
    await sql`update identity.users set roles = '{ADMIN}' where id = ${admin.userId}`;
    const { data } = await subgraph.gql<{ login: { accessToken: string } }>(
      'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { email: admin.email, password: admin.password } },
    );
    const adminHeaders = { authorization: `Bearer ${data!.login.accessToken}` };
    const emailSeenBy = async (headers: Record<string, string>) => {
      const direct = await subgraph.gql<{ user: { email: string | null } }>(
        USER,
        { id: target.userId },
        headers,
      );
      const entity = await subgraph.gql<{ _entities: Array<{ email: string | null }> }>(
        ENTITY,
        { representations: [{ __typename: 'User', id: target.userId }] },
        headers,
      );
      expect(direct.errors).toBeUndefined();
      expect(entity.data!._entities[0]!.email).toBe(direct.data!.user.email);
      return direct.data!.user.email;
    };
    expect(await emailSeenBy({})).toBeNull();
    expect(await emailSeenBy(stranger.headers)).toBeNull();
    expect(await emailSeenBy(target.headers)).toBe(target.email);
    expect(await emailSeenBy(adminHeaders)).toBe(target.email);
  });
});
