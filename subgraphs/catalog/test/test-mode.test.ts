import { organizationCreated } from '@bilten/contracts/identity';
import { newEvent } from '@bilten/platform';
import { type CallerHeaders, waitFor } from '@bilten/testkit';
import { queryEntities } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventInput, headers, ORG, seedPublished, sql, startCatalog, subgraph } from './support.ts';

startCatalog();

/** A sandbox of ORG, and who is who around it. */
const SANDBOX = uuidv7();
const callers = {} as Record<'sandboxOwner' | 'sandboxKey' | 'sandboxStaff', CallerHeaders>;

/** identity's announcement, as its outbox publishes it; resolves once catalog has recorded it. */
async function announce(organizationId: string, testMode: boolean, sandboxOf: string | null = null) {
  const event = newEvent(organizationCreated, organizationId, 1, {
    organizationId,
    name: 'Org',
    slug: `org-${organizationId}`,
    testMode,
    sandboxOf,
  });
  await subgraph.testBus.bus.publish(event);
  return event;
}

const recorded = (organizationId: string) =>
  waitFor(async () => {
    const [row] = await sql`
      select organization_id from catalog.test_mode_organizations where organization_id = ${organizationId}`;
    return row;
  });

const EVENT_BY_ID = `query($id: ID!) { event(id: $id) { id title } }`;
const TICKET_TYPE_BY_ID = `query($id: ID!) { ticketType(id: $id) { id } }`;
const SEARCH = `query($filter: EventFilter) { events(filter: $filter, first: 100) { edges { node { id } } totalCount } }`;

const read = async <T>(caller: CallerHeaders, query: string, variables: Record<string, unknown>) => {
  const { data, errors } = await subgraph.gql<T>(query, variables, caller);
  expect(errors).toBeUndefined();
  return data!;
};
const eventOf = async (caller: CallerHeaders, id: string) =>
  (await read<{ event: { id: string } | null }>(caller, EVENT_BY_ID, { id })).event;
const listed = async (caller: CallerHeaders, filter: Record<string, unknown>) => {
  const { events } = await read<{ events: { edges: Array<{ node: { id: string } }>; totalCount: number } }>(
    caller,
    SEARCH,
    { filter },
  );
  return { ids: events.edges.map((edge) => edge.node.id), total: events.totalCount };
};

/** Creates, prices and publishes an event of the sandbox as its owner; its id and ticket type's. */
async function publishInSandbox(title: string) {
  const owner = callers.sandboxOwner;
  const created = await read<{ createEvent: { event: { id: string }; errors: unknown[] } }>(
    owner,
    `mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } errors { message } } }`,
    { input: eventInput({ organizationId: SANDBOX, title }) },
  );
  expect(created.createEvent.errors).toEqual([]);
  const id = created.createEvent.event.id;
  const added = await read<{ addTicketType: { ticketType: { id: string } } }>(
    owner,
    `mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id } } }`,
    { input: { eventId: id, name: 'Regular', price: { amount: 1000, currency: 'EUR' }, capacity: 10 } },
  );
  const published = await read<{ publishEvent: { event: { id: string; status: string } } }>(
    owner,
    `mutation($input: EventIdInput!) { publishEvent(input: $input) { event { id status } } }`,
    { input: { id } },
  );
  expect(published.publishEvent.event.status).toBe('PUBLISHED');
  return { id, ticketTypeId: added.addTicketType.ticketType.id };
}

beforeAll(async () => {
  callers.sandboxOwner = await subgraph.bearer({ orgs: { [SANDBOX]: 'OWNER' } });
  callers.sandboxStaff = await subgraph.bearer({ orgs: { [SANDBOX]: 'STAFF' } });
  callers.sandboxKey = await subgraph.bearer({
    sub: uuidv7(),
    kind: 'api_key',
    org: SANDBOX,
    scopes: ['events:read'],
    mode: 'TEST',
  });
  await announce(SANDBOX, true, ORG);
  await recorded(SANDBOX);
});

