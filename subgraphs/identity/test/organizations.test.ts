import { randomUUID } from 'node:crypto';
import { organizationClosureRefused, organizationEventsClosed } from '@bilten/contracts/catalog';
import { newEvent } from '@bilten/platform';
import {
  invitationTokenOf,
  recordEvents,
  refreshAccess,
  type SignedInUser,
  signUp,
  startTestSubgraph,
  type TestSubgraph,
  testLinkTokens,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  invitationCreated,
  organizationClosed,
  organizationClosureRequested,
  organizationCreated,
  organizationUpdated,
} from '../src/events.ts';
import { identitySubgraph } from '../src/server.ts';
import { claimsOf, codeOf, MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

let subgraph: TestSubgraph;
let url: string;
let sql: postgres.Sql;
let invitations: Awaited<ReturnType<typeof recordEvents<typeof invitationCreated.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'in-process', { env: MANY_SIGNUPS, ...OWN_TOKENS });
  url = subgraph.service.url;
  sql = subgraph.sql;
  invitations = await recordEvents(subgraph.testBus.bus, invitationCreated);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

type Role = 'OWNER' | 'ADMIN' | 'STAFF';

const CREATE_ORGANIZATION = `mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } errors { code } } }`;
const INVITE = `mutation($input: InviteMemberInput!) {
  inviteMember(input: $input) { invitation { id email role invitedBy { id } expiresAt } errors { code message field } } }`;
const ACCEPT = `mutation($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) { organization { id name } role errors { code message field } } }`;
const REVOKE = `mutation($input: RevokeInvitationInput!) {
  revokeInvitation(input: $input) { invitation { id } errors { code field } } }`;
const CHANGE_ROLE = `mutation($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { member { user { id } role } errors { code message field } } }`;
const REMOVE = `mutation($input: RemoveMemberInput!) {
  removeMember(input: $input) { removedUserId errors { code message } } }`;
const LEAVE = `mutation($input: LeaveOrganizationInput!) {
  leaveOrganization(input: $input) { removedUserId errors { code message } } }`;
const TEAM = `query($id: ID!) { organization(id: $id) {
  id members { user { id email } role joinedAt } invitations { id email role } } }`;

type InviteResult = {
  inviteMember: {
    invitation: {
      id: string;
      email: string;
      role: Role;
      invitedBy: { id: string };
      expiresAt: string;
    } | null;
    errors: UserError[];
  } | null;
};
type AcceptResult = {
  acceptInvitation: { organization: { id: string } | null; role: Role | null; errors: UserError[] } | null;
};
type ChangeResult = {
  changeMemberRole: { member: { user: { id: string }; role: Role } | null; errors: UserError[] } | null;
};
type RemoveResult = { removeMember: { removedUserId: string | null; errors: UserError[] } | null };
type LeaveResult = { leaveOrganization: { removedUserId: string | null; errors: UserError[] } | null };
type TeamResult = {
  organization: {
    id: string;
    members: Array<{ user: { id: string; email: string }; role: Role; joinedAt: string }> | null;
    invitations: Array<{ id: string; email: string; role: Role }> | null;
  } | null;
};

const newUser = (options: { verified?: boolean; email?: string } = {}) => signUp(url, sql, options);

/** A fresh organization owned by a fresh user, whose token already carries OWNER. */
async function organization() {
  const owner = await newUser();
  const slug = `org-${randomUUID().slice(0, 8)}`;
  const created = await subgraph.gql<{ createOrganization: { organization: { id: string } } }>(
    CREATE_ORGANIZATION,
    { input: { name: `Org ${slug}`, slug } },
    owner.headers,
  );
  const id = created.data!.createOrganization.organization.id;
  await refreshAccess(url, owner);
  return { id, owner };
}

async function invite(as: SignedInUser, organizationId: string, email: string, role: Role) {
  const result = await subgraph.gql<InviteResult>(
    INVITE,
    { input: { organizationId, email, role } },
    as.headers,
  );
  expect(result.errors).toBeUndefined();
  expect(result.data!.inviteMember!.errors).toEqual([]);
  return result.data!.inviteMember!.invitation!;
}

/** A new verified user who joins `organizationId` with `role` and holds it in their token. */
async function member(organizationId: string, role: Role, inviter: SignedInUser) {
  const user = await newUser();
  const invitation = await invite(inviter, organizationId, user.email, role);
  const accepted = await subgraph.gql<AcceptResult>(
    ACCEPT,
    { input: { token: await invitationTokenOf(sql, invitation.id) } },
    user.headers,
  );
  expect(accepted.data!.acceptInvitation!.errors).toEqual([]);
  return refreshAccess(url, user);
}

