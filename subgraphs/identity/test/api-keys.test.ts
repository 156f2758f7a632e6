import { randomBytes, randomUUID } from 'node:crypto';
import { createTokenVerifier } from '@bilten/platform';
import {
  refreshAccess,
  type SignedInUser,
  signUp,
  startTestSubgraph,
  type TestSubgraph,
  type UserError,
} from '@bilten/testkit';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identitySubgraph } from '../src/server.ts';
import { claimsOf, codeOf, MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

let subgraph: TestSubgraph;
let url: string;
let sql: postgres.Sql;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'in-process', { env: MANY_SIGNUPS, ...OWN_TOKENS });
  url = subgraph.service.url;
  sql = subgraph.sql;
});

afterAll(async () => {
  await subgraph?.dispose();
});

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  mode: 'LIVE' | 'TEST';
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const KEY_FIELDS = 'id name prefix scopes mode createdAt lastUsedAt revokedAt';
const CREATE = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { apiKey { ${KEY_FIELDS} } secret errors { code message field } } }`;
const REVOKE = `mutation($input: RevokeApiKeyInput!) {
  revokeApiKey(input: $input) { apiKey { ${KEY_FIELDS} } errors { code field } } }`;
const KEYS = `query($id: ID!) { organization(id: $id) { apiKeys { ${KEY_FIELDS} } } }`;

type CreateResult = {
  createApiKey: { apiKey: ApiKey | null; secret: string | null; errors: UserError[] } | null;
};

async function organization() {
  const owner = await signUp(url, sql);
  const slug = `keys-${randomUUID().slice(0, 8)}`;
  const { data } = await subgraph.gql<{ createOrganization: { organization: { id: string } } }>(
    'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }',
    { input: { name: 'Keys', slug } },
    owner.headers,
  );
  await refreshAccess(url, owner);
  return { id: data!.createOrganization.organization.id, owner };
}

async function createKey(as: SignedInUser, organizationId: string, overrides: Record<string, unknown> = {}) {
  const input = {
    organizationId,
    name: 'Box office sync',
    scopes: ['events:read', 'orders:read'],
    mode: 'TEST',
    ...overrides,
  };
  return subgraph.gql<CreateResult>(CREATE, { input }, as.headers);
}

/** identity's internal route, as the gateway calls it. */
async function exchange(secret: string) {
  const response = await fetch(new URL('/internal/api-keys/exchange', url), {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}` },
  });
  return {
    status: response.status,
    body: (await response.json()) as { accessToken?: string; expiresIn?: number },
  };
}

