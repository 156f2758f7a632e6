import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import {
  call,
  count,
  type Event,
  eventInput,
  footprint,
  inAYear,
  MUTATIONS,
  type MutationName,
  mutate,
  ORG,
  OTHER_ORG,
  type Role,
  seedEvent,
  seedPublished,
  seedTicketType,
  sql,
  startCatalog,
  type UserError,
  WRITE_KEY_ID,
} from './support.ts';

startCatalog();

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
  /** Callers who see the draft (or, for createEvent, name an organization) but may not change it. */
  const denied: Array<[Role, string]> = [
    ['anonymous', 'UNAUTHENTICATED'],
    ['staff', 'FORBIDDEN'],
    ['readKey', 'FORBIDDEN'],
  ];
  /** Callers for whom another organization's draft does not exist: its id answers like an unknown one. */
  const outsiders: Role[] = ['customer', 'otherOwner', 'otherKey'];
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
      const refusals = () => count("catalog.outbox where type = 'bilten.catalog.security_event.recorded'");
      const refusalsBefore = await refusals();
      const input = inputs[name](event, ticketTypeId);
      if (name === 'updateEvent' || name === 'restoreEventVersion') input.expectedVersion = event.version;
      const { data, errors } = await call(role, MUTATIONS[name], { input });
      expect(data).toBeNull();
      expect(errors?.map((error) => error.extensions?.code)).toEqual([code]);
      expect(JSON.stringify(errors)).not.toContain('Permission target');
      expect(await footprint()).toEqual(before);
      // A FORBIDDEN answer is a security event, reported before the answer goes out.
      expect(await refusals()).toBe(refusalsBefore + (code === 'FORBIDDEN' ? 1 : 0));
    });

    it.each(outsiders)(
      `${name}: %s is told what an unknown id gets, and nothing is written`,
      async (role) => {
        const { event, ticketTypeId } = await seedTarget();
        const before = await footprint();
        const input = inputs[name](event, ticketTypeId);
        if (name === 'updateEvent' || name === 'restoreEventVersion') input.expectedVersion = event.version;
        const { data, errors } = await call<Record<string, { errors: UserError[] }>>(role, MUTATIONS[name], {
          input,
        });
        if (name === 'createEvent') {
          expect(errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
        } else {
          expect(errors).toBeUndefined();
          // deleteEvent answers an unknown id as deleted already; every other mutation NOT_FOUND.
          expect(data![name]!.errors.map((error) => error.code)).toEqual(
            name === 'deleteEvent' ? [] : ['NOT_FOUND'],
          );
          const unknown = await call<Record<string, { errors: UserError[] }>>(role, MUTATIONS[name], {
            input: inputs[name]({ ...event, id: uuidv7() }, uuidv7()),
          });
          expect(data![name]!.errors).toEqual(unknown.data![name]!.errors);
        }
        expect(JSON.stringify({ data, errors })).not.toContain('Permission target');
        expect(await footprint()).toEqual(before);
      },
    );

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
        const { data, errors } = await call<Record<string, { errors: UserError[] }>>(role, MUTATIONS[name], {
          input,
        });
        // Another organization's key does not see the draft at all: NOT_FOUND, as for an unknown id.
        const code =
          errors?.map((error) => error.extensions?.code) ?? data?.[name]?.errors.map((error) => error.code);
        expect(code, `${role} ${name}`).toEqual(
          role === 'otherKey' && name !== 'createEvent' ? ['NOT_FOUND'] : ['FORBIDDEN'],
        );
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
