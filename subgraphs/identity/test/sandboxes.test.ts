import { randomBytes, randomUUID } from 'node:crypto';
import { organizationEventsClosed } from '@bilten/contracts/catalog';
import { newEvent } from '@bilten/platform';
import { CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import {
  invitationTokenOf,
  recordEvents,
  refreshAccess,
  type SignedInUser,
  signUp,
  startTestSubgraph,
  type TestSubgraph,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyRevoked, organizationClosureRequested, organizationCreated } from '../src/events.ts';
import { identitySubgraph } from '../src/server.ts';
import { claimsOf, codeOf, MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

let subgraph: TestSubgraph;
let url: string;
let sql: postgres.Sql;
let created: Awaited<ReturnType<typeof recordEvents<typeof organizationCreated.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'in-process', { env: MANY_SIGNUPS, ...OWN_TOKENS });
  url = subgraph.service.url;
  sql = subgraph.sql;
  created = await recordEvents(subgraph.testBus.bus, organizationCreated);
});

afterAll(async () => {
  await subgraph?.dispose();
});

interface Org {
  id: string;
  name: string;
  slug: string;
  testMode: boolean;
}

const SANDBOX_TEAM = "a sandbox has its live organization's team, keys and settings: change them there";
const ORG_FIELDS = 'id name slug testMode';
const OPEN = `mutation($input: OpenSandboxInput!) {
  openSandbox(input: $input) { sandbox { ${ORG_FIELDS} sandboxOf { id } } errors { code message field } } }`;