describe('createApiKey, organization.apiKeys and revokeApiKey', () => {
  it('shows the secret once and stores only its hash and a prefix', async () => {
    const { id, owner } = await organization();
    const created = await createKey(owner, id, { scopes: ['orders:read', 'events:read', 'orders:read'] });
    const { apiKey, secret, errors } = created.data!.createApiKey!;
    expect(errors).toEqual([]);
    expect(secret).toMatch(/^bk_test_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({
      name: 'Box office sync',
      prefix: secret!.slice(0, 14),
      scopes: ['orders:read', 'events:read'],
      mode: 'TEST',
      lastUsedAt: null,
      revokedAt: null,
    });
    const live = (await createKey(owner, id, { mode: 'LIVE' })).data!.createApiKey!;
    expect(live.secret).toMatch(/^bk_live_/);
    expect(live.secret).not.toBe(secret);

    const rows = await sql`select * from identity.api_keys where organization_id = ${id}`;
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain(secret!.slice(14));
    const listed = await subgraph.gql<{ organization: { apiKeys: ApiKey[] } }>(KEYS, { id }, owner.headers);
    expect(listed.data!.organization.apiKeys.map((key) => key.id)).toEqual([live.apiKey!.id, apiKey!.id]);
    expect(JSON.stringify(listed)).not.toContain(secret!.slice(14));
  });

  it('accepts only scopes from the closed list, at least one, and a name', async () => {
    const { id, owner } = await organization();
    const errorsOf = async (overrides: Record<string, unknown>) =>
      (await createKey(owner, id, overrides)).data!.createApiKey!.errors.map((error) => error.field);
    expect(await errorsOf({ scopes: ['events:read', 'admin'] })).toEqual([['input', 'scopes', '1']]);
    expect(await errorsOf({ scopes: [] })).toEqual([['input', 'scopes']]);
    expect(await errorsOf({ name: ' \u0000 ' })).toEqual([['input', 'name']]);
    expect(await sql`select id from identity.api_keys where organization_id = ${id}`).toEqual([]);
  });

  it('is for ADMIN and up of the organization only', async () => {
    const { id, owner } = await organization();
    const other = await organization();
    const customer = await signUp(url, sql);
    expect(codeOf(await createKey(customer, id))).toBe('FORBIDDEN');
    expect(codeOf(await createKey(other.owner, id))).toBe('FORBIDDEN');
    expect(
      codeOf(
        await subgraph.gql<CreateResult>(CREATE, {
          input: { organizationId: id, name: 'x', scopes: ['events:read'], mode: 'TEST' },
        }),
      ),
    ).toBe('UNAUTHENTICATED');
    const key = (await createKey(owner, id)).data!.createApiKey!.apiKey!;
    const byOther = await subgraph.gql<{ revokeApiKey: unknown }>(
      REVOKE,
      { input: { id: key.id } },
      other.owner.headers,
    );
    expect(byOther.data).toBeNull();
    expect(codeOf(byOther)).toBe('FORBIDDEN');
    const unknown = await subgraph.gql<{ revokeApiKey: unknown }>(
      REVOKE,
      { input: { id: randomUUID() } },
      owner.headers,
    );
    expect(codeOf(unknown)).toBe('FORBIDDEN');
    const [row] = await sql`select revoked_at from identity.api_keys where id = ${key.id}`;
    expect(row!.revoked_at).toBeNull();
    const listed = await subgraph.gql<{ organization: { apiKeys: ApiKey[] | null } }>(
      KEYS,
      { id },
      other.owner.headers,
    );
    expect(listed.data!.organization.apiKeys).toBeNull();
    expect(codeOf(listed)).toBe('FORBIDDEN');
  });
});

describe('exchanging a key for an access token', () => {
  it('signs a one-minute token for the organization, scopes and mode that every subgraph reads', async () => {
    const { id, owner } = await organization();
    const { apiKey, secret } = (await createKey(owner, id, { mode: 'LIVE' })).data!.createApiKey!;
    const { status, body } = await exchange(secret!);
    expect(status).toBe(200);
    expect(body.expiresIn).toBe(60);
    const verify = createTokenVerifier({
      issuer: 'bilten-identity',
      audience: 'bilten',
      jwksUrl: new URL('/.well-known/jwks.json', url).toString(),
    });
    expect(await verify(`Bearer ${body.accessToken}`)).toEqual({
      kind: 'apiKey',
      keyId: apiKey!.id,
      organizationId: id,
      scopes: ['events:read', 'orders:read'],
      mode: 'LIVE',
      tokenId: expect.any(String),
    });
    const claims = claimsOf(body.accessToken!);
    expect(claims.exp - claims.iat).toBe(60);
    // An API key is never a user: identity's user-only fields refuse it.
    const asKey = await subgraph.gql<{ organization: { apiKeys: unknown } }>(
      KEYS,
      { id },
      {
        authorization: `Bearer ${body.accessToken}`,
      },
    );
    expect(codeOf(asKey)).toBe('FORBIDDEN');
  });

  it('records the last use at most once a minute', async () => {
    const { id, owner } = await organization();
    const { apiKey, secret } = (await createKey(owner, id)).data!.createApiKey!;
    await exchange(secret!);
    const [first] = await sql`select last_used_at from identity.api_keys where id = ${apiKey!.id}`;
    expect(first!.last_used_at).toBeInstanceOf(Date);
    await exchange(secret!);
    const [second] = await sql`select last_used_at from identity.api_keys where id = ${apiKey!.id}`;
    expect(second!.last_used_at).toEqual(first!.last_used_at);
    await sql`update identity.api_keys set last_used_at = now() - interval '61 seconds' where id = ${apiKey!.id}`;
    await exchange(secret!);
    const [third] = await sql`select last_used_at from identity.api_keys where id = ${apiKey!.id}`;
    expect(third!.last_used_at.getTime()).toBeGreaterThan(Date.now() - 10_000);
  });

  it('answers 401 alike for revoked, unknown and malformed keys', async () => {
    const { id, owner } = await organization();
    const { apiKey, secret } = (await createKey(owner, id)).data!.createApiKey!;
    const revoked = await subgraph.gql<{ revokeApiKey: { apiKey: ApiKey; errors: UserError[] } }>(
      REVOKE,
      { input: { id: apiKey!.id } },
      owner.headers,
    );
    expect(revoked.data!.revokeApiKey.apiKey.revokedAt).not.toBeNull();
    const answers = await Promise.all(
      [secret!, `bk_test_${randomBytes(32).toString('base64url')}`, 'bk_test_short', 'garbage', ''].map(
        exchange,
      ),
    );
    expect(answers).toEqual(answers.map(() => ({ status: 401, body: { error: 'invalid API key' } })));
  });
});
