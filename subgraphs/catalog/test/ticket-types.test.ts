import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  call,
  footprint,
  inAYear,
  mutate,
  type Role,
  seedEvent,
  seedTicketType,
  startCatalog,
  type UserError,
} from './support.ts';

startCatalog();

describe('ticket types: who sees them, what they may be', () => {
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

  it('holds at most the 30 ticket types that Event.ticketTypes declares as its size, hidden ones included', async () => {
    // The gateway's query cost counts the list at this size (@listSize), so the rule must hold it.
    const schema = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(schema).toMatch(/ticketTypes: \[TicketType!\]! @listSize\(assumedSize: 30\)/);
    const event = await seedEvent({ title: 'Many tiers' });
    for (let i = 0; i < 30; i++) await seedTicketType(event.id, { name: `Tier ${i}`, hidden: i % 2 === 0 });
    const before = await footprint();
    const oneMore = await mutate('owner', 'addTicketType', {
      eventId: event.id,
      name: 'Tier 30',
      price: { amount: 100, currency: 'EUR' },
      capacity: 10,
    });
    expect(oneMore).toEqual({
      ticketType: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: 'an event has at most 30 ticket types',
          field: ['input', 'eventId'],
        },
      ],
    });
    expect(await footprint()).toEqual(before);
  });
});