describe('a test-mode organization’s events are its own', () => {
  it('are invisible by id to anonymous callers, customers, other organizations’ users and keys, and ORG itself', async () => {
    const { id, ticketTypeId } = await publishInSandbox('Sandbox Gig Zvornik');
    for (const role of ['anonymous', 'customer', 'otherOwner', 'otherKey', 'owner', 'writeKey'] as const) {
      expect(await eventOf(headers[role], id), role).toBeNull();
      const { ticketType } = await read<{ ticketType: unknown }>(headers[role], TICKET_TYPE_BY_ID, {
        id: ticketTypeId,
      });
      expect(ticketType, role).toBeNull();
    }
    // Reached from an object another subgraph gave the caller (a guest's reservation, order or
    // ticket in test mode), it resolves: what they bought is theirs to see. Reads by id stay hidden.
    const { data } = await queryEntities(subgraph, [{ __typename: 'Event', id }], '... on Event { id }');
    expect(data?._entities).toEqual([{ id }]);
  });

  it('are visible to its own members and API keys, in lists too', async () => {
    const { id } = await publishInSandbox('Sandbox Gig Tuzla');
    for (const caller of [callers.sandboxOwner, callers.sandboxStaff, callers.sandboxKey]) {
      expect(await eventOf(caller, id)).toEqual({ id, title: 'Sandbox Gig Tuzla' });
      expect((await listed(caller, { query: 'Tuzla' })).ids).toEqual([id]);
      expect((await listed(caller, { organizationId: SANDBOX })).ids).toContain(id);
    }
  });

  it('are in no one else’s search, listing, count, near search or organization page', async () => {
    const { id } = await publishInSandbox('Sandbox Gig Mostar');
    const live = await seedPublished({ title: 'Live Gig Mostar' });
    for (const role of ['anonymous', 'customer', 'otherKey', 'owner'] as const) {
      const caller = headers[role];
      expect(await listed(caller, { query: 'Mostar' }), role).toEqual({ ids: [live.id], total: 1 });
      expect((await listed(caller, {})).ids, role).not.toContain(id);
      const near = await listed(caller, { near: { latitude: 43.85, longitude: 18.4, radiusKm: 50 } });
      expect(near.ids, role).toContain(live.id);
      expect(near.ids, role).not.toContain(id);
      expect(await listed(caller, { organizationId: SANDBOX }), role).toEqual({ ids: [], total: 0 });
      const { data } = await queryEntities(
        subgraph,
        [{ __typename: 'Organization', id: SANDBOX }],
        '... on Organization { events(first: 10) { edges { node { id } } totalCount } }',
        caller,
      );
      expect(data?._entities, role).toEqual([{ events: { edges: [], totalCount: 0 } }]);
    }
  });

  it('never feed the typo dictionary public searches are corrected with', async () => {
    await publishInSandbox('Sandbox Xylofonija');
    const words = await sql`select word from catalog.search_words where word = 'xylofonija'`;
    expect(words).toEqual([]);
    // A misspelling finds nothing rather than a word only the sandbox has.
    expect(await listed(headers.anonymous, { query: 'xylofonjia' })).toEqual({ ids: [], total: 0 });
  });

  it('written before identity’s announcement arrives are hidden once it does, and a redelivery changes nothing', async () => {
    const late = uuidv7();
    const owner = await subgraph.bearer({ orgs: { [late]: 'OWNER' } });
    const { data } = await subgraph.gql<{ createEvent: { event: { id: string } } }>(
      `mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }`,
      { input: eventInput({ organizationId: late, title: 'Early bird', visibility: 'UNLISTED' }) },
      owner,
    );
    const id = data!.createEvent.event.id;
    await sql`update catalog.events set status = 'PUBLISHED' where id = ${id}`;
    expect(await eventOf(headers.anonymous, id)).toEqual({ id, title: 'Early bird' });

    const announcement = await announce(late, true);
    await recorded(late);
    expect(await eventOf(headers.anonymous, id)).toBeNull();
    expect(await eventOf(owner, id)).toEqual({ id, title: 'Early bird' });

    await subgraph.testBus.bus.publish(announcement);
    // A later announcement on the same subscription, to know the redelivery was handled before it.
    const next = uuidv7();
    await announce(next, true);
    await recorded(next);
    const rows = await sql`
      select organization_id, sandbox_of from catalog.test_mode_organizations where organization_id = ${late}`;
    expect(rows).toEqual([{ organization_id: late, sandbox_of: null }]);
    expect(await eventOf(owner, id)).toEqual({ id, title: 'Early bird' });
    expect(subgraph.logs.filter((line) => (line.level as number) >= 50)).toEqual([]);
  });

  it('a live organization’s announcement changes nothing for its events', async () => {
    const live = await seedPublished({ title: 'Still Public' });
    const announcement = await announce(ORG, false);
    await waitFor(async () => {
      const [row] = await sql<Array<{ n: number }>>`
        select count(*)::int as n from catalog.inbox where event_id = ${announcement.id}`;
      return row!.n === 1 || undefined;
    });
    expect(await sql`select 1 from catalog.test_mode_organizations where organization_id = ${ORG}`).toEqual(
      [],
    );
    expect(await eventOf(headers.anonymous, live.id)).toEqual({ id: live.id, title: 'Still Public' });
  });
});