const CREATE_KEY = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { apiKey { id mode apiVersion plan actsOn { id } } secret errors { code field } } }`;
const SET_PLAN = `mutation($input: SetApiKeyPlanInput!) {
  setApiKeyPlan(input: $input) { apiKey { id plan } errors { code message field } } }`;
const SANDBOX = `query($id: ID!) { organization(id: $id) {
  id sandbox { ${ORG_FIELDS} } sandboxOf { id } members { user { id } role } } }`;

type OpenResult = {
  openSandbox: { sandbox: (Org & { sandboxOf: { id: string } | null }) | null; errors: UserError[] } | null;
};
interface Key {
  id: string;
  mode: 'LIVE' | 'TEST';
  apiVersion: string;
  plan: string;
  actsOn: { id: string };
}
type CreateKeyResult = {
  createApiKey: { apiKey: Key | null; secret: string | null; errors: UserError[] } | null;
};
type SandboxResult = {
  organization: {
    id: string;
    sandbox: Org | null;
    sandboxOf: { id: string } | null;
    members: Array<{ user: { id: string }; role: string }> | null;
  } | null;
};

async function organization(options: { slug?: string; name?: string; testMode?: boolean } = {}) {
  const owner = await signUp(url, sql);
  const slug = options.slug ?? `sb-${randomUUID().slice(0, 8)}`;
  const { data, errors } = await subgraph.gql<{
    createOrganization: { organization: { id: string } | null };
  }>(
    'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }',
    { input: { name: options.name ?? 'Sandbox Hall', slug, testMode: options.testMode ?? false } },
    owner.headers,
  );
  expect(errors).toBeUndefined();
  await refreshAccess(url, owner);
  return { id: data!.createOrganization.organization!.id, slug, owner };
}

/** A new verified user who joined `organizationId` as `role`, holding it in their token. */
async function member(organizationId: string, role: 'ADMIN' | 'STAFF', inviter: SignedInUser) {
  const user = await signUp(url, sql);
  const invited = await subgraph.gql<{ inviteMember: { invitation: { id: string } } }>(
    'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id } } }',
    { input: { organizationId, email: user.email, role } },
    inviter.headers,
  );
  const token = await invitationTokenOf(sql, invited.data!.inviteMember.invitation.id);
  await subgraph.gql(
    'mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { role } }',
    { input: { token } },
    user.headers,
  );
  return refreshAccess(url, user);
}

const open = (as: SignedInUser | undefined, organizationId: string) =>
  subgraph.gql<OpenResult>(OPEN, { input: { organizationId } }, as?.headers);

const createKey = (as: SignedInUser, organizationId: string, mode: 'LIVE' | 'TEST') =>
  subgraph.gql<CreateKeyResult>(
    CREATE_KEY,
    { input: { organizationId, name: `${mode} key`, scopes: ['events:read'], mode } },
    as.headers,
  );

async function exchange(secret: string) {
  const response = await fetch(new URL('/internal/api-keys/exchange', url), {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const sandboxRows = (liveId: string) =>
  sql<Array<{ id: string; test_mode: boolean }>>`
    select id, test_mode from identity.organizations where sandbox_of = ${liveId}`;

const createdEventsFor = (liveId: string) =>
  sql<Array<{ version: number; payload: Record<string, unknown> }>>`
    select version, payload from identity.outbox
    where type = ${organizationCreated.type} and payload->>'sandboxOf' = ${liveId}`;

describe('openSandbox', () => {
  it('opens one sandbox, however often and however concurrently asked, and tells the others once', async () => {
    const { id, slug, owner } = await organization({ name: 'Dom Mladih' });
    const answers = await Promise.all([open(owner, id), open(owner, id), open(owner, id)]);
    for (const answer of answers) expect(answer.data!.openSandbox!.errors).toEqual([]);
    const ids = new Set(answers.map((answer) => answer.data!.openSandbox!.sandbox!.id));
    expect(ids.size).toBe(1);
    const sandbox = answers[0]!.data!.openSandbox!.sandbox!;
    expect(sandbox).toEqual({
      id: expect.any(String),
      name: 'Dom Mladih (test)',
      slug: `${slug}-test`,
      testMode: true,
      sandboxOf: null, // the owner's token predates the sandbox: its role there comes with the next one
    });
    const again = await open(await refreshAccess(url, owner), id);
    expect(again.data!.openSandbox!.sandbox).toEqual({ ...sandbox, sandboxOf: { id } });
    expect(await sandboxRows(id)).toEqual([{ id: sandbox.id, test_mode: true }]);

    const outboxed = await createdEventsFor(id);
    expect(outboxed).toEqual([
      {
        version: 3,
        payload: {
          organizationId: sandbox.id,
          name: 'Dom Mladih (test)',
          slug: `${slug}-test`,
          testMode: true,
          sandboxOf: id,
        },
      },
    ]);
    const published = await waitFor(async () =>
      created.find((event) => event.payload.organizationId === sandbox.id),
    );
    expect(published.payload.sandboxOf).toBe(id);
  });

  it('is for ADMIN and up of a live organization only', async () => {
    const { id, owner } = await organization();
    const staff = await member(id, 'STAFF', owner);
    const admin = await member(id, 'ADMIN', owner);
    const outsider = (await organization()).owner;
    expect(codeOf(await open(staff, id))).toBe('FORBIDDEN');
    expect(codeOf(await open(outsider, id))).toBe('FORBIDDEN');
    expect(codeOf(await open(undefined, id))).toBe('UNAUTHENTICATED');
    expect(codeOf(await open(owner, randomUUID()))).toBe('FORBIDDEN');
    const invalid = await open(owner, 'not-an-id');
    expect(invalid.data!.openSandbox!.errors.map((error) => error.field)).toEqual([
      ['input', 'organizationId'],
    ]);
    expect(await sandboxRows(id)).toEqual([]);

    const opened = (await open(admin, id)).data!.openSandbox!.sandbox!;
    await refreshAccess(url, admin);
    // A sandbox opens no sandbox of its own, has no team to change and is not closed by itself.
    const nested = await open(admin, opened.id);
    expect(nested.errors?.[0]).toMatchObject({ message: SANDBOX_TEAM, extensions: { code: 'FORBIDDEN' } });
    const invite = await subgraph.gql(
      'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id } } }',
      { input: { organizationId: opened.id, email: 'someone@example.com', role: 'STAFF' } },
      admin.headers,
    );
    expect(invite.errors?.[0]?.message).toBe(SANDBOX_TEAM);
    const closing = await subgraph.gql(
      'mutation($input: DeleteOrganizationInput!) { deleteOrganization(input: $input) { organization { id } } }',
      { input: { id: opened.id } },
      (await refreshAccess(url, owner)).headers,
    );
    expect(closing.errors?.[0]?.message).toBe(SANDBOX_TEAM);
    const [row] = await sql`select status from identity.organizations where id = ${opened.id}`;
    expect(row!.status).toBe('ACTIVE');
  });

  it('answers a test-mode organization itself: it is its own sandbox', async () => {
    const { id, owner } = await organization({ testMode: true });
    const answer = await open(owner, id);
    expect(answer.data!.openSandbox!.sandbox).toMatchObject({ id, testMode: true, sandboxOf: null });
    expect(await sandboxRows(id)).toEqual([]);
    const viewed = await subgraph.gql<SandboxResult>(SANDBOX, { id }, owner.headers);
    expect(viewed.data!.organization!.sandbox!.id).toBe(id);
  });

  it('finds a free, valid slug when `<slug>-test` is taken or too long', async () => {
    const taken = await organization();
    await organization({ slug: `${taken.slug}-test` });
    const first = (await open(taken.owner, taken.id)).data!.openSandbox!.sandbox!;
    expect(first.slug).toMatch(new RegExp(`^${taken.slug}-test-[0-9a-f]{6}$`));

    const long = `l${randomBytes(16).toString('hex')}-${'x'.repeat(16)}`;
    expect(long).toHaveLength(50);
    const longest = await organization({ slug: long, name: 'N'.repeat(100) });
    const sandbox = (await open(longest.owner, longest.id)).data!.openSandbox!.sandbox!;
    expect(sandbox.slug).toBe(`${long.slice(0, 45)}-test`);
    expect(sandbox.name).toBe(`${'N'.repeat(93)} (test)`);
    const bySlug = await subgraph.gql<{ organizationBySlug: { id: string } }>(
      'query($slug: String!) { organizationBySlug(slug: $slug) { id } }',
      { slug: sandbox.slug },
    );
    expect(bySlug.data!.organizationBySlug.id).toBe(sandbox.id);
  });
});

describe('the team of a sandbox', () => {
  it("is the live organization's: every token carries the sandbox with the role held there", async () => {
    const { id, owner } = await organization();
    const staff = await member(id, 'STAFF', owner);
    const sandboxId = (await open(owner, id)).data!.openSandbox!.sandbox!.id;

    await refreshAccess(url, owner);
    await refreshAccess(url, staff);
    expect(claimsOf(owner.accessToken).orgs).toEqual({ [id]: 'OWNER', [sandboxId]: 'OWNER' });
    expect(claimsOf(staff.accessToken).orgs).toEqual({ [id]: 'STAFF', [sandboxId]: 'STAFF' });
    const login = await subgraph.gql<{ login: { accessToken: string } }>(
      'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { email: staff.email, password: staff.password } },
    );
    expect(claimsOf(login.data!.login.accessToken).orgs[sandboxId]).toBe('STAFF');
    // What the gateway swaps every user token for.
    const current = await fetch(new URL('/internal/access/current', url), {
      method: 'POST',
      headers: staff.headers,
    });
    const { accessToken } = (await current.json()) as { accessToken: string };
    expect(claimsOf(accessToken).orgs).toEqual({ [id]: 'STAFF', [sandboxId]: 'STAFF' });

    const viewed = await subgraph.gql<SandboxResult>(SANDBOX, { id: sandboxId }, staff.headers);
    expect(viewed.data!.organization).toMatchObject({
      id: sandboxId,
      sandbox: { id: sandboxId },
      sandboxOf: { id },
    });
    expect(viewed.data!.organization!.members!.map((m) => [m.user.id, m.role])).toEqual([
      [owner.userId, 'OWNER'],
      [staff.userId, 'STAFF'],
    ]);
    const live = await subgraph.gql<SandboxResult>(SANDBOX, { id }, staff.headers);
    expect(live.data!.organization).toMatchObject({
      sandbox: { id: sandboxId, testMode: true },
      sandboxOf: null,
    });

    // Outsiders see neither side of the link.
    const outsider = (await organization()).owner;
    const hidden = await subgraph.gql<SandboxResult>(
      'query($id: ID!) { organization(id: $id) { id sandbox { id } sandboxOf { id } } }',
      { id: sandboxId },
      outsider.headers,
    );
    expect(hidden.data!.organization).toEqual({ id: sandboxId, sandbox: null, sandboxOf: null });
    const hiddenLive = await subgraph.gql<SandboxResult>(
      'query($id: ID!) { organization(id: $id) { sandbox { id } } }',
      { id },
      outsider.headers,
    );
    expect(hiddenLive.data!.organization!.sandbox).toBeNull();
  });
});

describe('API keys and sandboxes', () => {
  it('acts on the sandbox with a TEST key, on the organization with a LIVE one; the exchange says so', async () => {
    const { id, owner } = await organization();
    const test = (await createKey(owner, id, 'TEST')).data!.createApiKey!;
    expect(test.errors).toEqual([]);
    const [sandbox] = await sandboxRows(id);
    expect(sandbox).toBeDefined();
    expect(test.apiKey).toEqual({
      id: expect.any(String),
      mode: 'TEST',
      apiVersion: CURRENT_API_VERSION,
      plan: 'standard',
      actsOn: { id: sandbox!.id },
    });
    const live = (await createKey(owner, id, 'LIVE')).data!.createApiKey!;
    expect(live.apiKey!.actsOn).toEqual({ id });
    // A second TEST key finds the same sandbox.
    await createKey(owner, id, 'TEST');
    expect(await sandboxRows(id)).toHaveLength(1);
    expect(await createdEventsFor(id)).toHaveLength(1);

    const testAnswer = await exchange(test.secret!);
    expect(testAnswer).toEqual({
      status: 200,
      body: {
        accessToken: expect.any(String),
        expiresIn: 60,
        keyId: test.apiKey!.id,
        organizationId: sandbox!.id,
        mode: 'TEST',
        apiVersion: CURRENT_API_VERSION,
        plan: 'standard',
      },
    });
    expect(claimsOf(testAnswer.body.accessToken as string)).toMatchObject({ org: sandbox!.id, mode: 'TEST' });
    const liveAnswer = await exchange(live.secret!);
    expect(liveAnswer.body).toMatchObject({ keyId: live.apiKey!.id, organizationId: id, mode: 'LIVE' });
    expect(claimsOf(liveAnswer.body.accessToken as string)).toMatchObject({ org: id, mode: 'LIVE' });

    // The key page of the live organization lists both modes.
    const listed = await subgraph.gql<{ organization: { apiKeys: Array<{ id: string }> } }>(
      'query($id: ID!) { organization(id: $id) { apiKeys { id } } }',
      { id },
      owner.headers,
    );
    expect(listed.data!.organization.apiKeys).toHaveLength(3);
  });

  it('acts on a test-mode organization itself, whatever the mode', async () => {
    const { id, owner } = await organization({ testMode: true });
    for (const mode of ['LIVE', 'TEST'] as const) {
      const { apiKey, secret } = (await createKey(owner, id, mode)).data!.createApiKey!;
      expect(apiKey!.actsOn).toEqual({ id });
      expect((await exchange(secret!)).body).toMatchObject({ organizationId: id, mode });
    }
    expect(await sandboxRows(id)).toEqual([]);
  });

  it('opens the sandbox on first use for a TEST key made before sandboxes', async () => {
    const { id, owner } = await organization();
    const { apiKey, secret } = (await createKey(owner, id, 'TEST')).data!.createApiKey!;
    // As if the key predated sandboxes: no sandbox yet.
    await sql`delete from identity.organizations where sandbox_of = ${id}`;
    const answer = await exchange(secret!);
    const [sandbox] = await sandboxRows(id);
    expect(answer.body).toMatchObject({ keyId: apiKey!.id, organizationId: sandbox!.id });
  });

  it('refuses TEST keys on a sandbox itself: keys live on its organization', async () => {
    const { id, owner } = await organization();
    const sandboxId = (await open(owner, id)).data!.openSandbox!.sandbox!.id;
    await refreshAccess(url, owner);
    expect((await createKey(owner, sandboxId, 'TEST')).errors?.[0]?.message).toBe(SANDBOX_TEAM);
  });
});

describe('setApiKeyPlan', () => {
  it('is for platform administrators only, with a valid plan name, and the exchange carries it', async () => {
    const { id, owner } = await organization();
    const { apiKey, secret } = (await createKey(owner, id, 'LIVE')).data!.createApiKey!;
    const admin = await signUp(url, sql);
    await sql`update identity.users set roles = '{ADMIN}' where id = ${admin.userId}`;
    await refreshAccess(url, admin);
    const setPlan = (as: SignedInUser | undefined, input: Record<string, unknown>) =>
      subgraph.gql<{ setApiKeyPlan: { apiKey: { id: string; plan: string } | null; errors: UserError[] } }>(
        SET_PLAN,
        { input },
        as?.headers,
      );

    expect(codeOf(await setPlan(owner, { id: apiKey!.id, plan: 'partner' }))).toBe('FORBIDDEN');
    expect(codeOf(await setPlan(undefined, { id: apiKey!.id, plan: 'partner' }))).toBe('UNAUTHENTICATED');
    for (const plan of ['', 'Partner', '1plan', 'a'.repeat(33), 'pl an', 'plan_x', 'x'.repeat(100_000)]) {
      const refused = await setPlan(admin, { id: apiKey!.id, plan });
      expect(refused.data!.setApiKeyPlan.errors.map((error) => error.field)).toEqual([['input', 'plan']]);
    }
    const unknown = await setPlan(admin, { id: randomUUID(), plan: 'partner' });
    expect(unknown.data!.setApiKeyPlan).toEqual({
      apiKey: null,
      errors: [{ code: 'NOT_FOUND', message: 'no such API key', field: ['input', 'id'] }],
    });
    expect((await exchange(secret!)).body.plan).toBe('standard');

    const set = await setPlan(admin, { id: apiKey!.id, plan: `p${'a'.repeat(31)}` });
    expect(set.data!.setApiKeyPlan).toEqual({
      apiKey: { id: apiKey!.id, plan: `p${'a'.repeat(31)}` },
      errors: [],
    });
    const answer = await exchange(secret!);
    expect(answer.body).toMatchObject({ plan: `p${'a'.repeat(31)}`, apiVersion: CURRENT_API_VERSION });
  });
});

describe('closing a live organization', () => {
  it('closes its sandbox after it, through catalog like any organization', async () => {
    const { id, owner } = await organization();
    const sandboxId = (await open(owner, id)).data!.openSandbox!.sandbox!.id;
    const testKey = (await createKey(owner, id, 'TEST')).data!.createApiKey!.apiKey!;
    const liveKey = (await createKey(owner, id, 'LIVE')).data!.createApiKey!.apiKey!;
    await subgraph.gql(
      'mutation($input: DeleteOrganizationInput!) { deleteOrganization(input: $input) { organization { id } } }',
      { input: { id } },
      owner.headers,
    );
    const requestOf = async (organizationId: string) =>
      (
        await sql<Array<{ payload: { closureId: string; requestedBy: string } }>>`
          select payload from identity.outbox
          where aggregate_id = ${organizationId} and type = ${organizationClosureRequested.type}`
      )[0]?.payload;
    const answer = (organizationId: string, closureId: string) =>
      subgraph.testBus.bus.publish(
        newEvent(organizationEventsClosed, organizationId, 1, {
          organizationId,
          closureId,
          cancelledEventIds: [],
        }),
      );
    expect(await requestOf(sandboxId)).toBeUndefined();
    await answer(id, (await requestOf(id))!.closureId);
    const request = await waitFor(() => requestOf(sandboxId));
    expect(request.requestedBy).toBe(owner.userId);
    // `organization.closed` of the live organization ends its LIVE keys' tokens; the TEST key's
    // tokens name the sandbox, so it is revoked by name.
    const revoked = await sql<Array<{ aggregate_id: string }>>`
      select aggregate_id from identity.outbox where type = ${apiKeyRevoked.type}
      and aggregate_id in (${testKey.id}, ${liveKey.id})`;
    expect(revoked).toEqual([{ aggregate_id: testKey.id }]);
    await answer(sandboxId, request.closureId);
    const statuses = await waitFor(async () => {
      const rows = await sql<Array<{ id: string; status: string }>>`
        select id, status from identity.organizations where id in (${id}, ${sandboxId}) order by id`;
      return rows.every((row) => row.status === 'CLOSED') && rows;
    });
    expect(statuses).toHaveLength(2);
  });
});
