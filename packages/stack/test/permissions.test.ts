import { randomUUID } from 'node:crypto';
import { graphql, invitationTokenOf, refreshAccess, type SignedInUser, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from './support.ts';

/**
 * Every organization-scoped mutation against every kind of caller, through the gateway: only the
 * right callers pass; everyone else gets FORBIDDEN, UNAUTHENTICATED or EMAIL_NOT_VERIFIED and no
 * data, and nothing changes. (Catalog's mutations are covered in catalog's own tests.)
 */

let stack: TestStack;
/** Organization A, where the roles below hold, and B, owned by `otherOwner`. */
let orgA: string;
let orgB: string;
const callers = {} as Record<Caller, Record<string, string>>;
let owner: SignedInUser;

const CALLERS = [
  'anonymous',
  'unverified',
  'customer',
  'staff',
  'admin',
  'owner',
  'otherOwner',
  'platformAdmin',
  'apiKey',
  'otherApiKey',
  'apiKeyWithoutScope',
] as const;
type Caller = (typeof CALLERS)[number];

interface Result {
  data?: Record<string, unknown> | null;
  errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

const call = async (query: string, input: unknown, headers: Record<string, string>) =>
  (await graphql<Record<string, unknown>, { input: unknown }>(stack.url, query, { input }, headers))
    .body as Result;

async function signedIn(options?: { verified?: boolean }) {
  return stack.signUp(options);
}

async function createOrganization(as: SignedInUser) {
  const slug = `perm-${randomUUID().slice(0, 8)}`;
  const result = await call(
    'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } errors { code } } }',
    { name: `Org ${slug}`, slug },
    as.headers,
  );
  const id = (result.data!.createOrganization as { organization: { id: string } }).organization.id;
  await refreshAccess(stack.url, as);
  return id;
}

async function invite(organizationId: string, email: string, role: string) {
  const result = await call(
    'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id } errors { code } } }',
    { organizationId, email, role },
    owner.headers,
  );
  return (result.data!.inviteMember as { invitation: { id: string } }).invitation.id;
}

/** A fresh verified user who joined organization A with `role`. */
async function member(role: 'STAFF' | 'ADMIN') {
  const user = await signedIn();
  const token = await invitationTokenOf(stack.sql, await invite(orgA, user.email, role));
  const accepted = await call(
    'mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { role errors { code } } }',
    { token },
    user.headers,
  );
  expect(accepted.data!.acceptInvitation).toEqual({ role, errors: [] });
  return refreshAccess(stack.url, user);
}

async function apiKey(organizationId: string, as: SignedInUser, scopes: string[]) {
  const result = await call(
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret errors { code } } }',
    { organizationId, name: 'matrix', scopes, mode: 'TEST' },
    as.headers,
  );
  const created = result.data!.createApiKey as { apiKey: { id: string }; secret: string };
  return { id: created.apiKey.id, headers: { authorization: `Bearer ${created.secret}` } };
}

beforeAll(async () => {
  stack = await startTestStack('in-process');
  owner = await signedIn();
  orgA = await createOrganization(owner);
  const otherOwner = await signedIn();
  orgB = await createOrganization(otherOwner);
  const platformAdmin = await signedIn();
  // Platform administrators come from admin:create or the bootstrap variables (tested in identity).
  await stack.sql`update identity.users set roles = '{ADMIN}' where id = ${platformAdmin.userId}`;
  await refreshAccess(stack.url, platformAdmin);

  callers.anonymous = {};
  callers.unverified = (await signedIn({ verified: false })).headers;
  callers.customer = (await signedIn()).headers;
  callers.staff = (await member('STAFF')).headers;
  callers.admin = (await member('ADMIN')).headers;
  callers.owner = owner.headers;
  callers.otherOwner = otherOwner.headers;
  callers.platformAdmin = platformAdmin.headers;
  const allScopes = ['events:read', 'events:write', 'orders:read', 'orders:write', 'reports:read'];
  callers.apiKey = (await apiKey(orgA, owner, allScopes)).headers;
  callers.otherApiKey = (await apiKey(orgB, otherOwner, allScopes)).headers;
  callers.apiKeyWithoutScope = (await apiKey(orgA, owner, ['reports:read'])).headers;
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
});

interface Case {
  mutation: string;
  /** Fresh input per caller (a success changes things). */
  input: () => Promise<unknown>;
  allowed: Caller[];
  /** What else the refusal is, for callers who are signed in but not allowed. */
  refusedAs?: Partial<Record<Caller, string>>;
}

const ADMINS: Caller[] = ['admin', 'owner'];

