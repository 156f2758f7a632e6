import { eventSalesChanged } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import { waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import {
  call,
  count,
  type EventPayload,
  MUTATIONS,
  mutate,
  type Role,
  seedEvent,
  seedPublished,
  seedTicketType,
  sql,
  startCatalog,
  subgraph,
  type UserError,
} from './support.ts';

startCatalog();

type Sales = { ticketsSold: number; ticketTypes: Array<{ ticketTypeId: string; sold: number }> };

/** How far catalog's sales consumer got with an event's messages. */
const appliedUpTo = async (eventId: string) =>
  (
    await sql<Array<{ last: number }>>`
      select last_sequence::int as last from catalog.consumer_positions
      where consumer = 'catalog-event-sales' and aggregate_type = 'event_sales' and aggregate_id = ${eventId}`
  )[0]?.last ?? 0;

/** orders' message, as its outbox would publish it. */
const salesEvent = (eventId: string, sequence: number, sales: Sales) =>
  newEvent(eventSalesChanged, eventId, sequence, { eventId, ...sales });

/** Publishes orders' message and resolves once catalog applied it. */
async function reportSales(eventId: string, sequence: number, sales: Sales) {
  await subgraph.testBus.bus.publish(salesEvent(eventId, sequence, sales));
  await waitFor(async () => (await appliedUpTo(eventId)) >= sequence);
}

const soldIn = async (eventId: string) => ({
  event: (
    await sql<Array<{ n: number }>>`select tickets_sold as n from catalog.events where id = ${eventId}`
  )[0]?.n,
  ticketTypes: Object.fromEntries(
    (
      await sql<Array<{ id: string; n: number }>>`
        select id, tickets_sold as n from catalog.ticket_types where event_id = ${eventId}`
    ).map((row) => [row.id, row.n]),
  ),
});

/** A published event with two ticket types, `sold` of the first and one of the second sold. */
async function eventWithSales(sold = 4) {
  const event = await seedPublished();
  const first = event.ticketTypes[0]!.id;
  const second = (await seedTicketType(event.id, { name: 'VIP' })).id;
  const version = (await sql`select version from catalog.events where id = ${event.id}`)[0]!
    .version as number;
  await reportSales(event.id, 1, {
    ticketsSold: sold + 1,
    ticketTypes: [
      { ticketTypeId: first, sold },
      { ticketTypeId: second, sold: 1 },
    ],
  });
  return { event, first, second, version };
}

describe("tickets sold, kept from orders' event_sales.changed", () => {
  it('sets the absolute counts without an edit: no version, audit entry or offer', async () => {
    const event = await seedPublished();
    const typeId = event.ticketTypes[0]!.id;
    const before = {
      row: await sql`select version, updated_at from catalog.events where id = ${event.id}`,
      versions: await count('catalog.event_versions where event_id = $1', event.id),
      audit: await count('catalog.audit_log'),
      outbox: await count('catalog.outbox'),
    };

    await reportSales(event.id, 1, { ticketsSold: 3, ticketTypes: [{ ticketTypeId: typeId, sold: 3 }] });
    expect(await soldIn(event.id)).toEqual({ event: 3, ticketTypes: { [typeId]: 3 } });
    // A return: the count goes down, whatever came before.
    await reportSales(event.id, 2, { ticketsSold: 2, ticketTypes: [{ ticketTypeId: typeId, sold: 2 }] });
    expect(await soldIn(event.id)).toEqual({ event: 2, ticketTypes: { [typeId]: 2 } });

    expect({
      row: await sql`select version, updated_at from catalog.events where id = ${event.id}`,
      versions: await count('catalog.event_versions where event_id = $1', event.id),
      audit: await count('catalog.audit_log'),
      outbox: await count('catalog.outbox'),
    }).toEqual(before);
  });

  it('applies once and in order: a redelivery or an older count changes nothing, an early one waits', async () => {
    const event = await seedPublished();
    const typeId = event.ticketTypes[0]!.id;
    const sales = (sold: number): Sales => ({
      ticketsSold: sold,
      ticketTypes: [{ ticketTypeId: typeId, sold }],
    });
    const first = salesEvent(event.id, 1, sales(5));
    await subgraph.testBus.bus.publish(first);
    await reportSales(event.id, 2, sales(7));

    // Both handled before the next message of the same event (one at a time per event).
    const olderLate = salesEvent(event.id, 1, sales(1));
    await subgraph.testBus.bus.publish(first);
    await subgraph.testBus.bus.publish(olderLate);
    await reportSales(event.id, 3, { ticketsSold: 7, ticketTypes: [] });
    expect(await soldIn(event.id)).toEqual({ event: 7, ticketTypes: { [typeId]: 7 } });
    expect(
      await count(
        "catalog.inbox where consumer = 'catalog-event-sales' and event_id in ($1, $2)",
        first.id,
        olderLate.id,
      ),
    ).toBe(1);

    // The fifth arrives before the fourth: it waits for it, so the newer count is the one kept.
    await subgraph.testBus.bus.publish(salesEvent(event.id, 5, sales(9)));
    await subgraph.testBus.bus.publish(salesEvent(event.id, 4, sales(8)));
    await waitFor(async () => (await appliedUpTo(event.id)) >= 5);
    expect(await soldIn(event.id)).toEqual({ event: 9, ticketTypes: { [typeId]: 9 } });
  });

  it('ignores, with a log line, an event or ticket type catalog does not know', async () => {
    const unknownEvent = uuidv7();
    await reportSales(unknownEvent, 1, { ticketsSold: 2, ticketTypes: [] });
    expect(subgraph.logs).toContainEqual(
      expect.objectContaining({
        eventId: unknownEvent,
        msg: 'sales of an event catalog does not know, ignored',
      }),
    );

    const event = await seedPublished();
    const typeId = event.ticketTypes[0]!.id;
    const gone = uuidv7();
    await reportSales(event.id, 1, {
      ticketsSold: 3,
      ticketTypes: [
        { ticketTypeId: typeId, sold: 2 },
        { ticketTypeId: gone, sold: 1 },
      ],
    });
    expect(await soldIn(event.id)).toEqual({ event: 3, ticketTypes: { [typeId]: 2 } });
    expect(subgraph.logs).toContainEqual(
      expect.objectContaining({ eventId: event.id, ticketTypeIds: [gone] }),
    );
  });
});

const errorsOf = async (name: keyof typeof MUTATIONS, input: Record<string, unknown>) => {
  const { data, errors } = await call<Record<string, { errors: UserError[] }>>('owner', MUTATIONS[name], {
    input,
  });
  expect(errors).toBeUndefined();
  return data![name]!.errors;
};

describe('the rules read what is sold', () => {
  it('refuses to change the currency once tickets are sold', async () => {
    const { event, version } = await eventWithSales();
    expect(
      await errorsOf('updateEvent', { id: event.id, expectedVersion: version, currency: 'USD' }),
    ).toEqual([
      { code: 'INVALID_INPUT', message: 'cannot change once tickets are sold', field: ['input', 'currency'] },
    ]);
  });

  it('refuses to unpublish an event with sales', async () => {
    const { event } = await eventWithSales();
    expect(await errorsOf('unpublishEvent', { id: event.id })).toEqual([
      {
        code: 'INVALID_INPUT',
        message: 'tickets are sold: cancel the event instead',
        field: ['input', 'id'],
      },
    ]);
  });

  it("refuses to lower a ticket type's capacity below what it sold, down to it is fine", async () => {
    const { first } = await eventWithSales(4);
    expect(await errorsOf('updateTicketType', { id: first, capacity: 3 })).toEqual([
      {
        code: 'INVALID_INPUT',
        message: 'cannot be less than the 4 tickets sold',
        field: ['input', 'capacity'],
      },
    ]);
    expect(await errorsOf('updateTicketType', { id: first, capacity: 4 })).toEqual([]);
  });

  it('gives a duplicate none of the sales of its source', async () => {
    const { event } = await eventWithSales();
    const copy = (await mutate('owner', 'duplicateEvent', { id: event.id })).event!;
    expect(await soldIn(copy.id)).toEqual({
      event: 0,
      ticketTypes: Object.fromEntries(copy.ticketTypes.map((type) => [type.id, 0])),
    });
  });

  it('cancels a draft with sales instead of deleting it', async () => {
    // A draft sells nothing, but a sale may have been reported for it after an unpublish.
    const event = await seedEvent();
    const typeId = (await seedTicketType(event.id)).id;
    await reportSales(event.id, 1, { ticketsSold: 2, ticketTypes: [{ ticketTypeId: typeId, sold: 2 }] });
    const { deletedEventId, event: cancelled } = await mutate<
      { deletedEventId: string | null } & EventPayload
    >('owner', 'deleteEvent', { id: event.id });
    expect(deletedEventId).toBeNull();
    expect(cancelled).toMatchObject({ id: event.id, status: 'CANCELLED' });
    const [announced] = await sql`
      select payload from catalog.outbox where aggregate_id = ${event.id} and type = 'bilten.catalog.event.cancelled'`;
    expect(announced!.payload).toMatchObject({ ticketsSold: 2 });
  });

  it("shows the counts to the organization's members and events:read keys, null to everyone else", async () => {
    const { event, first, second } = await eventWithSales(4);
    const seenBy = async (role: Role) => {
      const { data, errors } = await call<{
        event: { ticketsSold: number | null; ticketTypes: Array<{ id: string; ticketsSold: number | null }> };
      }>(role, 'query($id: ID!) { event(id: $id) { ticketsSold ticketTypes { id ticketsSold } } }', {
        id: event.id,
      });
      expect(errors).toBeUndefined();
      return data!.event;
    };
    for (const role of ['staff', 'owner', 'readKey'] as const) {
      expect(await seenBy(role)).toEqual({
        ticketsSold: 5,
        ticketTypes: [
          { id: first, ticketsSold: 4 },
          { id: second, ticketsSold: 1 },
        ],
      });
    }
    for (const role of ['anonymous', 'customer', 'otherOwner', 'otherKey'] as const) {
      expect(await seenBy(role)).toEqual({
        ticketsSold: null,
        ticketTypes: [
          { id: first, ticketsSold: null },
          { id: second, ticketsSold: null },
        ],
      });
    }
    const { data } = await call<{ ticketType: { ticketsSold: number | null } }>(
      'staff',
      'query($id: ID!) { ticketType(id: $id) { ticketsSold } }',
      { id: first },
    );
    expect(data!.ticketType.ticketsSold).toBe(4);
  });
});
