import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_ID,
  call,
  type EventPayload,
  eventInput,
  footprint,
  inAYear,
  MUTATIONS,
  type MutationName,
  mutate,
  ORG,
  OWNER_ID,
  seedEvent,
  seedTicketType,
  sql,
  startCatalog,
  type UserError,
  unexpectedErrors,
  versionsOf,
} from './support.ts';

startCatalog();

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
    expect(unexpectedErrors()).toEqual([]);
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
