import type { RunningService } from '@bilten/platform';
import {
  createTestSigner,
  graphql,
  startTestSubgraph,
  type TestSigner,
  type TestSubgraph,
} from '@bilten/testkit';
import type postgres from 'postgres';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSubgraph } from '../src/server.ts';

let subgraph: TestSubgraph;
let service: RunningService;
let sql: postgres.Sql;
let signer: TestSigner;

const ORG = uuidv7();
const OTHER_ORG = uuidv7();
const OWNER_ID = uuidv7();
const ADMIN_ID = uuidv7();
const WRITE_KEY_ID = uuidv7();
type Role =
  | 'anonymous'
  | 'customer'
  | 'staff'
  | 'admin'
  | 'owner'
  | 'otherOwner'
  /** API keys (as the gateway exchanges them): ORG's with events:write, ORG's with events:read only, OTHER_ORG's with both. */
  | 'writeKey'
  | 'readKey'
  | 'otherKey';
const headers = {} as Record<Role, Record<string, string>>;

beforeAll(async () => {
  signer = await createTestSigner();
  subgraph = await startTestSubgraph(catalogSubgraph, 'in-process', { auth: { jwks: signer.jwks } });
  ({ service, sql } = subgraph);
  const bearer = async (claims: Parameters<TestSigner['sign']>[0]) => ({
    authorization: `Bearer ${await signer.sign(claims)}`,
  });
  headers.anonymous = {};
  headers.customer = await bearer({});
  headers.staff = await bearer({ orgs: { [ORG]: 'STAFF' } });
  headers.admin = await bearer({ sub: ADMIN_ID, orgs: { [ORG]: 'ADMIN' } });
  headers.owner = await bearer({ sub: OWNER_ID, orgs: { [ORG]: 'OWNER' } });
  headers.otherOwner = await bearer({ orgs: { [OTHER_ORG]: 'OWNER' } });
  // The claims identity signs when it exchanges an API key (see exchangeApiKey).
  const apiKey = (sub: string, org: string, scopes: string[]) =>
    bearer({ sub, kind: 'api_key', org, scopes, mode: 'LIVE' });
  headers.writeKey = await apiKey(WRITE_KEY_ID, ORG, ['events:write']);
  headers.readKey = await apiKey(uuidv7(), ORG, ['events:read']);
  headers.otherKey = await apiKey(uuidv7(), OTHER_ORG, ['events:read', 'events:write']);
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface UserError {
  code: string;
  message: string;
  field: string[] | null;
}
interface Event {
  id: string;
  title: string;
  status: string;
  version: number;
  currency: string;
  startsAt: string;
  endsAt: string;
  descriptionHtml: string | null;
  ticketTypes: Array<{
    id: string;
    name: string;
    hidden: boolean;
    price: { amount: number; currency: string };
  }>;
}
interface EventPayload {
  event: Event | null;
  errors: UserError[];
  currentVersion: number | null;
}

const EVENT = `id title status version currency startsAt endsAt descriptionHtml
  ticketTypes { id name hidden price { amount currency } }`;
const EVENT_PAYLOAD = `{ event { ${EVENT} } errors { code message field } currentVersion }`;
const TICKET_TYPE_PAYLOAD =
  '{ ticketType { id name capacity price { amount currency } } errors { code message field } }';

const MUTATIONS = {
  createEvent: `mutation($input: CreateEventInput!) { createEvent(input: $input) ${EVENT_PAYLOAD} }`,
  updateEvent: `mutation($input: UpdateEventInput!) { updateEvent(input: $input) ${EVENT_PAYLOAD} }`,
  addTicketType: `mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) ${TICKET_TYPE_PAYLOAD} }`,
  updateTicketType: `mutation($input: UpdateTicketTypeInput!) { updateTicketType(input: $input) ${TICKET_TYPE_PAYLOAD} }`,
  publishEvent: `mutation($input: EventIdInput!) { publishEvent(input: $input) ${EVENT_PAYLOAD} }`,
  unpublishEvent: `mutation($input: EventIdInput!) { unpublishEvent(input: $input) ${EVENT_PAYLOAD} }`,
  cancelEvent: `mutation($input: CancelEventInput!) { cancelEvent(input: $input) ${EVENT_PAYLOAD} }`,
  deleteEvent: `mutation($input: EventIdInput!) {
    deleteEvent(input: $input) { deletedEventId event { ${EVENT} } errors { code message field } }
  }`,
  duplicateEvent: `mutation($input: DuplicateEventInput!) { duplicateEvent(input: $input) ${EVENT_PAYLOAD} }`,
  addOccurrences: `mutation($input: AddOccurrencesInput!) {
    addOccurrences(input: $input) { occurrences { id startsAt endsAt status } errors { code message field } }
  }`,
  restoreEventVersion: `mutation($input: RestoreEventVersionInput!) { restoreEventVersion(input: $input) ${EVENT_PAYLOAD} }`,
};
type MutationName = keyof typeof MUTATIONS;

async function call<T = Record<string, unknown>>(
  role: Role,
  query: string,
  variables: Record<string, unknown> = {},
  extra: Record<string, string> = {},
) {
  const { status, body } = await graphql<T, Record<string, unknown>>(service.url, query, variables, {
    ...headers[role],
    ...extra,
  });
  return { status, data: body.data, errors: body.errors };
}

/** A mutation that must succeed: its payload, with no user errors. */
async function mutate<T = EventPayload>(
  role: Role,
  name: MutationName,
  input: Record<string, unknown>,
): Promise<T> {
  const { data, errors } = await call<Record<string, T & { errors: UserError[] }>>(role, MUTATIONS[name], {
    input,
  });
  expect(errors).toBeUndefined();
  return data![name]!;
}

const inAYear = (hours = 0) => new Date(Date.now() + 365 * 86_400_000 + hours * 3_600_000).toISOString();

const eventInput = (overrides: Record<string, unknown> = {}) => ({
  organizationId: ORG,
  title: 'Jazz Fest',
  description: 'Three **nights** of [jazz](https://jazz.example).',
  category: 'MUSIC',
  tags: ['Jazz', 'live'],
  startsAt: inAYear(),
  endsAt: inAYear(4),
  timezone: 'Europe/Sarajevo',
  venue: {
    name: 'Dom mladih',
    address: 'Terezija bb',
    city: 'Sarajevo',
    country: 'BA',
    latitude: 43.85,
    longitude: 18.4,
  },
  currency: 'EUR',
  capacity: 300,
  refundPolicy: { kind: 'FULL_UNTIL', daysBeforeStart: 7 },
  ...overrides,
});

async function seedEvent(overrides: Record<string, unknown> = {}): Promise<Event> {
  const { event, errors } = await mutate('owner', 'createEvent', eventInput(overrides));
  expect(errors).toEqual([]);
  return event!;
}

async function seedTicketType(eventId: string, overrides: Record<string, unknown> = {}) {
  const { ticketType, errors } = await mutate<{ ticketType: { id: string } | null; errors: UserError[] }>(
    'owner',
    'addTicketType',
    { eventId, name: 'Regular', price: { amount: 2500, currency: 'EUR' }, capacity: 100, ...overrides },
  );
  expect(errors).toEqual([]);
  return ticketType!;
}

async function seedPublished(overrides: Record<string, unknown> = {}) {
  const event = await seedEvent(overrides);
  await seedTicketType(event.id);
  const published = await mutate('owner', 'publishEvent', { id: event.id });
  expect(published.errors).toEqual([]);
  return published.event!;
}

const count = async (query: string, ...params: unknown[]) =>
  (await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from ${query}`, params as never[]))[0]!.n;

/** What a denied call must leave untouched. */
const footprint = async () => ({
  events: await count('catalog.events'),
  ticketTypes: await count('catalog.ticket_types'),
  versions: await count('catalog.event_versions'),
  audit: await count('catalog.audit_log'),
  outbox: await count('catalog.outbox'),
  state: await sql`select id, version, status, title from catalog.events order by id`,
});

const outboxOf = (eventId: string) =>
  sql<
    Array<{ type: string; sequence: number; payload: Record<string, unknown>; correlation_id: string | null }>
  >`
    select type, sequence::int, payload, correlation_id from catalog.outbox where aggregate_id = ${eventId} order by sequence`;

/** The event as it is now, seen by its owner. */
const reload = async (id: string) =>
  (await call<{ event: Event }>('owner', `query($id: ID!) { event(id: $id) { ${EVENT} } }`, { id })).data!
    .event;

// ---------------------------------------------------------------- permissions

describe('permissions: every mutation, every kind of caller', () => {
  /** The input of each mutation against a fresh draft with one ticket type. */
  const inputs: Record<MutationName, (event: Event, ticketTypeId: string) => Record<string, unknown>> = {
    createEvent: () => eventInput({ title: 'Created by someone' }),
    updateEvent: (event) => ({ id: event.id, expectedVersion: event.version + 1, title: 'Renamed' }),
    addTicketType: (event) => ({
      eventId: event.id,
      name: 'VIP',
      price: { amount: 9000, currency: 'EUR' },
      capacity: 10,
    }),
    updateTicketType: (_, ticketTypeId) => ({ id: ticketTypeId, name: 'Renamed tier' }),
    publishEvent: (event) => ({ id: event.id }),
    unpublishEvent: (event) => ({ id: event.id }),
    cancelEvent: (event) => ({ id: event.id, reason: 'Storm' }),
    deleteEvent: (event) => ({ id: event.id }),
    duplicateEvent: (event) => ({ id: event.id }),
    addOccurrences: (event) => ({ eventId: event.id, startsAt: [inAYear(24 * 7)] }),
    restoreEventVersion: (event) => ({ eventId: event.id, version: 1, expectedVersion: event.version + 1 }),
  };
  const denied: Array<[Role, string]> = [
    ['anonymous', 'UNAUTHENTICATED'],
    ['customer', 'FORBIDDEN'],
    ['staff', 'FORBIDDEN'],
    ['otherOwner', 'FORBIDDEN'],
    ['readKey', 'FORBIDDEN'],
    ['otherKey', 'FORBIDDEN'],
  ];
  const names = Object.keys(MUTATIONS) as MutationName[];

  const seedTarget = async () => {
    const event = await seedEvent({ title: 'Permission target' });
    const ticketType = await seedTicketType(event.id);
    // One more version, so that updateEvent / restore have something to work with.
    const { event: current } = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: 2,
      title: 'Permission target v3',
    });
    return { event: current!, ticketTypeId: ticketType.id };
  };

  for (const name of names) {
    it.each(denied)(`${name}: %s gets %s, no data, nothing written`, async (role, code) => {
      const { event, ticketTypeId } = await seedTarget();
      const before = await footprint();
      const input = inputs[name](event, ticketTypeId);
      if (name === 'updateEvent' || name === 'restoreEventVersion') input.expectedVersion = event.version;
      const { data, errors } = await call(role, MUTATIONS[name], { input });
      expect(data).toBeNull();
      expect(errors?.map((error) => error.extensions?.code)).toEqual([code]);
      expect(JSON.stringify(errors)).not.toContain('Permission target');
      expect(await footprint()).toEqual(before);
    });

    it.each(['admin', 'owner', 'writeKey'] as Role[])(`${name}: %s may`, async (role) => {
      const { event, ticketTypeId } = await seedTarget();
      if (name === 'unpublishEvent') {
        expect((await mutate('owner', 'publishEvent', { id: event.id })).errors).toEqual([]);
      }
      const input = inputs[name](event, ticketTypeId);
      if (name === 'updateEvent' || name === 'restoreEventVersion') input.expectedVersion = event.version;
      const { data, errors } = await call<Record<string, { errors: UserError[] }>>(role, MUTATIONS[name], {
        input,
      });
      expect(errors).toBeUndefined();
      expect(data![name]!.errors).toEqual([]);
    });
  }

  it('shows a draft to the organization (STAFF and up) only; published events to everyone', async () => {
    const draft = await seedEvent({ title: 'Secret draft' });
    const published = await seedPublished({ title: 'Public show' });
    const query = `query($a: ID!, $b: ID!) { a: event(id: $a) { id title } b: event(id: $b) { id title } }`;
    for (const role of ['anonymous', 'customer', 'otherOwner'] as Role[]) {
      const { data, errors } = await call<{ a: unknown; b: { title: string } }>(role, query, {
        a: draft.id,
        b: published.id,
      });
      expect(errors, role).toBeUndefined();
      expect(data, role).toEqual({ a: null, b: { id: published.id, title: 'Public show' } });
    }
    for (const role of ['staff', 'admin', 'owner'] as Role[]) {
      const { data } = await call<{ a: { title: string } }>(role, query, { a: draft.id, b: published.id });
      expect(data!.a, role).toEqual({ id: draft.id, title: 'Secret draft' });
    }
    const entities = await call<{ _entities: unknown[] }>(
      'anonymous',
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Event { id } } }',
      {
        r: [
          { __typename: 'Event', id: draft.id },
          { __typename: 'Event', id: published.id },
        ],
      },
    );
    expect(entities.data!._entities).toEqual([null, { id: published.id }]);
  });

  it('lists published public events to everyone, drafts and unlisted ones to members only', async () => {
    const draft = await seedEvent({ title: 'Listed? draft' });
    const unlisted = await seedPublished({ title: 'Listed? unlisted', visibility: 'UNLISTED' });
    const open = await seedPublished({ title: 'Listed? public' });
    const list = `{ events(first: 100) { edges { node { id } } } }`;
    const organizationList = `query($id: ID!) { _entities(representations: [{ __typename: "Organization", id: $id }]) {
      ... on Organization { events(first: 100) { edges { node { id } } } } } }`;
    const ids = (edges: Array<{ node: { id: string } }>) => edges.map((edge) => edge.node.id);
    for (const role of ['anonymous', 'customer', 'otherOwner'] as Role[]) {
      const { data } = await call<{ events: { edges: Array<{ node: { id: string } }> } }>(role, list);
      expect(ids(data!.events.edges), role).toContain(open.id);
      expect(ids(data!.events.edges), role).not.toContain(draft.id);
      expect(ids(data!.events.edges), role).not.toContain(unlisted.id);
      const byOrganization = await call<{
        _entities: Array<{ events: { edges: Array<{ node: { id: string } }> } }>;
      }>(role, organizationList, { id: ORG });
      expect(ids(byOrganization.data!._entities[0]!.events.edges)).not.toContain(draft.id);
    }
    const { data } = await call<{ events: { edges: Array<{ node: { id: string } }> } }>('staff', list);
    expect(ids(data!.events.edges)).toEqual(expect.arrayContaining([open.id, draft.id, unlisted.id]));
  });

  it('hides hidden ticket types from customers', async () => {
    const event = await seedEvent({ title: 'With comps' });
    await seedTicketType(event.id, { name: 'Comp', hidden: true, price: { amount: 0, currency: 'EUR' } });
    await seedTicketType(event.id, { name: 'Regular' });
    await mutate('owner', 'publishEvent', { id: event.id });
    const query = `query($id: ID!) { event(id: $id) { ticketTypes { name } } }`;
    const asCustomer = await call<{ event: { ticketTypes: Array<{ name: string }> } }>('customer', query, {
      id: event.id,
    });
    expect(asCustomer.data!.event.ticketTypes.map((t) => t.name)).toEqual(['Regular']);
    const asStaff = await call<{ event: { ticketTypes: Array<{ name: string }> } }>('staff', query, {
      id: event.id,
    });
    expect(asStaff.data!.event.ticketTypes.map((t) => t.name).sort()).toEqual(['Comp', 'Regular']);
  });

  it('resolves TicketType entities only for those who may see them: not hidden ones, not those of drafts', async () => {
    const draft = await seedEvent({ title: 'Entity draft' });
    const ofDraft = await seedTicketType(draft.id, { name: 'Draft tier' });
    const published = await seedEvent({ title: 'Entity show' });
    const hidden = await seedTicketType(published.id, { name: 'Comp', hidden: true });
    const open = await seedTicketType(published.id, { name: 'Regular' });
    await mutate('owner', 'publishEvent', { id: published.id });
    const entities = (role: Role) =>
      call<{ _entities: Array<{ id: string } | null> }>(
        role,
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on TicketType { id } } }',
        { r: [ofDraft, hidden, open].map(({ id }) => ({ __typename: 'TicketType', id })) },
      );
    for (const role of ['anonymous', 'customer', 'otherOwner', 'otherKey'] as Role[]) {
      const { data, errors } = await entities(role);
      expect(errors, role).toBeUndefined();
      expect(data!._entities, role).toEqual([null, null, { id: open.id }]);
    }
    for (const role of ['staff', 'readKey'] as Role[]) {
      const { data } = await entities(role);
      expect(data!._entities, role).toEqual([{ id: ofDraft.id }, { id: hidden.id }, { id: open.id }]);
    }
  });

  it('lets members read versions, and only ADMINs and OWNERs the audit log', async () => {
    const event = await seedPublished({ title: 'Versioned in public' });
    const versions = `query($id: ID!) { event(id: $id) { versions { edges { node { version } } } } }`;
    for (const role of ['anonymous', 'customer', 'otherOwner'] as Role[]) {
      const { data, errors } = await call(role, versions, { id: event.id });
      expect(data, role).toEqual({ event: null });
      expect(
        errors?.map((e) => e.extensions?.code),
        role,
      ).toEqual([role === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN']);
    }
    expect((await call('staff', versions, { id: event.id })).errors).toBeUndefined();

    const auditQuery = `query($org: ID!) { auditLog(organizationId: $org) { edges { node { action } } } }`;
    for (const [role, code] of [
      ['anonymous', 'UNAUTHENTICATED'],
      ['customer', 'FORBIDDEN'],
      ['staff', 'FORBIDDEN'],
      ['otherOwner', 'FORBIDDEN'],
    ] as Array<[Role, string]>) {
      const { data, errors } = await call(role, auditQuery, { org: ORG });
      expect(data, role).toBeNull();
      expect(
        errors?.map((e) => e.extensions?.code),
        role,
      ).toEqual([code]);
    }
    for (const role of ['admin', 'owner'] as Role[]) {
      const { data, errors } = await call<{ auditLog: { edges: unknown[] } }>(role, auditQuery, { org: ORG });
      expect(errors).toBeUndefined();
      expect(data!.auditLog.edges.length).toBeGreaterThan(0);
    }
    // Another organization's trail is its own: empty for it, closed to us.
    const other = await call('otherOwner', auditQuery, { org: OTHER_ORG });
    expect(other.data).toEqual({ auditLog: { edges: [] } });
  });
});

// ---------------------------------------------------------------- versions and audit

interface Version {
  version: number;
  action: string;
  snapshot: Record<string, unknown>;
  diff: Record<string, { from: unknown; to: unknown }>;
  actorId: string | null;
  requestId: string | null;
}

const versionsOf = async (eventId: string) => {
  const { data, errors } = await call<{ event: { versions: { edges: Array<{ node: Version }> } } }>(
    'staff',
    `query($id: ID!) { event(id: $id) { versions(first: 100) {
      edges { node { version action snapshot diff actorId requestId createdAt } } } } }`,
    { id: eventId },
  );
  expect(errors).toBeUndefined();
  return data!.event.versions.edges.map((edge) => edge.node);
};

describe('versions: optimistic concurrency, history, restore', () => {
  it('answers CONFLICT with the current version to a stale expectedVersion and changes nothing', async () => {
    const event = await seedEvent({ title: 'Concurrent' });
    const first = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: 1,
      title: 'Edited by Ana',
    });
    expect(first.errors).toEqual([]);
    expect(first.event!.version).toBe(2);
    const before = await footprint();
    const stale = await mutate('admin', 'updateEvent', {
      id: event.id,
      expectedVersion: 1,
      title: 'Edited by Ben',
    });
    expect(stale).toEqual({
      event: null,
      errors: [
        {
          code: 'CONFLICT',
          message: expect.stringContaining('version 2'),
          field: ['input', 'expectedVersion'],
        },
      ],
      currentVersion: 2,
    });
    expect(await footprint()).toEqual(before);
  });

  it('lets exactly one of two concurrent updates from the same version win', async () => {
    const event = await seedEvent({ title: 'Race' });
    const results = await Promise.all(
      ['A', 'B', 'C'].map((who) =>
        mutate('owner', 'updateEvent', { id: event.id, expectedVersion: 1, title: `By ${who}` }),
      ),
    );
    expect(results.filter((result) => result.errors.length === 0)).toHaveLength(1);
    expect(results.filter((result) => result.errors[0]?.code === 'CONFLICT')).toHaveLength(2);
    expect((await versionsOf(event.id)).map((v) => v.version)).toEqual([2, 1]);
  });

  it('stores a snapshot, a diff, the actor and the request id of every change, and restores one as a new version', async () => {
    const event = await seedEvent({ title: 'Original title', capacity: 300 });
    const requestId = `req-${uuidv7()}`;
    const updated = await call<{ updateEvent: EventPayload }>(
      'admin',
      MUTATIONS.updateEvent,
      { input: { id: event.id, expectedVersion: 1, title: 'New title', capacity: 250 } },
      { 'x-request-id': requestId },
    );
    expect(updated.data!.updateEvent.errors).toEqual([]);
    await seedTicketType(event.id, { name: 'Tier' });

    const versions = await versionsOf(event.id);
    expect(versions.map((v) => [v.version, v.action])).toEqual([
      [3, 'ticket_type.added'],
      [2, 'event.updated'],
      [1, 'event.created'],
    ]);
    expect(versions[1]).toMatchObject({
      actorId: ADMIN_ID,
      requestId,
      diff: { title: { from: 'Original title', to: 'New title' }, capacity: { from: 300, to: 250 } },
      snapshot: { title: 'New title', capacity: 250, ticketTypes: [] },
    });
    expect(Object.keys(versions[1]!.diff).sort()).toEqual(['capacity', 'title']);
    expect(versions[2]).toMatchObject({ actorId: OWNER_ID, snapshot: { title: 'Original title' } });
    expect((versions[0]!.snapshot.ticketTypes as unknown[]).length).toBe(1);

    const stale = await mutate('owner', 'restoreEventVersion', {
      eventId: event.id,
      version: 1,
      expectedVersion: 2,
    });
    expect(stale.currentVersion).toBe(3);
    const restored = await mutate('owner', 'restoreEventVersion', {
      eventId: event.id,
      version: 1,
      expectedVersion: 3,
    });
    expect(restored.errors).toEqual([]);
    expect(restored.event).toMatchObject({ title: 'Original title', version: 4 });
    // The ticket type added later stays: a restore brings back details, not inventory.
    expect(restored.event!.ticketTypes).toHaveLength(1);
    const [latest] = await versionsOf(event.id);
    expect(latest).toMatchObject({
      version: 4,
      action: 'event.restored',
      diff: { title: { from: 'New title', to: 'Original title' }, capacity: { from: 250, to: 300 } },
    });
    const missing = await mutate('owner', 'restoreEventVersion', {
      eventId: event.id,
      version: 99,
      expectedVersion: 4,
    });
    expect(missing.errors).toEqual([
      { code: 'NOT_FOUND', message: 'no such version', field: ['input', 'version'] },
    ]);
  });

  it('answers a versions cursor out of range with BAD_USER_INPUT, not an internal error', async () => {
    const event = await seedEvent({ title: 'Paged history' });
    const versionsAfter = (key: unknown) =>
      call<{ event: { versions: { edges: unknown[] } } }>(
        'staff',
        'query($id: ID!, $after: String) { event(id: $id) { versions(after: $after) { edges { cursor } } } }',
        { id: event.id, after: Buffer.from(JSON.stringify({ k: key })).toString('base64url') },
      );
    for (const key of [3_000_000_000, 2_147_483_648, 0, -1, 1.5, '2']) {
      const { data, errors } = await versionsAfter(key);
      expect(data, String(key)).toEqual({ event: null });
      expect(
        errors?.map((error) => [error.extensions?.code, error.message]),
        String(key),
      ).toEqual([['BAD_USER_INPUT', 'after: not a cursor this API issued']]);
    }
    // The largest version PostgreSQL can hold is still a cursor: every version comes before it.
    const largest = await versionsAfter(2_147_483_647);
    expect(largest.errors).toBeUndefined();
    expect(largest.data!.event.versions.edges).toHaveLength(1);
    expect(subgraph.logs.filter((line) => line.msg === 'unexpected error')).toEqual([]);
  });

  it('writes an audit entry with actor, action, target, before, after, request id, IP and user agent', async () => {
    const requestId = `audit-${uuidv7()}`;
    const created = await call<{ createEvent: EventPayload }>(
      'owner',
      MUTATIONS.createEvent,
      { input: eventInput({ title: 'Audited' }) },
      { 'x-request-id': requestId, 'x-forwarded-for': '203.0.113.9', 'user-agent': 'audit-test/1.0' },
    );
    const event = created.data!.createEvent.event!;
    await mutate('admin', 'updateEvent', { id: event.id, expectedVersion: 1, title: 'Audited again' });
    const rows = await sql`select * from catalog.audit_log where target_id = ${event.id} order by id`;
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      actor_id: OWNER_ID,
      action: 'event.created',
      target_type: 'event',
      scope_id: ORG,
      before: null,
      after: expect.objectContaining({ title: 'Audited', version: 1 }),
      request_id: requestId,
      ip: '203.0.113.9',
      user_agent: 'audit-test/1.0',
    });
    expect(rows[1]).toMatchObject({
      actor_id: ADMIN_ID,
      action: 'event.updated',
      before: expect.objectContaining({ title: 'Audited' }),
      after: expect.objectContaining({ title: 'Audited again', version: 2 }),
    });

    const { data } = await call<{
      auditLog: { edges: Array<{ node: Record<string, unknown> }>; pageInfo: { endCursor: string } };
    }>(
      'admin',
      `query($org: ID!) { auditLog(organizationId: $org, first: 1) {
        edges { node { actorId action targetType targetId before after requestId ip userAgent } }
        pageInfo { endCursor hasNextPage } } }`,
      { org: ORG },
    );
    expect(data!.auditLog.edges[0]!.node).toMatchObject({
      actorId: ADMIN_ID,
      action: 'event.updated',
      targetId: event.id,
      after: expect.objectContaining({ title: 'Audited again' }),
    });
    const next = await call<{ auditLog: { edges: Array<{ node: { targetId: string; action: string } }> } }>(
      'admin',
      `query($org: ID!, $after: String) { auditLog(organizationId: $org, first: 1, after: $after) { edges { node { targetId action } } } }`,
      { org: ORG, after: data!.auditLog.pageInfo.endCursor },
    );
    expect(next.data!.auditLog.edges[0]!.node).toEqual({ targetId: event.id, action: 'event.created' });
  });

  it('writes an audit entry for every mutation: actor, action, target, before/after, request id and IP', async () => {
    const ip = '198.51.100.23';
    const entries = {} as Record<MutationName, Array<Record<string, unknown>>>;
    /** One mutation as the owner under its own request id; the audit rows it wrote are kept. */
    const audited = async <T>(name: MutationName, input: Record<string, unknown>): Promise<T> => {
      const requestId = `audit-${name}-${uuidv7()}`;
      const { data, errors } = await call<Record<string, T & { errors: UserError[] }>>(
        'owner',
        MUTATIONS[name],
        { input },
        { 'x-request-id': requestId, 'x-forwarded-for': ip },
      );
      expect(errors, name).toBeUndefined();
      expect(data![name]!.errors, name).toEqual([]);
      entries[name] = await sql`
        select actor_id, action, target_type, target_id, scope_id, before, after, request_id, ip
        from catalog.audit_log where request_id = ${requestId} order by id`;
      return data![name]!;
    };
    const { event } = await audited<EventPayload>('createEvent', eventInput({ title: 'Audited throughout' }));
    const id = event!.id;
    const { ticketType } = await audited<{ ticketType: { id: string } }>('addTicketType', {
      eventId: id,
      name: 'Regular',
      price: { amount: 2500, currency: 'EUR' },
      capacity: 100,
    });
    await audited('updateTicketType', { id: ticketType.id, name: 'Standard' });
    await audited('updateEvent', { id, expectedVersion: 3, title: 'Audited throughout, renamed' });
    await audited('restoreEventVersion', { eventId: id, version: 1, expectedVersion: 4 });
    await audited('publishEvent', { id });
    await audited('unpublishEvent', { id });
    const { event: copy } = await audited<EventPayload>('duplicateEvent', { id });
    const { occurrences } = await audited<{ occurrences: Array<{ id: string }> }>('addOccurrences', {
      eventId: id,
      startsAt: [inAYear(24 * 7)],
    });
    await audited('cancelEvent', { id, reason: 'Audit done' });
    await audited('deleteEvent', { id: copy!.id });

    // [action, target type, target id, has a before state, has an after state]
    const expected: Record<MutationName, Array<[string, string, string, boolean, boolean]>> = {
      createEvent: [['event.created', 'event', id, false, true]],
      addTicketType: [['ticket_type.added', 'ticket_type', ticketType.id, false, true]],
      updateTicketType: [['ticket_type.updated', 'ticket_type', ticketType.id, true, true]],
      updateEvent: [['event.updated', 'event', id, true, true]],
      restoreEventVersion: [['event.restored', 'event', id, true, true]],
      publishEvent: [['event.published', 'event', id, true, true]],
      unpublishEvent: [['event.unpublished', 'event', id, true, true]],
      duplicateEvent: [['event.duplicated', 'event', copy!.id, false, true]],
      addOccurrences: [
        ['event.series_started', 'event', id, true, true],
        ['event.occurrence_added', 'event', occurrences[0]!.id, false, true],
      ],
      cancelEvent: [['event.cancelled', 'event', id, true, true]],
      deleteEvent: [['event.deleted', 'event', copy!.id, true, false]],
    };
    expect(Object.keys(entries).sort()).toEqual(Object.keys(MUTATIONS).sort());
    for (const name of Object.keys(MUTATIONS) as MutationName[]) {
      expect(
        entries[name]!.map((row) => [
          row.action,
          row.target_type,
          row.target_id,
          row.before !== null,
          row.after !== null,
        ]),
        name,
      ).toEqual(expected[name]);
      for (const row of entries[name]!) {
        expect(row, name).toMatchObject({
          actor_id: OWNER_ID,
          scope_id: ORG,
          request_id: expect.stringMatching(`^audit-${name}-`),
          ip,
        });
      }
    }
  });

  it('answers an update that changes nothing with the event as it is: no version, no audit entry', async () => {
    const event = await seedEvent({ title: 'Unchanged' });
    const before = await footprint();
    const sameAgain = [
      {},
      { title: 'Unchanged' },
      { title: 'Unchanged', tags: ['Jazz', 'live'], capacity: 300, startsAt: event.startsAt },
    ];
    for (const changes of sameAgain) {
      const result = await mutate('owner', 'updateEvent', { id: event.id, expectedVersion: 1, ...changes });
      expect(result, JSON.stringify(changes)).toEqual({
        event: expect.objectContaining({ id: event.id, title: 'Unchanged', version: 1 }),
        errors: [],
        currentVersion: null,
      });
    }
    // Restoring the version the event is at changes nothing either.
    const restored = await mutate('owner', 'restoreEventVersion', {
      eventId: event.id,
      version: 1,
      expectedVersion: 1,
    });
    expect(restored.event).toMatchObject({ id: event.id, version: 1 });
    expect(await footprint()).toEqual(before);
  });
});

// ---------------------------------------------------------------- lifecycle rules and domain events

describe('publishing, rescheduling, cancelling and their events', () => {
  it('refuses to publish without a future start, a ticket type or a place, naming each', async () => {
    const past = new Date(Date.now() - 86_400_000).toISOString();
    const event = await seedEvent({ title: 'Not ready', startsAt: past, endsAt: inAYear(), venue: null });
    const { event: published, errors } = await mutate('owner', 'publishEvent', { id: event.id });
    expect(published).toBeNull();
    expect(errors.map((error) => [error.code, error.field])).toEqual([
      ['INVALID_INPUT', ['event', 'startsAt']],
      ['INVALID_INPUT', ['event', 'ticketTypes']],
      ['INVALID_INPUT', ['event', 'venue']],
    ]);
    expect(await outboxOf(event.id)).toEqual([]);
    const [row] = await sql`select status from catalog.events where id = ${event.id}`;
    expect(row!.status).toBe('DRAFT');
  });

  it('publishes bilten.catalog.event.published once, with the request id as correlation id', async () => {
    const event = await seedEvent({ title: 'Going live' });
    await seedTicketType(event.id);
    const requestId = `pub-${uuidv7()}`;
    const first = await call<{ publishEvent: EventPayload }>(
      'owner',
      MUTATIONS.publishEvent,
      { input: { id: event.id } },
      { 'x-request-id': requestId },
    );
    expect(first.data!.publishEvent.event!.status).toBe('PUBLISHED');
    const again = await mutate('owner', 'publishEvent', { id: event.id });
    expect(again.errors).toEqual([]);
    const rows = await outboxOf(event.id);
    expect(rows).toEqual([
      {
        type: 'bilten.catalog.event.published',
        sequence: 1,
        correlation_id: requestId,
        payload: expect.objectContaining({
          eventId: event.id,
          organizationId: ORG,
          title: 'Going live',
          visibility: 'PUBLIC',
        }),
      },
    ]);
  });

  it('publishes rescheduled for a date or venue change after publishing, not for a new title or before publishing', async () => {
    const draft = await seedEvent({ title: 'Moving draft' });
    await mutate('owner', 'updateEvent', {
      id: draft.id,
      expectedVersion: 1,
      startsAt: inAYear(1),
      endsAt: inAYear(5),
    });
    expect(await outboxOf(draft.id)).toEqual([]);

    const event = await seedPublished({ title: 'Moving show' });
    let version = event.version;
    const update = async (changes: Record<string, unknown>) => {
      const result = await mutate('owner', 'updateEvent', {
        id: event.id,
        expectedVersion: version,
        ...changes,
      });
      expect(result.errors).toEqual([]);
      version = result.event!.version;
    };
    await update({ title: 'Moving show!' });
    await update({ startsAt: inAYear(48), endsAt: inAYear(52) });
    await update({ venue: { name: 'Zetra', address: 'Alipašina bb', city: 'Sarajevo', country: 'BA' } });
    const rows = await outboxOf(event.id);
    expect(rows.map((row) => row.type)).toEqual([
      'bilten.catalog.event.published',
      'bilten.catalog.event.rescheduled',
      'bilten.catalog.event.rescheduled',
    ]);
    expect(rows[1]!.payload).toMatchObject({
      eventId: event.id,
      previous: { startsAt: event.startsAt },
    });
    expect((rows[1]!.payload.startsAt as string).slice(0, 13)).toBe(
      new Date(inAYear(48)).toISOString().slice(0, 13),
    );
    expect(rows[2]!.payload).toMatchObject({
      venue: { name: 'Zetra' },
      previous: { venue: { name: 'Dom mladih' } },
    });
  });

  it('cancels with bilten.catalog.event.cancelled; a cancelled event cannot be changed or published', async () => {
    const event = await seedPublished({ title: 'Rained out' });
    const cancelled = await mutate('owner', 'cancelEvent', { id: event.id, reason: 'Storm warning' });
    expect(cancelled.event!.status).toBe('CANCELLED');
    expect((await mutate('owner', 'cancelEvent', { id: event.id })).errors).toEqual([]);
    const rows = await outboxOf(event.id);
    expect(rows.map((row) => row.type)).toEqual([
      'bilten.catalog.event.published',
      'bilten.catalog.event.cancelled',
    ]);
    expect(rows[1]!.payload).toMatchObject({ eventId: event.id, reason: 'Storm warning', ticketsSold: 0 });
    const update = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: cancelled.event!.version,
      title: 'x',
    });
    expect(update.errors.map((e) => e.field)).toEqual([['input', 'id']]);
    const publish = await mutate('owner', 'publishEvent', { id: event.id });
    expect(publish.errors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
  });

  it('refuses a currency change once tickets are sold, and moves ticket prices along before', async () => {
    const event = await seedEvent({ title: 'Currency' });
    await seedTicketType(event.id);
    const before = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: 2,
      currency: 'BAM',
    });
    expect(before.errors).toEqual([]);
    expect(before.event!.ticketTypes.map((t) => t.price)).toEqual([{ amount: 2500, currency: 'BAM' }]);
    // Orders will keep this column up to date from its events.
    await sql`update catalog.events set tickets_sold = 3 where id = ${event.id}`;
    const after = await mutate('owner', 'updateEvent', { id: event.id, expectedVersion: 3, currency: 'EUR' });
    expect(after).toMatchObject({
      event: null,
      errors: [{ code: 'INVALID_INPUT', field: ['input', 'currency'] }],
    });
    const [row] = await sql`select currency, version from catalog.events where id = ${event.id}`;
    expect(row).toEqual({ currency: 'BAM', version: 3 });
  });

  it('keeps the capacity at or above the tickets sold, on update and on restore', async () => {
    const event = await seedPublished({ title: 'Small club', capacity: 300 });
    const version = async () =>
      (await sql`select version from catalog.events where id = ${event.id}`)[0]!.version as number;
    const versionWith = async (capacity: number) =>
      (
        await sql`select version from catalog.event_versions
          where event_id = ${event.id} and (snapshot->>'capacity')::int = ${capacity} order by version limit 1`
      )[0]!.version as number;
    const update = async (capacity: number) =>
      mutate('owner', 'updateEvent', { id: event.id, expectedVersion: await version(), capacity });
    const restore = async (capacity: number) =>
      mutate('owner', 'restoreEventVersion', {
        eventId: event.id,
        version: await versionWith(capacity),
        expectedVersion: await version(),
      });
    const sell = (sold: number) =>
      sql`update catalog.events set tickets_sold = ${sold} where id = ${event.id}`;

    expect((await update(50)).errors).toEqual([]);
    await sell(40);
    expect(await update(39)).toMatchObject({
      event: null,
      errors: [{ code: 'INVALID_INPUT', field: ['input', 'capacity'] }],
    });
    expect((await update(40)).errors).toEqual([]);
    // A version with room for what is sold may come back; one with less may not.
    await sell(45);
    expect((await restore(50)).errors).toEqual([]);
    await sell(50);
    const refused = await restore(40);
    expect(refused.errors.map((e) => e.field)).toEqual([['input', 'capacity']]);
    const [row] = await sql`select capacity from catalog.events where id = ${event.id}`;
    expect(row).toEqual({ capacity: 50 });
    expect((await restore(300)).errors).toEqual([]);
  });

  it('unpublishes while nothing is sold, not after', async () => {
    const event = await seedPublished({ title: 'Second thoughts' });
    expect((await mutate('owner', 'unpublishEvent', { id: event.id })).event!.status).toBe('DRAFT');
    await mutate('owner', 'publishEvent', { id: event.id });
    await sql`update catalog.events set tickets_sold = 1 where id = ${event.id}`;
    const refused = await mutate('owner', 'unpublishEvent', { id: event.id });
    expect(refused.errors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
  });

  it('reports ENDED for a published event whose end has passed', async () => {
    const event = await seedPublished({ title: 'Yesterday' });
    await sql`update catalog.events set starts_at = now() - interval '2 days', ends_at = now() - interval '1 day' where id = ${event.id}`;
    const { data } = await call<{ event: { status: string } }>(
      'anonymous',
      'query($id: ID!) { event(id: $id) { status } }',
      {
        id: event.id,
      },
    );
    expect(data!.event.status).toBe('ENDED');
  });
});

describe('updateEvent keeps the rules of creating and publishing', () => {
  /** An update that must be refused with field errors on `fields`, leaving everything as it was. */
  async function refused(event: Event, changes: Record<string, unknown>, fields: string[][]) {
    const before = await footprint();
    const result = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: event.version,
      ...changes,
    });
    expect(result.event, JSON.stringify(changes)).toBeNull();
    expect(
      result.errors.map((error) => [error.code, error.field]),
      JSON.stringify(changes),
    ).toEqual(fields.map((field) => ['INVALID_INPUT', ['input', ...field]]));
    expect(await footprint()).toEqual(before);
    return result.errors;
  }

  it('keeps a published event somewhere: its last venue or online URL cannot be removed', async () => {
    const atVenue = await seedPublished({ title: 'At a venue' });
    await refused(atVenue, { venue: null }, [['venue']]);
    const online = await seedPublished({
      title: 'Online only',
      venue: null,
      onlineUrl: 'https://meet.example/a',
    });
    await refused(online, { onlineUrl: null }, [['onlineUrl']]);
    const hybrid = await seedPublished({ title: 'Hybrid', onlineUrl: 'https://meet.example/b' });
    await refused(hybrid, { venue: null, onlineUrl: null }, [['venue'], ['onlineUrl']]);
    // One of the two is enough; a draft needs neither.
    const leftOnline = await mutate('owner', 'updateEvent', {
      id: hybrid.id,
      expectedVersion: hybrid.version,
      venue: null,
    });
    expect(leftOnline.errors).toEqual([]);
    const draft = await seedEvent({ title: 'Nowhere yet' });
    expect(
      (await mutate('owner', 'updateEvent', { id: draft.id, expectedVersion: 1, venue: null })).errors,
    ).toEqual([]);
  });

  it("does not move a published event's start into the past", async () => {
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const event = await seedPublished({ title: 'No time travel' });
    await refused(event, { startsAt: past }, [['startsAt']]);
    const draft = await seedEvent({ title: 'Drafted in the past' });
    expect(
      (await mutate('owner', 'updateEvent', { id: draft.id, expectedVersion: 1, startsAt: past })).errors,
    ).toEqual([]);
  });

  it('keeps endsAt after startsAt, for drafts and published events alike', async () => {
    const draft = await seedEvent({ title: 'Draft that ends' });
    const published = await seedPublished({ title: 'Show that ends' });
    for (const event of [draft, published]) {
      await refused(event, { endsAt: event.startsAt }, [['endsAt']]);
      await refused(event, { endsAt: inAYear(-1) }, [['endsAt']]);
      await refused(event, { startsAt: inAYear(5) }, [['endsAt']]);
    }
  });

  it("does not end an event before its ticket types' sales do, as addTicketType requires", async () => {
    const draft = await seedEvent({ title: 'Draft with late sales' });
    const published = await seedEvent({ title: 'Show with late sales' });
    for (const event of [draft, published]) {
      await seedTicketType(event.id, { name: 'At the door', salesEndAt: event.endsAt });
      await seedTicketType(event.id, { name: 'Presale', salesEndAt: inAYear(-24) });
    }
    expect((await mutate('owner', 'publishEvent', { id: published.id })).errors).toEqual([]);
    for (const { id } of [draft, published]) {
      const event = await reload(id);
      const [error] = await refused(event, { endsAt: inAYear(2) }, [['endsAt']]);
      expect(error!.message).toContain('"At the door"');
      expect(error!.message).not.toContain('Presale');
      const later = await mutate('owner', 'updateEvent', {
        id,
        expectedVersion: event.version,
        endsAt: inAYear(6),
      });
      expect(later.errors).toEqual([]);
    }
  });
});

describe('deleteEvent', () => {
  it('deletes a draft without sales with its ticket types and versions, keeps the audit, and repeats harmlessly', async () => {
    const event = await seedEvent({ title: 'Throwaway' });
    await seedTicketType(event.id);
    const first = await mutate<{ deletedEventId: string; event: null; errors: UserError[] }>(
      'owner',
      'deleteEvent',
      {
        id: event.id,
      },
    );
    expect(first).toEqual({ deletedEventId: event.id, event: null, errors: [] });
    expect(await count('catalog.events where id = $1', event.id)).toBe(0);
    expect(await count('catalog.ticket_types where event_id = $1', event.id)).toBe(0);
    expect(await count('catalog.event_versions where event_id = $1', event.id)).toBe(0);
    const audit =
      await sql`select action, before, after from catalog.audit_log where target_id = ${event.id} and action = 'event.deleted'`;
    expect(audit).toEqual([
      {
        action: 'event.deleted',
        before: expect.objectContaining({ title: 'Throwaway', version: 2 }),
        after: null,
      },
    ]);
    const before = await footprint();
    expect(await mutate('owner', 'deleteEvent', { id: event.id })).toEqual(first);
    expect(await footprint()).toEqual(before);
    expect(await outboxOf(event.id)).toEqual([]);
  });

  it('cancels an event with sales instead, publishing cancelled once however often it is repeated', async () => {
    const event = await seedPublished({ title: 'Sold some' });
    await sql`update catalog.events set tickets_sold = 12 where id = ${event.id}`;
    for (let i = 0; i < 3; i++) {
      const result = await mutate<{ deletedEventId: string | null; event: Event; errors: UserError[] }>(
        'owner',
        'deleteEvent',
        { id: event.id },
      );
      expect(result).toMatchObject({
        deletedEventId: null,
        event: { id: event.id, status: 'CANCELLED' },
        errors: [],
      });
    }
    const rows = await outboxOf(event.id);
    expect(rows.map((row) => row.type)).toEqual([
      'bilten.catalog.event.published',
      'bilten.catalog.event.cancelled',
    ]);
    expect(rows[1]!.payload).toMatchObject({ ticketsSold: 12 });
    expect(await count('catalog.ticket_types where event_id = $1', event.id)).toBe(1);
  });
});

describe('duplicateEvent and recurring events', () => {
  it('duplicates into a draft with the same details and ticket types, shifted to a new start', async () => {
    const source = await seedPublished({ title: 'Original' });
    const startsAt = inAYear(24 * 30);
    const { event: copy, errors } = await mutate('owner', 'duplicateEvent', {
      id: source.id,
      title: 'Copy',
      startsAt,
    });
    expect(errors).toEqual([]);
    expect(copy).toMatchObject({ title: 'Copy', status: 'DRAFT', version: 1, currency: 'EUR' });
    expect(copy!.id).not.toBe(source.id);
    expect(new Date(copy!.endsAt).getTime() - new Date(copy!.startsAt).getTime()).toBe(4 * 3_600_000);
    expect(copy!.ticketTypes.map((t) => [t.name, t.price])).toEqual(
      source.ticketTypes.map((t) => [t.name, t.price]),
    );
    expect(copy!.ticketTypes[0]!.id).not.toBe(source.ticketTypes[0]!.id);
  });

  it('adds dated occurrences that share the definition and list each other', async () => {
    const source = await seedEvent({ title: 'Weekly quiz' });
    await seedTicketType(source.id);
    const starts = [inAYear(24 * 14), inAYear(24 * 7)];
    const result = await mutate<{
      occurrences: Array<{ id: string; startsAt: string; status: string }>;
      errors: UserError[];
    }>('owner', 'addOccurrences', { eventId: source.id, startsAt: starts });
    expect(result.errors).toEqual([]);
    expect(result.occurrences.map((o) => o.status)).toEqual(['DRAFT', 'DRAFT']);
    const { data } = await call<{
      event: { occurrences: Array<{ id: string; title: string; ticketTypes: unknown[] }> };
    }>('owner', 'query($id: ID!) { event(id: $id) { occurrences { id title ticketTypes { name } } } }', {
      id: result.occurrences[1]!.id,
    });
    expect(data!.event.occurrences.map((o) => o.id)).toEqual([
      source.id,
      ...result.occurrences.map((o) => o.id),
    ]);
    expect(
      data!.event.occurrences.every((o) => o.title === 'Weekly quiz' && o.ticketTypes.length === 1),
    ).toBe(true);
    const tooMany = await mutate<{ errors: UserError[] }>('owner', 'addOccurrences', {
      eventId: source.id,
      startsAt: Array.from({ length: 53 }, (_, i) => inAYear(i)),
    });
    expect(tooMany.errors.map((e) => e.field)).toEqual([['input', 'startsAt']]);
  });

  it('refuses copies whose end or sales window would fall outside the years 1–9999, storing nothing', async () => {
    const source = await seedEvent({ title: 'Edge of time' });
    // Sales open 60 days before the event: a copy early in year 1 would open them in year 0.
    const salesStartAt = new Date(new Date(source.startsAt).getTime() - 60 * 86_400_000).toISOString();
    await seedTicketType(source.id, { salesStartAt });
    const versions = (await versionsOf(source.id)).length;
    const [before] = await sql`select count(*)::int as n from catalog.events`;
    // The source lasts hours: a copy starting an hour before the end of 9999 would end in 10000.
    const lastHour = '9999-12-31T23:00:00.000Z';
    const duplicated = await mutate<{ event: unknown; errors: UserError[] }>('owner', 'duplicateEvent', {
      id: source.id,
      startsAt: lastHour,
    });
    expect(duplicated.event).toBeNull();
    expect(duplicated.errors.map((e) => [e.code, e.field])).toEqual([
      ['INVALID_INPUT', ['input', 'startsAt']],
    ]);
    const added = await mutate<{ occurrences: unknown[]; errors: UserError[] }>('owner', 'addOccurrences', {
      eventId: source.id,
      startsAt: [inAYear(24 * 7), lastHour],
    });
    expect(added.occurrences).toEqual([]);
    expect(added.errors.map((e) => [e.code, e.field])).toEqual([
      ['INVALID_INPUT', ['input', 'startsAt', '1']],
    ]);
    const earliest = await mutate<{ event: unknown; errors: UserError[] }>('owner', 'duplicateEvent', {
      id: source.id,
      startsAt: '0001-01-10T00:00:00.000Z',
    });
    expect(earliest.errors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['input', 'startsAt']]]);
    const [after] = await sql`select count(*)::int as n from catalog.events`;
    expect(after!.n).toBe(before!.n);
    expect(await versionsOf(source.id)).toHaveLength(versions);
  });

  it('records the source joining a series as a version and an audit entry of its own, once', async () => {
    const source = await seedEvent({ title: 'Monthly meetup' });
    const added = await mutate<{ errors: UserError[] }>('owner', 'addOccurrences', {
      eventId: source.id,
      startsAt: [inAYear(24 * 30)],
    });
    expect(added.errors).toEqual([]);
    const versions = await versionsOf(source.id);
    expect(versions.map((v) => [v.version, v.action])).toEqual([
      [2, 'event.series_started'],
      [1, 'event.created'],
    ]);
    expect(versions[0]).toMatchObject({
      actorId: OWNER_ID,
      diff: { seriesId: { from: null, to: source.id } },
      snapshot: { seriesId: source.id },
    });
    expect(Object.keys(versions[0]!.diff)).toEqual(['seriesId']);
    const audit = await sql`
      select action, before, after from catalog.audit_log where target_id = ${source.id} order by id`;
    expect(audit.map((row) => row.action)).toEqual(['event.created', 'event.series_started']);
    expect(audit[1]).toMatchObject({
      before: expect.objectContaining({ seriesId: null }),
      after: expect.objectContaining({ seriesId: source.id, version: 2 }),
    });
    // Once in the series, more occurrences leave the source as it is.
    await mutate('owner', 'addOccurrences', { eventId: source.id, startsAt: [inAYear(24 * 60)] });
    expect(await versionsOf(source.id)).toHaveLength(2);
  });
});

describe('API keys', () => {
  it('lets a key with events:write create, equip and publish an event of its organization, recorded under its key id', async () => {
    const created = await mutate('writeKey', 'createEvent', eventInput({ title: 'Made by an integration' }));
    expect(created.errors).toEqual([]);
    const id = created.event!.id;
    const added = await mutate<{ ticketType: { id: string }; errors: UserError[] }>(
      'writeKey',
      'addTicketType',
      {
        eventId: id,
        name: 'Regular',
        price: { amount: 2500, currency: 'EUR' },
        capacity: 100,
      },
    );
    expect(added.errors).toEqual([]);
    const published = await mutate('writeKey', 'publishEvent', { id });
    expect(published.errors).toEqual([]);
    expect(published.event).toMatchObject({ id, status: 'PUBLISHED', version: 3 });
    expect(
      await sql`select version, action, actor_id from catalog.event_versions where event_id = ${id} order by version`,
    ).toEqual([
      { version: 1, action: 'event.created', actor_id: WRITE_KEY_ID },
      { version: 2, action: 'ticket_type.added', actor_id: WRITE_KEY_ID },
      { version: 3, action: 'event.published', actor_id: WRITE_KEY_ID },
    ]);
    expect(
      await sql`select action, actor_id from catalog.audit_log
        where target_id in (${id}, ${added.ticketType.id}) order by id`,
    ).toEqual([
      { action: 'event.created', actor_id: WRITE_KEY_ID },
      { action: 'ticket_type.added', actor_id: WRITE_KEY_ID },
      { action: 'event.published', actor_id: WRITE_KEY_ID },
    ]);
  });

  it("refuses a key without events:write and another organization's key, storing nothing", async () => {
    const event = await seedEvent({ title: 'Not theirs' });
    await seedTicketType(event.id);
    const before = await footprint();
    const attempts: Array<[MutationName, Record<string, unknown>]> = [
      ['createEvent', eventInput({ title: 'Sneaked in' })],
      ['updateEvent', { id: event.id, expectedVersion: 2, title: 'Taken over' }],
      ['publishEvent', { id: event.id }],
    ];
    for (const role of ['readKey', 'otherKey'] as Role[]) {
      for (const [name, input] of attempts) {
        const { data, errors } = await call(role, MUTATIONS[name], { input });
        expect(data, `${role} ${name}`).toBeNull();
        expect(
          errors?.map((error) => error.extensions?.code),
          `${role} ${name}`,
        ).toEqual(['FORBIDDEN']);
      }
    }
    expect(await footprint()).toEqual(before);
  });

  it("shows a key with events:read its organization's drafts, unlisted events, hidden ticket types and versions, not the audit log", async () => {
    const draft = await seedEvent({ title: 'Draft a key may read' });
    await seedTicketType(draft.id, { name: 'Crew', hidden: true });
    const unlisted = await seedPublished({ title: 'Unlisted a key may read', visibility: 'UNLISTED' });
    const eventQuery = `query($id: ID!) { event(id: $id) {
      id ticketTypes { name } versions { edges { node { version } } } } }`;
    const asReader = await call<{ event: unknown }>('readKey', eventQuery, { id: draft.id });
    expect(asReader.errors).toBeUndefined();
    expect(asReader.data!.event).toEqual({
      id: draft.id,
      ticketTypes: [{ name: 'Crew' }],
      versions: { edges: [{ node: { version: 2 } }, { node: { version: 1 } }] },
    });
    const listed = async (role: Role) => {
      const { data } = await call<{ events: { edges: Array<{ node: { id: string } }> } }>(
        role,
        '{ events(first: 100) { edges { node { id } } } }',
      );
      return data!.events.edges.map((edge) => edge.node.id);
    };
    expect(await listed('readKey')).toEqual(expect.arrayContaining([draft.id, unlisted.id]));
    // Another organization's key, and a key that may only write, see what everyone sees.
    for (const role of ['otherKey', 'writeKey'] as Role[]) {
      const { data } = await call(role, 'query($id: ID!) { event(id: $id) { id } }', { id: draft.id });
      expect(data, role).toEqual({ event: null });
      expect(await listed(role), role).not.toContain(draft.id);
      expect(await listed(role), role).not.toContain(unlisted.id);
    }
    // The audit log names staff members' addresses: it stays with the organization's ADMINs.
    const auditLog = await call(
      'readKey',
      'query($org: ID!) { auditLog(organizationId: $org) { edges { cursor } } }',
      {
        org: ORG,
      },
    );
    expect(auditLog.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
  });
});

describe('bad input', () => {
  it('stores sanitized HTML beside the markdown, and refuses unsafe markup without storing anything', async () => {
    const event = await seedEvent({
      description: '# Line-up\n\n* **Ana** — `<script>` is just text here\n\n[Tickets](https://x.example)',
    });
    expect(event.descriptionHtml).toContain('<strong>Ana</strong>');
    expect(event.descriptionHtml).toContain('&lt;script&gt;');
    expect(event.descriptionHtml).toContain('rel="nofollow noopener noreferrer"');
    expect(event.descriptionHtml).not.toMatch(/<script/i);

    const unsafe = [
      '<script>alert(1)</script>',
      '<SCRIPT SRC=//evil.example/x.js></SCRIPT>',
      '[click](javascript:alert(1))',
      '[click](JAVASCRIPT:alert(1))',
      '[click](java&#x09;script:alert(1))',
      '<a href="javascript:alert(1)">x</a>',
      '<img src=x onerror=alert(1)>',
      '<p onmouseover="alert(1)">hover</p>',
      '<iframe src="https://evil.example"></iframe>',
      '[x](data:text/html;base64,PHNjcmlwdD4=)',
      '<svg onload=alert(1)>',
      '<style>body{display:none}</style>',
    ];
    const before = await footprint();
    for (const description of unsafe) {
      const { event: created, errors } = await mutate('owner', 'createEvent', eventInput({ description }));
      expect(created, description).toBeNull();
      expect(errors, description).toEqual([
        {
          code: 'INVALID_INPUT',
          message: expect.stringContaining('scripts'),
          field: ['input', 'description'],
        },
      ]);
    }
    const update = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: 1,
      description: unsafe[0],
    });
    expect(update.errors.map((e) => e.field)).toEqual([['input', 'description']]);
    expect(await footprint()).toEqual(before);
    expect(subgraph.logs.filter((line) => line.msg === 'unexpected error')).toEqual([]);
  });

  it.each([
    ['an invalid time zone', { timezone: 'Europe/Atlantis' }, 'timezone'],
    ['an unknown currency', { currency: 'ABC' }, 'currency'],
    ['a title over 200 characters', { title: 'x'.repeat(201) }, 'title'],
    ['a 1 MB description', { description: '<b>'.repeat(330_000) }, 'description'],
  ])('rejects %s in updateEvent with a field error', async (_, changes, field) => {
    const event = await seedEvent({ title: `Update target ${field}` });
    const before = await footprint();
    const result = await mutate('owner', 'updateEvent', { id: event.id, expectedVersion: 1, ...changes });
    expect(result.event).toBeNull();
    expect(result.errors.map((e) => e.field)).toEqual([['input', field]]);
    expect(await footprint()).toEqual(before);
  });

  it('rejects negative prices, foreign currencies and bad sales windows for ticket types', async () => {
    const event = await seedEvent({ title: 'Ticket rules' });
    const tier = await seedTicketType(event.id);
    const before = await footprint();
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ price: { amount: -100, currency: 'EUR' } }, ['input', 'price', 'amount']],
      [{ price: { amount: 100, currency: 'USD' } }, ['input', 'price', 'currency']],
      [{ capacity: 0 }, ['input', 'capacity']],
      [{ salesStartAt: inAYear(-48), salesEndAt: inAYear(-72) }, ['input', 'salesEndAt']],
      [{ salesEndAt: inAYear(100) }, ['input', 'salesEndAt']],
      [{ minPerOrder: 5, maxPerOrder: 2 }, ['input', 'maxPerOrder']],
      [{ maxPerOrder: 101 }, ['input', 'maxPerOrder']],
    ];
    for (const [changes, field] of cases) {
      const added = await mutate<{ ticketType: null; errors: UserError[] }>('owner', 'addTicketType', {
        eventId: event.id,
        name: 'Tier',
        price: { amount: 100, currency: 'EUR' },
        capacity: 5,
        ...changes,
      });
      expect(
        added.errors.map((e) => e.field),
        JSON.stringify(changes),
      ).toEqual([field]);
      const updated = await mutate<{ ticketType: null; errors: UserError[] }>('owner', 'updateTicketType', {
        id: tier.id,
        ...changes,
      });
      expect(
        updated.errors.map((e) => e.field),
        JSON.stringify(changes),
      ).toEqual([field]);
    }
    expect(await footprint()).toEqual(before);
  });

  it('answers a body over the limit with 413 and a clear error, not a 500', async () => {
    const response = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers.owner },
      body: JSON.stringify({
        query: MUTATIONS.createEvent,
        variables: { input: eventInput({ description: 'x'.repeat(1_100_000) }) },
      }),
    });
    expect(response.status).toBe(413);
    expect(
      ((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions
        .code,
    ).toBe('PAYLOAD_TOO_LARGE');
  });
});