const roleOf = async (organizationId: string, userId: string) =>
  (
    await sql<{ role: string }[]>`
      select role from identity.organization_members where organization_id = ${organizationId} and user_id = ${userId}`
  )[0]?.role ?? null;

const changeRole = (as: SignedInUser, organizationId: string, userId: string, role: Role) =>
  subgraph.gql<ChangeResult>(CHANGE_ROLE, { input: { organizationId, userId, role } }, as.headers);

// ---------------------------------------------------------------- invitations

describe('inviteMember and acceptInvitation', () => {
  it('mails a single-use link (hashed at rest) and makes the invited, verified user a member', async () => {
    const { id, owner } = await organization();
    const invitee = await newUser();
    const invitation = await invite(owner, id, `  ${invitee.email.toUpperCase()} `, 'ADMIN');
    expect(invitation).toMatchObject({
      email: invitee.email,
      role: 'ADMIN',
      invitedBy: { id: owner.userId },
    });
    const days = (Date.parse(invitation.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThanOrEqual(7);

    const event = await waitFor(async () =>
      invitations.find((candidate) => candidate.payload.invitationId === invitation.id),
    );
    expect(event.payload).toMatchObject({
      organizationId: id,
      organizationName: expect.stringMatching(/^Org org-/),
      inviterName: 'Test User',
      email: invitee.email,
      role: 'ADMIN',
    });
    expect(Date.parse(event.payload.expiresAt)).toBe(Date.parse(invitation.expiresAt));
    const token = testLinkTokens.open(event.payload.sealedToken, invitation.id);
    const [stored] =
      await sql`select token_hash from identity.organization_invitations where id = ${invitation.id}`;
    expect(stored!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(token);

    const accepted = await subgraph.gql<AcceptResult>(ACCEPT, { input: { token } }, invitee.headers);
    expect(accepted.data!.acceptInvitation).toEqual({
      organization: { id, name: expect.any(String) },
      role: 'ADMIN',
      errors: [],
    });
    expect(await roleOf(id, invitee.userId)).toBe('ADMIN');
    // The role reaches the access token at its next refresh.
    expect(claimsOf(invitee.accessToken).orgs).toEqual({});
    await refreshAccess(url, invitee);
    expect(claimsOf(invitee.accessToken).orgs).toEqual({ [id]: 'ADMIN' });

    // Single use.
    const again = await subgraph.gql<AcceptResult>(ACCEPT, { input: { token } }, invitee.headers);
    expect(again.data!.acceptInvitation!.errors).toEqual([
      { code: 'INVALID_INPUT', message: expect.any(String), field: ['input', 'token'] },
    ]);
  });

  it('refuses anonymous and unverified callers and anyone at another address', async () => {
    const { id, owner } = await organization();
    const invitee = await newUser({ verified: false });
    const invitation = await invite(owner, id, invitee.email, 'STAFF');
    const token = await invitationTokenOf(sql, invitation.id);

    const anonymous = await subgraph.gql<AcceptResult>(ACCEPT, { input: { token } });
    expect(anonymous.data).toBeNull();
    expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
    const unverified = await subgraph.gql<AcceptResult>(ACCEPT, { input: { token } }, invitee.headers);
    expect(unverified.data).toBeNull();
    expect(codeOf(unverified)).toBe('EMAIL_NOT_VERIFIED');
    const stranger = await subgraph.gql<AcceptResult>(
      ACCEPT,
      { input: { token } },
      (await newUser()).headers,
    );
    expect(stranger.data).toBeNull();
    expect(codeOf(stranger)).toBe('FORBIDDEN');
    expect(await roleOf(id, invitee.userId)).toBeNull();
  });

  it('refuses an expired or revoked link, and a second invitation replaces the first', async () => {
    const { id, owner } = await organization();
    const invitee = await newUser();
    const first = await invite(owner, id, invitee.email, 'STAFF');
    const second = await invite(owner, id, invitee.email, 'STAFF');
    const rejected = async (invitationId: string) =>
      (
        await subgraph.gql<AcceptResult>(
          ACCEPT,
          { input: { token: await invitationTokenOf(sql, invitationId) } },
          invitee.headers,
        )
      ).data!.acceptInvitation!.errors.map((error) => error.code);
    expect(await rejected(first.id)).toEqual(['INVALID_INPUT']);

    await sql`update identity.organization_invitations set expires_at = now() - interval '1 second' where id = ${second.id}`;
    expect(await rejected(second.id)).toEqual(['INVALID_INPUT']);

    const third = await invite(owner, id, invitee.email, 'STAFF');
    const revoked = await subgraph.gql<{
      revokeInvitation: { invitation: { id: string }; errors: UserError[] };
    }>(REVOKE, { input: { id: third.id } }, owner.headers);
    expect(revoked.data!.revokeInvitation).toEqual({ invitation: { id: third.id }, errors: [] });
    expect(await rejected(third.id)).toEqual(['INVALID_INPUT']);
    expect(await roleOf(id, invitee.userId)).toBeNull();
  });

  it('lets ADMINs invite STAFF and ADMINs, only OWNERs invite OWNERs, STAFF nobody', async () => {
    const { id, owner } = await organization();
    const admin = await member(id, 'ADMIN', owner);
    const staff = await member(id, 'STAFF', owner);
    const address = () => `invitee-${randomUUID().slice(0, 8)}@example.com`;

    await invite(admin, id, address(), 'ADMIN');
    const ownerByAdmin = await subgraph.gql<InviteResult>(
      INVITE,
      { input: { organizationId: id, email: address(), role: 'OWNER' } },
      admin.headers,
    );
    expect(codeOf(ownerByAdmin)).toBe('FORBIDDEN');
    expect(ownerByAdmin.data).toBeNull();
    const byStaff = await subgraph.gql<InviteResult>(
      INVITE,
      { input: { organizationId: id, email: address(), role: 'STAFF' } },
      staff.headers,
    );
    expect(codeOf(byStaff)).toBe('FORBIDDEN');
    await invite(owner, id, address(), 'OWNER');

    const existing = await subgraph.gql<InviteResult>(
      INVITE,
      { input: { organizationId: id, email: staff.email, role: 'ADMIN' } },
      owner.headers,
    );
    expect(existing.data!.inviteMember!.errors).toEqual([
      { code: 'ALREADY_EXISTS', message: expect.any(String), field: ['input', 'email'] },
    ]);
  });

  it('never lets the owner of another organization invite into, or revoke invitations of, this one', async () => {
    const mine = await organization();
    const theirs = await organization();
    const invitation = await invite(
      mine.owner,
      mine.id,
      `x-${randomUUID().slice(0, 8)}@example.com`,
      'STAFF',
    );

    const intoMine = await subgraph.gql<InviteResult>(
      INVITE,
      { input: { organizationId: mine.id, email: theirs.owner.email, role: 'OWNER' } },
      theirs.owner.headers,
    );
    expect(codeOf(intoMine)).toBe('FORBIDDEN');
    const revoke = await subgraph.gql<{ revokeInvitation: unknown }>(
      REVOKE,
      { input: { id: invitation.id } },
      theirs.owner.headers,
    );
    expect(revoke.data).toBeNull();
    expect(codeOf(revoke)).toBe('FORBIDDEN');
    // An unknown id answers the same, so ids tell nothing about other organizations.
    const unknown = await subgraph.gql<{ revokeInvitation: unknown }>(
      REVOKE,
      { input: { id: randomUUID() } },
      mine.owner.headers,
    );
    expect(codeOf(unknown)).toBe('FORBIDDEN');
    const [row] =
      await sql`select revoked_at from identity.organization_invitations where id = ${invitation.id}`;
    expect(row!.revoked_at).toBeNull();
  });
});

describe('organization.members and organization.invitations', () => {
  it('shows the team to STAFF and up, open invitations to ADMIN and up, nothing to others', async () => {
    const { id, owner } = await organization();
    const staff = await member(id, 'STAFF', owner);
    const pending = await invite(owner, id, `p-${randomUUID().slice(0, 8)}@example.com`, 'ADMIN');

    const seenByOwner = await subgraph.gql<TeamResult>(TEAM, { id }, owner.headers);
    expect(seenByOwner.errors).toBeUndefined();
    expect(seenByOwner.data!.organization!.members!.map((m) => [m.user.id, m.role])).toEqual([
      [owner.userId, 'OWNER'],
      [staff.userId, 'STAFF'],
    ]);
    expect(seenByOwner.data!.organization!.invitations).toEqual([
      { id: pending.id, email: pending.email, role: 'ADMIN' },
    ]);

    const seenByStaff = await subgraph.gql<TeamResult>(TEAM, { id }, staff.headers);
    expect(seenByStaff.data!.organization!.members).toHaveLength(2);
    expect(seenByStaff.data!.organization!.invitations).toBeNull();
    expect(seenByStaff.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);

    for (const outsider of [await newUser(), undefined]) {
      const seen = await subgraph.gql<TeamResult>(TEAM, { id }, outsider?.headers);
      expect(seen.data!.organization).toEqual({ id, members: null, invitations: null });
      expect(new Set(seen.errors?.map((error) => error.extensions?.code))).toEqual(
        new Set([outsider ? 'FORBIDDEN' : 'UNAUTHENTICATED']),
      );
    }
  });
});

// ---------------------------------------------------------------- roles

describe('changeMemberRole, removeMember and leaveOrganization', () => {
  it('lets ADMINs manage STAFF and ADMINs but not OWNERs', async () => {
    const { id, owner } = await organization();
    const admin = await member(id, 'ADMIN', owner);
    const staff = await member(id, 'STAFF', owner);

    const promoted = await changeRole(admin, id, staff.userId, 'ADMIN');
    expect(promoted.data!.changeMemberRole).toEqual({
      member: { user: { id: staff.userId }, role: 'ADMIN' },
      errors: [],
    });
    expect(codeOf(await changeRole(admin, id, staff.userId, 'OWNER'))).toBe('FORBIDDEN');
    expect(codeOf(await changeRole(admin, id, owner.userId, 'STAFF'))).toBe('FORBIDDEN');
    const removeOwner = await subgraph.gql<RemoveResult>(
      REMOVE,
      { input: { organizationId: id, userId: owner.userId } },
      admin.headers,
    );
    expect(codeOf(removeOwner)).toBe('FORBIDDEN');
    expect(await roleOf(id, owner.userId)).toBe('OWNER');

    const removed = await subgraph.gql<RemoveResult>(
      REMOVE,
      { input: { organizationId: id, userId: staff.userId } },
      admin.headers,
    );
    expect(removed.data!.removeMember).toEqual({ removedUserId: staff.userId, errors: [] });
    expect(await roleOf(id, staff.userId)).toBeNull();
    const unknown = await changeRole(admin, id, randomUUID(), 'STAFF');
    expect(unknown.data!.changeMemberRole!.errors).toEqual([
      { code: 'NOT_FOUND', message: expect.any(String), field: ['input', 'userId'] },
    ]);
  });

  it('checks the role in the database too: a demoted ADMIN with an older token can no longer manage', async () => {
    const { id, owner } = await organization();
    const admin = await member(id, 'ADMIN', owner);
    const staff = await member(id, 'STAFF', owner);
    expect((await changeRole(owner, id, admin.userId, 'STAFF')).data!.changeMemberRole!.errors).toEqual([]);
    // The token still says ADMIN for up to 15 minutes.
    expect(claimsOf(admin.accessToken).orgs[id]).toBe('ADMIN');
    expect(codeOf(await changeRole(admin, id, staff.userId, 'ADMIN'))).toBe('FORBIDDEN');
    expect(await roleOf(id, staff.userId)).toBe('STAFF');
  });

  it('never demotes or removes the last OWNER, and lets OWNERs hand over', async () => {
    const { id, owner } = await organization();
    const admin = await member(id, 'ADMIN', owner);

    const demote = await changeRole(owner, id, owner.userId, 'ADMIN');
    expect(demote.data!.changeMemberRole!.errors).toEqual([
      { code: 'CONFLICT', message: 'an organization keeps at least one owner', field: ['input', 'role'] },
    ]);
    const leave = await subgraph.gql<LeaveResult>(LEAVE, { input: { organizationId: id } }, owner.headers);
    expect(leave.data!.leaveOrganization!.errors.map((error) => error.code)).toEqual(['CONFLICT']);
    const remove = await subgraph.gql<RemoveResult>(
      REMOVE,
      { input: { organizationId: id, userId: owner.userId } },
      owner.headers,
    );
    expect(remove.data!.removeMember!.errors.map((error) => error.code)).toEqual(['CONFLICT']);
    expect(await roleOf(id, owner.userId)).toBe('OWNER');

    expect((await changeRole(owner, id, admin.userId, 'OWNER')).data!.changeMemberRole!.errors).toEqual([]);
    const left = await subgraph.gql<LeaveResult>(LEAVE, { input: { organizationId: id } }, owner.headers);
    expect(left.data!.leaveOrganization).toEqual({ removedUserId: owner.userId, errors: [] });
    expect(await roleOf(id, owner.userId)).toBeNull();
    expect(await roleOf(id, admin.userId)).toBe('OWNER');
  });

  it('keeps an owner when two owners demote each other at the same time', async () => {
    for (let round = 0; round < 5; round++) {
      const { id, owner } = await organization();
      const second = await member(id, 'OWNER', owner);
      const results = await Promise.all([
        changeRole(owner, id, second.userId, 'ADMIN'),
        changeRole(second, id, owner.userId, 'ADMIN'),
      ]);
      const [{ owners }] = await sql<[{ owners: number }]>`
        select count(*)::int as owners from identity.organization_members where organization_id = ${id} and role = 'OWNER'`;
      expect(owners).toBe(1);
      // One demotion went through; the other was refused: as the last owner's CONFLICT, or because
      // its caller is no longer an owner (FORBIDDEN).
      const outcomes = results.map((result) =>
        result.data?.changeMemberRole?.errors.length === 0
          ? 'ok'
          : (result.data?.changeMemberRole?.errors[0]?.code ?? codeOf(result)),
      );
      expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(1);
      expect(['CONFLICT', 'FORBIDDEN']).toContain(outcomes.find((outcome) => outcome !== 'ok'));
    }
  });

  it('lets any member leave', async () => {
    const { id, owner } = await organization();
    const staff = await member(id, 'STAFF', owner);
    const left = await subgraph.gql<LeaveResult>(LEAVE, { input: { organizationId: id } }, staff.headers);
    expect(left.data!.leaveOrganization).toEqual({ removedUserId: staff.userId, errors: [] });
    expect(
      codeOf(await subgraph.gql<LeaveResult>(LEAVE, { input: { organizationId: id } }, staff.headers)),
    ).toBe('FORBIDDEN');
  });
});

// ---------------------------------------------------------------- renaming

const UPDATE = `mutation($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { id name slug } errors { code message field } } }`;
const BY_SLUG = `query($slug: String!) { organizationBySlug(slug: $slug) { id slug } }`;
type UpdateResult = {
  updateOrganization: {
    organization: { id: string; name: string; slug: string } | null;
    errors: UserError[];
  } | null;
};
const update = (as: SignedInUser, input: Record<string, unknown>) =>
  subgraph.gql<UpdateResult>(UPDATE, { input }, as.headers);
const bySlug = async (slug: string) =>
  (await subgraph.gql<{ organizationBySlug: { id: string; slug: string } | null }>(BY_SLUG, { slug })).data!
    .organizationBySlug;
const freshSlug = () => `org-${randomUUID().slice(0, 8)}`;

describe('updateOrganization', () => {
  it('lets ADMINs rename, only OWNERs move the slug, and keeps the old slug resolving to it', async () => {
    const { id, owner } = await organization();
    const admin = await member(id, 'ADMIN', owner);
    const staff = await member(id, 'STAFF', owner);
    const oldSlug = (
      await subgraph.gql<{ organization: { slug: string } }>(
        'query($id: ID!) { organization(id: $id) { slug } }',
        { id },
      )
    ).data!.organization.slug;

    expect(codeOf(await update(staff, { id, name: 'Staff name' }))).toBe('FORBIDDEN');
    const renamed = await update(admin, { id, name: '  Sarajevo Jazz  ' });
    expect(renamed.data!.updateOrganization).toEqual({
      organization: { id, name: 'Sarajevo Jazz', slug: oldSlug },
      errors: [],
    });
    expect(codeOf(await update(admin, { id, slug: freshSlug() }))).toBe('FORBIDDEN');

    const newSlug = freshSlug();
    const moved = await update(owner, { id, slug: newSlug });
    expect(moved.data!.updateOrganization!.organization).toMatchObject({ slug: newSlug });
    expect(await bySlug(newSlug)).toEqual({ id, slug: newSlug });
    expect(await bySlug(oldSlug)).toEqual({ id, slug: newSlug });
    // Back to the old one: it was this organization's all along.
    expect((await update(owner, { id, slug: oldSlug })).data!.updateOrganization!.organization!.slug).toBe(
      oldSlug,
    );
  });

  it('never gives another organization a slug one held, by creation or by a move', async () => {
    const first = await organization();
    const heldSlug = freshSlug();
    await update(first.owner, { id: first.id, slug: heldSlug });
    await update(first.owner, { id: first.id, slug: freshSlug() });

    const other = await organization();
    const taken = await update(other.owner, { id: other.id, slug: heldSlug });
    expect(taken.data!.updateOrganization).toEqual({
      organization: null,
      errors: [{ code: 'ALREADY_EXISTS', message: 'this slug is taken', field: ['input', 'slug'] }],
    });
    const created = await subgraph.gql<{ createOrganization: { organization: null; errors: UserError[] } }>(
      CREATE_ORGANIZATION,
      { input: { name: 'Squatter', slug: heldSlug } },
      other.owner.headers,
    );
    expect(created.data!.createOrganization).toEqual({
      organization: null,
      errors: [{ code: 'ALREADY_EXISTS' }],
    });
    expect((await bySlug(heldSlug))!.id).toBe(first.id);
    const squatters = await sql`select id from identity.organizations where name = 'Squatter'`;
    expect(squatters).toHaveLength(0);
  });

  it('gives a contested new slug to exactly one of two organizations moving to it at once', async () => {
    const [a, b] = await Promise.all([organization(), organization()]);
    const contested = freshSlug();
    const results = await Promise.all([
      update(a.owner, { id: a.id, slug: contested }),
      update(b.owner, { id: b.id, slug: contested }),
    ]);
    const winners = results.filter((r) => r.data?.updateOrganization?.organization);
    const losers = results.filter((r) => r.data?.updateOrganization?.errors[0]?.code === 'ALREADY_EXISTS');
    expect([winners.length, losers.length]).toEqual([1, 1]);
    expect((await bySlug(contested))!.id).toBe(winners[0]!.data!.updateOrganization!.organization!.id);
  });

  it('refuses bad input with field errors and changes nothing', async () => {
    const { id, owner } = await organization();
    const bad = await update(owner, { id, slug: 'Not A Slug', name: '' });
    expect(bad.data!.updateOrganization!.organization).toBeNull();
    expect(bad.data!.updateOrganization!.errors.map((e) => e.field)).toEqual(
      expect.arrayContaining([
        ['input', 'slug'],
        ['input', 'name'],
      ]),
    );
  });
});

describe('test mode and organization events', () => {
  const created = (organizationId: string) =>
    sql<Array<{ payload: { testMode: boolean; name: string; slug: string } }>>`
      select payload from identity.outbox where type = ${organizationCreated.type} and aggregate_id = ${organizationId}`;
  const updates = (organizationId: string) =>
    sql<Array<{ payload: { organizationId: string; name: string; slug: string } }>>`
      select payload from identity.outbox where type = ${organizationUpdated.type} and aggregate_id = ${organizationId}
      order by sequence`;

  it('creates a test-mode organization when asked (else a live one) and announces its mode', async () => {
    const owner = await newUser();
    const create = (slug: string, testMode?: boolean) =>
      subgraph.gql<{ createOrganization: { organization: { id: string; testMode: boolean } } }>(
        `mutation($input: CreateOrganizationInput!) {
          createOrganization(input: $input) { organization { id testMode } errors { code } } }`,
        { input: { name: `Org ${slug}`, slug, ...(testMode === undefined ? {} : { testMode }) } },
        owner.headers,
      );
    const sandbox = (await create(freshSlug(), true)).data!.createOrganization.organization;
    const live = (await create(freshSlug())).data!.createOrganization.organization;
    expect([sandbox.testMode, live.testMode]).toEqual([true, false]);
    expect((await created(sandbox.id)).map((row) => row.payload.testMode)).toEqual([true]);
    expect((await created(live.id)).map((row) => row.payload.testMode)).toEqual([false]);
    const [stored] = await sql<Array<{ test_mode: boolean }>>`
      select test_mode from identity.organizations where id = ${sandbox.id}`;
    expect(stored!.test_mode).toBe(true);
    const read = await subgraph.gql<{ organization: { testMode: boolean } }>(
      'query($id: ID!) { organization(id: $id) { testMode } }',
      { id: sandbox.id },
    );
    expect(read.data!.organization.testMode).toBe(true);
  });

  it('announces a rename or a new slug once each, and nothing for a refused or empty change', async () => {
    const { id, owner } = await organization();
    const staff = await member(id, 'STAFF', owner);
    expect(codeOf(await update(staff, { id, name: 'Not allowed' }))).toBe('FORBIDDEN');
    await update(owner, { id, name: 'Renamed Hall' });
    const newSlug = freshSlug();
    await update(owner, { id, slug: newSlug });
    await update(owner, { id, name: 'Renamed Hall', slug: newSlug }); // no change: no event
    expect(await update(owner, { id, slug: 'Not A Slug' })).toMatchObject({
      data: { updateOrganization: { organization: null } },
    });
    const events = (await updates(id)).map((row) => row.payload);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ organizationId: id, name: 'Renamed Hall' });
    expect(events[1]).toEqual({ organizationId: id, name: 'Renamed Hall', slug: newSlug });
  });
});

// ---------------------------------------------------------------- deleteOrganization

const DELETE = `mutation($input: DeleteOrganizationInput!) {
  deleteOrganization(input: $input) { organization { id status closureRefusal } errors { code message } } }`;
const STATE = `query($id: ID!) { organization(id: $id) { status closureRefusal closedAt } }`;
type DeleteResult = {
  deleteOrganization: {
    organization: { id: string; status: string; closureRefusal: string | null } | null;
    errors: UserError[];
  } | null;
};
type StateResult = {
  organization: { status: string; closureRefusal: string | null; closedAt: string | null } | null;
};

const closureRequestOf = async (organizationId: string) =>
  sql<Array<{ payload: { closureId: string; requestedBy: string } }>>`
    select payload from identity.outbox
    where aggregate_id = ${organizationId} and type = ${organizationClosureRequested.type} order by sequence`;

/** Catalog's answer to the pending request, as catalog's outbox would publish it. */
async function catalogAnswers(organizationId: string, answer: 'refused' | 'closed', closureId?: string) {
  const pending = closureId ?? (await closureRequestOf(organizationId)).at(-1)!.payload.closureId;
  await subgraph.testBus.bus.publish(
    answer === 'refused'
      ? newEvent(organizationClosureRefused, organizationId, 1, {
          organizationId,
          closureId: pending,
          reason: 'an upcoming event has sold tickets: “Gala” (2 sold).',
          events: [
            { eventId: randomUUID(), title: 'Gala', startsAt: new Date().toISOString(), ticketsSold: 2 },
          ],
        })
      : newEvent(organizationEventsClosed, organizationId, 1, {
          organizationId,
          closureId: pending,
          cancelledEventIds: [],
        }),
  );
}

const stateOf = async (organizationId: string, as: SignedInUser) =>
  (await subgraph.gql<StateResult>(STATE, { id: organizationId }, as.headers)).data!.organization!;

describe('deleteOrganization', () => {
  it('lets OWNERs only ask, once while pending, and holds the organization still meanwhile', async () => {
    const { id, owner } = await organization();
    const admin = await member(id, 'ADMIN', owner);
    const byAdmin = await subgraph.gql<DeleteResult>(DELETE, { input: { id } }, admin.headers);
    expect(codeOf(byAdmin)).toBe('FORBIDDEN');
    expect(await closureRequestOf(id)).toEqual([]);

    const asked = await subgraph.gql<DeleteResult>(DELETE, { input: { id } }, owner.headers);
    expect(asked.data!.deleteOrganization).toEqual({
      organization: { id, status: 'CLOSING', closureRefusal: null },
      errors: [],
    });
    const again = await subgraph.gql<DeleteResult>(DELETE, { input: { id } }, owner.headers);
    expect(again.data!.deleteOrganization!.organization!.status).toBe('CLOSING');
    const requests = await closureRequestOf(id);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.payload.requestedBy).toBe(owner.userId);

    // No new name, members or keys while catalog decides.
    const renamed = await update(owner, { id, name: 'Other' });
    expect(renamed.errors?.[0]).toMatchObject({
      message: 'this organization is being closed',
      extensions: { code: 'CONFLICT' },
    });
    const invited = await subgraph.gql<InviteResult>(
      INVITE,
      { input: { organizationId: id, email: 'late@example.com', role: 'STAFF' } },
      owner.headers,
    );
    expect(codeOf(invited)).toBe('CONFLICT');
  });

  it("returns to ACTIVE with catalog's reason when refused, shown to members only", async () => {
    const { id, owner } = await organization();
    await subgraph.gql<DeleteResult>(DELETE, { input: { id } }, owner.headers);
    await catalogAnswers(id, 'refused');
    const state = await waitFor(async () => {
      const current = await stateOf(id, owner);
      return current.status === 'ACTIVE' && current;
    });
    expect(state.closureRefusal).toBe('an upcoming event has sold tickets: “Gala” (2 sold).');
    expect((await stateOf(id, await newUser())).closureRefusal).toBeNull();

    // Asking again is a new request, and the refusal is cleared until catalog answers it.
    const retried = await subgraph.gql<DeleteResult>(DELETE, { input: { id } }, owner.headers);
    expect(retried.data!.deleteOrganization!.organization).toMatchObject({
      status: 'CLOSING',
      closureRefusal: null,
    });
    expect(await closureRequestOf(id)).toHaveLength(2);
  });

  it('closes for good once catalog cancelled the events: team, invitations and API keys gone', async () => {
    const { id, owner } = await organization();
    const staff = await member(id, 'STAFF', owner);
    const open = await invite(owner, id, 'pending@example.com', 'STAFF');
    const key = await subgraph.gql<{ createApiKey: { apiKey: { id: string } } }>(
      `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } } }`,
      { input: { organizationId: id, name: 'Box office', scopes: ['events:read'], mode: 'LIVE' } },
      owner.headers,
    );
    await subgraph.gql<DeleteResult>(DELETE, { input: { id } }, owner.headers);

    // An answer to another request (a stale or forged one) changes nothing.
    await catalogAnswers(id, 'closed', randomUUID());
    await catalogAnswers(id, 'closed');
    await waitFor(async () => (await stateOf(id, owner)).status === 'CLOSED');

    expect(await roleOf(id, owner.userId)).toBeNull();
    expect(await roleOf(id, staff.userId)).toBeNull();
    const [invitation] =
      await sql`select revoked_at from identity.organization_invitations where id = ${open.id}`;
    expect(invitation!.revoked_at).not.toBeNull();
    const [apiKey] =
      await sql`select revoked_at from identity.api_keys where id = ${key.data!.createApiKey.apiKey.id}`;
    expect(apiKey!.revoked_at).not.toBeNull();
    const [closed] = await sql<Array<{ payload: { organizationId: string } }>>`
      select payload from identity.outbox where aggregate_id = ${id} and type = ${organizationClosed.type}`;
    expect(closed!.payload.organizationId).toBe(id);

    // Its name and slug stay for orders and old links; nobody can act for it any more.
    expect((await stateOf(id, owner)).closedAt).not.toBeNull();
    const afterwards = await subgraph.gql<DeleteResult>(
      DELETE,
      { input: { id } },
      await refreshAccess(url, owner).then((o) => o.headers),
    );
    expect(codeOf(afterwards)).toBe('FORBIDDEN');
  });
});