const CASES: Record<string, Case> = {
  inviteMember: {
    mutation:
      'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id email } errors { code } } }',
    input: async () => ({
      organizationId: orgA,
      email: `new-${randomUUID().slice(0, 8)}@example.com`,
      role: 'STAFF',
    }),
    allowed: ADMINS,
  },
  revokeInvitation: {
    mutation:
      'mutation($input: RevokeInvitationInput!) { revokeInvitation(input: $input) { invitation { id email } errors { code } } }',
    input: async () => ({ id: await invite(orgA, `r-${randomUUID().slice(0, 8)}@example.com`, 'STAFF') }),
    allowed: ADMINS,
  },
  changeMemberRole: {
    mutation:
      'mutation($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { member { role user { id email } } errors { code } } }',
    input: async () => ({ organizationId: orgA, userId: (await member('STAFF')).userId, role: 'ADMIN' }),
    allowed: ADMINS,
  },
  removeMember: {
    mutation:
      'mutation($input: RemoveMemberInput!) { removeMember(input: $input) { removedUserId errors { code } } }',
    input: async () => ({ organizationId: orgA, userId: (await member('STAFF')).userId }),
    allowed: ADMINS,
  },
  createApiKey: {
    mutation:
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret errors { code } } }',
    input: async () => ({ organizationId: orgA, name: 'x', scopes: ['events:read'], mode: 'LIVE' }),
    allowed: ADMINS,
  },
  revokeApiKey: {
    mutation:
      'mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { id prefix } errors { code } } }',
    input: async () => ({ id: (await apiKey(orgA, owner, ['events:read'])).id }),
    allowed: ADMINS,
  },
  updateBrandKit: {
    mutation:
      'mutation($input: UpdateBrandKitInput!) { updateBrandKit(input: $input) { brandKit { id primaryColor } errors { code } } }',
    input: async () => ({ organizationId: orgA, primaryColor: '#123456' }),
    allowed: ADMINS,
  },
  createOrganization: {
    mutation:
      'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } errors { code } } }',
    input: async () => {
      const slug = `m-${randomUUID().slice(0, 8)}`;
      return { name: slug, slug };
    },
    // Any verified person; the creator becomes its OWNER.
    allowed: ['customer', 'staff', 'admin', 'owner', 'otherOwner', 'platformAdmin'],
  },
};

/** The refusal each caller gets when not allowed. */
function expectedRefusal(caller: Caller, mutation: string): string {
  if (caller === 'anonymous') return 'UNAUTHENTICATED';
  // Unverified users are stopped at the door of anything an organization does.
  if (caller === 'unverified' && mutation === 'createOrganization') return 'EMAIL_NOT_VERIFIED';
  return 'FORBIDDEN';
}

describe('permission matrix (through the gateway)', () => {
  beforeAll(async () => {
    // The default brand kit of A arrives by event; updateBrandKit needs it.
    await waitFor(async () => {
      const { data } = await call(
        'query($input: ID!) { organization(id: $input) { branding { id } } }',
        orgA,
        callers.owner,
      );
      return (data?.organization as { branding: unknown } | null)?.branding;
    });
  });

  for (const [mutation, spec] of Object.entries(CASES)) {
    it.each(CALLERS)(`${mutation} as %s`, async (caller) => {
      const result = await call(spec.mutation, await spec.input(), callers[caller]);
      if (spec.allowed.includes(caller)) {
        expect(result.errors).toBeUndefined();
        expect((result.data![mutation] as { errors: unknown[] }).errors).toEqual([]);
      } else {
        expect(result.data ?? null).toBeNull();
        expect(result.errors?.map((error) => error.extensions?.code)).toEqual([
          expectedRefusal(caller, mutation),
        ]);
      }
    });
  }

  it('never changes another organization through its ids (no IDOR)', async () => {
    const member = await call(
      'query($input: ID!) { organization(id: $input) { members { user { id } role } apiKeys { id } invitations { id } } }',
      orgB,
      callers.owner,
    );
    expect(member.data!.organization).toEqual({ members: null, apiKeys: null, invitations: null });
    expect(new Set(member.errors?.map((error) => error.extensions?.code))).toEqual(new Set(['FORBIDDEN']));
    const [kit] =
      await stack.sql`select primary_color from branding.brand_kits where organization_id = ${orgB}`;
    expect(kit?.primary_color).not.toBe('#123456');
    const [{ owners }] = await stack.sql<[{ owners: number }]>`
      select count(*)::int as owners from identity.organization_members where organization_id = ${orgB}`;
    expect(owners).toBe(1);
  });
});

describe('API keys at the gateway', () => {
  const ME = '{ me { id } }';

  it('turns a valid key into an authenticated caller who is not a user', async () => {
    const result = await call('mutation { logoutEverywhere { revokedSessions } }', undefined, callers.apiKey);
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    const me = await call(ME, undefined, callers.apiKey);
    expect(me).toEqual({ data: { me: null } });
  });

  it('answers unknown, malformed and revoked keys the same: UNAUTHENTICATED', async () => {
    const revoked = await apiKey(orgA, owner, ['events:read']);
    await call(
      'mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { errors { code } } }',
      { id: revoked.id },
      owner.headers,
    );
    const answers = [];
    for (const authorization of [
      `Bearer bk_live_${'A'.repeat(43)}`,
      'Bearer bk_test_nope',
      revoked.headers.authorization,
    ]) {
      const { status, body } = await graphql<unknown, never>(stack.url, ME, undefined, { authorization });
      answers.push({
        status,
        codes: body.errors?.map((error) => error.extensions?.code),
        data: body.data ?? null,
      });
    }
    expect(answers).toEqual(answers.map(() => ({ status: 401, codes: ['UNAUTHENTICATED'], data: null })));
  });

  it('stops accepting a revoked key once its cached token is due (within a minute)', async () => {
    const key = await apiKey(orgA, owner, ['events:read']);
    expect((await call(ME, undefined, key.headers)).errors).toBeUndefined();
    const listed = await call(
      'query($input: ID!) { organization(id: $input) { apiKeys { id lastUsedAt } } }',
      orgA,
      owner.headers,
    );
    const keys = (listed.data!.organization as { apiKeys: Array<{ id: string; lastUsedAt: string | null }> })
      .apiKeys;
    expect(keys.find((candidate) => candidate.id === key.id)?.lastUsedAt).not.toBeNull();

    await call(
      'mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { errors { code } } }',
      { id: key.id },
      owner.headers,
    );
    // The gateway still holds a token for the key: accepted until that token is due.
    expect((await call(ME, undefined, key.headers)).errors).toBeUndefined();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 50_000 });
    try {
      const after = await call(ME, undefined, key.headers);
      expect(after.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    } finally {
      vi.useRealTimers();
    }
  });
});
