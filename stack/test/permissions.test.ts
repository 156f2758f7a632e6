import { randomUUID } from 'node:crypto';
import { graphql, invitationTokenOf, refreshAccess, type SignedInUser, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventInput, startTestStack, type TestStack } from './support.ts';

/**
 * Every organization-scoped mutation (identity's, branding's and catalog's) against every kind of
 * caller, through the gateway: only the right callers pass; everyone else gets FORBIDDEN,
 * UNAUTHENTICATED or EMAIL_NOT_VERIFIED and no data (or, for another organization's draft, the
 * answer to an unknown id), and nothing changes.
 */

let stack: TestStack;
/** Organization A, where the roles below hold, and B, owned by `otherOwner`. */
let orgA: string;
let orgB: string;
const callers = {} as Record<Caller, Record<string, string>>;
let owner: SignedInUser;
let staff: SignedInUser;

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
    { organizationId, name: 'matrix', scopes, mode: 'LIVE' },
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
  const platformAdmin = await stack.signUpAdmin();

  callers.anonymous = {};
  callers.unverified = (await signedIn({ verified: false })).headers;
  callers.customer = (await signedIn()).headers;
  staff = await member('STAFF');
  callers.staff = staff.headers;
  callers.admin = (await member('ADMIN')).headers;
  callers.owner = owner.headers;
  callers.otherOwner = otherOwner.headers;
  callers.platformAdmin = platformAdmin.headers;
  const allScopes = ['events:read', 'events:write', 'orders:read', 'orders:write', 'reports:read', 'checkin'];
  callers.apiKey = (await apiKey(orgA, owner, allScopes)).headers;
  callers.otherApiKey = (await apiKey(orgB, otherOwner, allScopes)).headers;
  // Every scope but events:write: reading events is not changing them.
  callers.apiKeyWithoutScope = (
    await apiKey(orgA, owner, ['events:read', 'orders:read', 'orders:write', 'reports:read'])
  ).headers;
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
});