const invitationsTo = async (email: string) =>
  (
    await sql<Array<{ n: number }>>`
      select count(*)::int as n from identity.outbox where type = ${invitationCreated.type} and payload->>'email' = ${email}`
  )[0]!.n;

describe('invitation limits (mail bombing)', () => {
  it('sends one address at most 3 invitations an hour, aliases and other organizations included', async () => {
    const target = `target-${randomUUID().slice(0, 8)}@example.com`;
    const first = await organization();
    const aliased = Array.from(
      { length: 5 },
      (_, i) =>
        `a${i}: inviteMember(input: { organizationId: "${first.id}", email: "${target}", role: STAFF }) { invitation { id } }`,
    ).join('\n');
    const burst = await subgraph.gql(`mutation { ${aliased} }`, {}, first.owner.headers);
    // Mutations run one by one and stop at the first refusal (a non-null payload): the outbox tells what was sent.
    expect(burst.errors!.map((error) => error.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect(await invitationsTo(target)).toBe(3);

    const second = await organization();
    const elsewhere = await subgraph.gql<InviteResult>(
      INVITE,
      { input: { organizationId: second.id, email: target, role: 'STAFF' } },
      second.owner.headers,
    );
    expect(codeOf(elsewhere)).toBe('RATE_LIMITED');
    expect(await invitationsTo(target)).toBe(3);
  });

  it('lets one organization send at most 50 invitations an hour', async () => {
    const { id, owner } = await organization();
    const aliased = Array.from(
      { length: 52 },
      (_, i) =>
        `a${i}: inviteMember(input: { organizationId: "${id}", email: "bulk-${i}-${randomUUID().slice(0, 6)}@example.com", role: STAFF }) { invitation { id } }`,
    ).join('\n');
    const burst = await subgraph.gql(`mutation { ${aliased} }`, {}, owner.headers);
    expect(burst.errors!.map((error) => error.extensions?.code)).toEqual(['RATE_LIMITED']);
    const [sent] = await sql`
      select count(*)::int as n from identity.organization_invitations where organization_id = ${id}`;
    expect(sent!.n).toBe(50);
  });
});