interface Case {
  mutation: string;
  /** Fresh input per caller (a success changes things). */
  input: () => Promise<unknown>;
  allowed: Caller[];
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

/** Allowed callers get the payload without errors; everyone else only the refusal, and no data. */
function expectAnswer(result: Result, mutation: string, allowed: boolean, caller: Caller) {
  if (allowed) {
    expect(result.errors).toBeUndefined();
    expect((result.data![mutation] as { errors: unknown[] }).errors).toEqual([]);
  } else {
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual([
      expectedRefusal(caller, mutation),
    ]);
  }
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
      expectAnswer(result, mutation, spec.allowed.includes(caller), caller);
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

// ---------------------------------------------------------------- catalog

const CREATE_EVENT =
  'mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id version title } errors { code } } }';
const UPDATE_EVENT =
  'mutation($input: UpdateEventInput!) { updateEvent(input: $input) { event { id version title } errors { code } } }';
const ADD_TICKET_TYPE =
  'mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id name } errors { code } } }';
const PUBLISH_EVENT =
  'mutation($input: EventIdInput!) { publishEvent(input: $input) { event { id status } errors { code } } }';

/** A mutation by organization A's OWNER that has to succeed; its payload. */
async function byOwner<T>(mutation: string, input: unknown): Promise<T> {
  const result = await call(mutation, input, owner.headers);
  expect(result.errors).toBeUndefined();
  const [payload] = Object.values(result.data!) as Array<T & { errors: unknown[] }>;
  expect(payload!.errors).toEqual([]);
  return payload!;
}

const ticketTypeInput = (eventId: string) => ({
  eventId,
  name: 'General',
  price: { amount: 1500, currency: 'EUR' },
  capacity: 50,
});

/** A draft of organization A. */
async function draftEvent() {
  return (
    await byOwner<{ event: { id: string; version: number } }>(
      CREATE_EVENT,
      eventInput(orgA, `Matrix ${randomUUID().slice(0, 8)}`),
    )
  ).event;
}

/** A draft of organization A with one ticket type: ready to publish. */
async function eventWithTicketType() {
  const event = await draftEvent();
  const { ticketType } = await byOwner<{ ticketType: { id: string } }>(
    ADD_TICKET_TYPE,
    ticketTypeInput(event.id),
  );
  return { eventId: event.id, ticketTypeId: ticketType.id };
}

async function publishedEvent() {
  const { eventId } = await eventWithTicketType();
  await byOwner(PUBLISH_EVENT, { id: eventId });
  return eventId;
}

/**
 * Organization A's OWNERs and ADMINs, and its API keys with events:write. Not platform ADMINs:
 * they run the platform, not the organizers' catalogs, and act there only as members.
 */
const EDITORS: Caller[] = ['admin', 'owner', 'apiKey'];

const CATALOG_CASES: Record<string, Case> = {
  createEvent: {
    mutation: CREATE_EVENT,
    input: async () => eventInput(orgA, `Matrix ${randomUUID().slice(0, 8)}`),
    allowed: EDITORS,
  },
  updateEvent: {
    mutation: UPDATE_EVENT,
    input: async () => {
      const { id, version } = await draftEvent();
      return { id, expectedVersion: version, title: 'Renamed' };
    },
    allowed: EDITORS,
  },
  addTicketType: {
    mutation: ADD_TICKET_TYPE,
    input: async () => ticketTypeInput((await draftEvent()).id),
    allowed: EDITORS,
  },
  updateTicketType: {
    mutation:
      'mutation($input: UpdateTicketTypeInput!) { updateTicketType(input: $input) { ticketType { id name } errors { code } } }',
    input: async () => ({ id: (await eventWithTicketType()).ticketTypeId, name: 'Renamed' }),
    allowed: EDITORS,
  },
  publishEvent: {
    mutation: PUBLISH_EVENT,
    input: async () => ({ id: (await eventWithTicketType()).eventId }),
    allowed: EDITORS,
  },
  unpublishEvent: {
    mutation:
      'mutation($input: EventIdInput!) { unpublishEvent(input: $input) { event { id status } errors { code } } }',
    input: async () => ({ id: await publishedEvent() }),
    allowed: EDITORS,
  },
  cancelEvent: {
    mutation:
      'mutation($input: CancelEventInput!) { cancelEvent(input: $input) { event { id status } errors { code } } }',
    input: async () => ({ id: await publishedEvent(), reason: 'Matrix' }),
    allowed: EDITORS,
  },
  deleteEvent: {
    mutation:
      'mutation($input: EventIdInput!) { deleteEvent(input: $input) { deletedEventId event { id status } errors { code } } }',
    input: async () => ({ id: (await draftEvent()).id }),
    allowed: EDITORS,
  },
  duplicateEvent: {
    mutation:
      'mutation($input: DuplicateEventInput!) { duplicateEvent(input: $input) { event { id title } errors { code } } }',
    input: async () => ({ id: (await draftEvent()).id }),
    allowed: EDITORS,
  },
  restoreEventVersion: {
    mutation:
      'mutation($input: RestoreEventVersionInput!) { restoreEventVersion(input: $input) { event { id version title } errors { code } } }',
    input: async () => {
      const created = await draftEvent();
      const { event } = await byOwner<{ event: { version: number } }>(UPDATE_EVENT, {
        id: created.id,
        expectedVersion: created.version,
        title: 'Renamed',
      });
      return { eventId: created.id, version: created.version, expectedVersion: event.version };
    },
    allowed: EDITORS,
  },
  addOccurrences: {
    mutation:
      'mutation($input: AddOccurrencesInput!) { addOccurrences(input: $input) { occurrences { id startsAt } errors { code } } }',
    input: async () => ({ eventId: (await draftEvent()).id, startsAt: ['2027-07-01T19:00:00Z'] }),
    allowed: EDITORS,
  },
};

/**
 * Row counts and contents of catalog's tables; of the outbox only the count of domain events (the
 * relay marks rows sent; a refusal adds a security event there, which security monitoring counts).
 */
async function catalogState() {
  const state: Record<string, unknown> = {};
  for (const table of ['events', 'ticket_types', 'event_versions', 'audit_log']) {
    [state[table]] = await stack.sql.unsafe(
      `select count(*)::int as rows, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest
       from catalog.${table} t`,
    );
  }
  [state.outbox] = await stack.sql`
    select count(*)::int as rows from catalog.outbox where type <> 'bilten.catalog.security_event.recorded'`;
  return state;
}

/** Who sees organization A's drafts: its members and its API keys with events:read. */
const SEE_DRAFTS: Caller[] = ['staff', 'admin', 'owner', 'apiKey', 'apiKeyWithoutScope'];
/** Cases on a published event, or on no event at all: everyone knows what they name. */
const ON_PUBLIC = new Set(['createEvent', 'unpublishEvent', 'cancelEvent']);

describe('catalog permission matrix (through the gateway)', () => {
  for (const [mutation, spec] of Object.entries(CATALOG_CASES)) {
    it.each(CALLERS)(`${mutation} as %s`, async (caller) => {
      const input = await spec.input();
      const before = await catalogState();
      const result = await call(spec.mutation, input, callers[caller]);
      const allowed = spec.allowed.includes(caller);
      if (!allowed && caller !== 'anonymous' && !SEE_DRAFTS.includes(caller) && !ON_PUBLIC.has(mutation)) {
        // Another organization's draft does not exist for them: the answer to an unknown id
        // (deleteEvent answers that as deleted already, changing nothing).
        expect(result.errors).toBeUndefined();
        const { errors } = result.data![mutation] as { errors: Array<{ code: string }> };
        expect(errors.map((error) => error.code)).toEqual(mutation === 'deleteEvent' ? [] : ['NOT_FOUND']);
      } else {
        expectAnswer(result, mutation, allowed, caller);
      }
      if (!spec.allowed.includes(caller)) expect(await catalogState()).toEqual(before);
    });
  }
});

describe('notifications through the gateway', () => {
  it('shows members’ notifications to nobody but themselves, not even their organization’s OWNER', async () => {
    const members = await call(
      'query($input: ID!) { organization(id: $input) { members { user { id notifications { edges { cursor } } } } } }',
      orgA,
      owner.headers,
    );
    const users = (
      members.data!.organization as {
        members: Array<{ user: { id: string; notifications: unknown } }>;
      }
    ).members.map((m) => m.user);
    expect(users.find((user) => user.id === owner.userId)?.notifications).toEqual({ edges: [] });
    const others = users.filter((user) => user.id !== owner.userId);
    expect(others.map((user) => user.id)).toContain(staff.userId);
    expect(others.map((user) => user.notifications)).toEqual(others.map(() => null));
    expect(new Set(members.errors?.map((error) => error.extensions?.code))).toEqual(new Set(['FORBIDDEN']));

    const own = await call('{ me { notifications { edges { cursor } } } }', undefined, staff.headers);
    expect(own).toEqual({ data: { me: { notifications: { edges: [] } } } });
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

  it('stops accepting a revoked key within a second, though the gateway held a token for it', async () => {
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
    // The gateway asks identity about the key again after at most a second (revocation.test.ts
    // shows every subgraph refusing the token it held as well).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = await call(ME, undefined, key.headers);
    expect(after.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });
});
