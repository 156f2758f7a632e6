import type { DomainEvent } from '@bilten/platform';
import { recordEvents, waitFor } from '@bilten/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { eventOfferChanged } from '../src/events.ts';
import {
  call,
  footprint,
  inAYear,
  mutate,
  ORG,
  seedEvent,
  seedPublished,
  seedTicketType,
  sql,
  startCatalog,
  subgraph,
  type UserError,
  versionsOf,
} from './support.ts';

startCatalog();

type Offer = DomainEvent<z.output<typeof eventOfferChanged.payload>>;
let offers: Offer[];
beforeAll(async () => {
  offers = await recordEvents(subgraph.testBus.bus, eventOfferChanged);
});

/** The event's offers received so far, in their order. */
const offersOf = (eventId: string) =>
  offers.filter((offer) => offer.aggregateId === eventId).sort((a, b) => a.sequence - b.sequence);

/** Waits for the event's `count`th offer and answers its payload. */
async function offerNumber(eventId: string, count: number) {
  const received = await waitFor(async () => offersOf(eventId).length >= count && offersOf(eventId));
  return received[count - 1]!.payload;
}

/** How many offers the outbox has numbered for the event, sent or not: none for drafts never published. */
const offersNumbered = async (eventId: string) =>
  (
    await sql<
      Array<{ n: number }>
    >`select coalesce(max(last_sequence), 0)::int as n from catalog.outbox_sequences
      where aggregate_type = 'event_offer' and aggregate_id = ${eventId}`
  )[0]!.n;

type TicketTypeResult = { ticketType: { id: string } | null; errors: UserError[] };

describe('the offer orders sells from (bilten.catalog.event.offer_changed)', () => {
  it('is published whole, once, when an event is published, with every ticket type', async () => {
    const event = await seedEvent({ title: 'Offer Night', capacity: 250 });
    const regular = await seedTicketType(event.id, {
      name: 'Regular',
      price: { amount: 2500, currency: 'EUR' },
      capacity: 200,
      sortOrder: 1,
    });
    const vip = await seedTicketType(event.id, {
      name: 'VIP',
      price: { amount: 9000, currency: 'EUR' },
      capacity: 20,
      salesStartAt: hoursFrom(event.startsAt, -1000),
      salesEndAt: hoursFrom(event.startsAt, -1),
      minPerOrder: 2,
      maxPerOrder: 4,
      maxPerBuyer: 6,
      transferable: false,
      hidden: true,
      sortOrder: 2,
    });
    expect(await offersNumbered(event.id)).toBe(0);
    await mutate('owner', 'publishEvent', { id: event.id });

    expect(await offerNumber(event.id, 1)).toEqual({
      eventId: event.id,
      organizationId: ORG,
      title: 'Offer Night',
      status: 'PUBLISHED',
      startsAt: event.startsAt,
      endsAt: event.endsAt,
      timezone: 'Europe/Sarajevo',
      currency: 'EUR',
      capacity: 250,
      refundPolicy: { kind: 'FULL_UNTIL', daysBeforeStart: 7, percent: null },
      ticketTypes: [
        {
          ticketTypeId: regular.id,
          name: 'Regular',
          priceAmount: 2500,
          capacity: 200,
          salesStartAt: null,
          salesEndAt: null,
          minPerOrder: 1,
          maxPerOrder: 10,
          maxPerBuyer: null,
          transferable: true,
          hidden: false,
        },
        {
          ticketTypeId: vip.id,
          name: 'VIP',
          priceAmount: 9000,
          capacity: 20,
          salesStartAt: hoursFrom(event.startsAt, -1000),
          salesEndAt: hoursFrom(event.startsAt, -1),
          minPerOrder: 2,
          maxPerOrder: 4,
          maxPerBuyer: 6,
          transferable: false,
          hidden: true,
        },
      ],
    });
    const [offer] = offersOf(event.id);
    expect(offer).toMatchObject({
      type: 'bilten.catalog.event.offer_changed',
      aggregateType: 'event_offer',
      sequence: 1,
    });
    expect(await offersNumbered(event.id)).toBe(1);
  });

  it('follows every later change with a new whole offer, numbered without gaps, unpublish included', async () => {
    const event = await seedPublished({ title: 'Changing Night' });
    const first = await offerNumber(event.id, 1);
    const tierId = first.ticketTypes[0]!.ticketTypeId;
    const updateTier = async (changes: Record<string, unknown>) => {
      const { errors } = await mutate<TicketTypeResult>('owner', 'updateTicketType', {
        id: tierId,
        ...changes,
      });
      expect(errors).toEqual([]);
    };
    const tier = (offer: typeof first) => offer.ticketTypes.find((type) => type.ticketTypeId === tierId)!;

    await updateTier({ price: { amount: 3100, currency: 'EUR' } });
    expect(tier(await offerNumber(event.id, 2)).priceAmount).toBe(3100);

    await updateTier({ capacity: 40 });
    const afterCapacity = tier(await offerNumber(event.id, 3));
    expect(afterCapacity).toMatchObject({ capacity: 40, priceAmount: 3100 });

    const added = await seedTicketType(event.id, {
      name: 'Late bird',
      price: { amount: 4000, currency: 'EUR' },
    });
    expect((await offerNumber(event.id, 4)).ticketTypes.map((type) => type.ticketTypeId)).toEqual([
      tierId,
      added.id,
    ]);

    await updateTier({
      salesStartAt: hoursFrom(event.startsAt, -500),
      salesEndAt: hoursFrom(event.startsAt, -2),
    });
    expect(tier(await offerNumber(event.id, 5))).toMatchObject({
      salesStartAt: hoursFrom(event.startsAt, -500),
      salesEndAt: hoursFrom(event.startsAt, -2),
    });

    await updateTier({ maxPerBuyer: 3, transferable: false, hidden: true, minPerOrder: 2, maxPerOrder: 3 });
    expect(tier(await offerNumber(event.id, 6))).toMatchObject({
      maxPerBuyer: 3,
      transferable: false,
      hidden: true,
      minPerOrder: 2,
      maxPerOrder: 3,
    });

    const { errors } = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: event.version + 5,
      title: 'Changed Night',
      capacity: 120,
      refundPolicy: { kind: 'PARTIAL', daysBeforeStart: 3, percent: 50 },
      startsAt: hoursFrom(event.startsAt, 1),
    });
    expect(errors).toEqual([]);
    expect(await offerNumber(event.id, 7)).toMatchObject({
      title: 'Changed Night',
      capacity: 120,
      refundPolicy: { kind: 'PARTIAL', daysBeforeStart: 3, percent: 50 },
      startsAt: hoursFrom(event.startsAt, 1),
    });

    await mutate('owner', 'unpublishEvent', { id: event.id });
    expect((await offerNumber(event.id, 8)).status).toBe('DRAFT');

    // Once on sale, orders keeps hearing of it: its copy stays whole for the next publish.
    await updateTier({ price: { amount: 2900, currency: 'EUR' } });
    expect(tier(await offerNumber(event.id, 9))).toMatchObject({ priceAmount: 2900 });
    await mutate('owner', 'publishEvent', { id: event.id });
    expect(await offerNumber(event.id, 10)).toMatchObject({ status: 'PUBLISHED', title: 'Changed Night' });

    expect(offersOf(event.id).map((offer) => offer.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await offersNumbered(event.id)).toBe(10);
  });

  it('is never published for drafts that never went on sale', async () => {
    const draft = await seedEvent({ title: 'Quiet Draft' });
    const tier = await seedTicketType(draft.id);
    await mutate<TicketTypeResult>('owner', 'updateTicketType', { id: tier.id, capacity: 10 });
    await mutate('owner', 'updateEvent', {
      id: draft.id,
      expectedVersion: draft.version + 2,
      title: 'Still Quiet',
    });
    const copy = (await mutate('owner', 'duplicateEvent', { id: draft.id })).event!;
    await mutate('owner', 'cancelEvent', { id: draft.id });
    expect(await offersNumbered(draft.id)).toBe(0);
    expect(await offersNumbered(copy.id)).toBe(0);
    // The relay is not merely late: an offer written after them arrives, theirs never did.
    const published = await seedPublished({ title: 'Loud Show' });
    await offerNumber(published.id, 1);
    expect(offersOf(draft.id)).toEqual([]);
    expect(offersOf(copy.id)).toEqual([]);
  });

  it('tells orders when an event is cancelled, or deleted and so cancelled', async () => {
    const cancelled = await seedPublished({ title: 'Called Off' });
    await mutate('owner', 'cancelEvent', { id: cancelled.id, reason: 'storm' });
    expect((await offerNumber(cancelled.id, 2)).status).toBe('CANCELLED');

    const deleted = await seedPublished({ title: 'Deleted Show' });
    await mutate('owner', 'deleteEvent', { id: deleted.id });
    expect((await offerNumber(deleted.id, 2)).status).toBe('CANCELLED');
    expect(await offersNumbered(cancelled.id)).toBe(2);
    expect(await offersNumbered(deleted.id)).toBe(2);
  });

  it('follows a restored version and the occurrences of a published series as each is published', async () => {
    const event = await seedPublished({ title: 'Original Title', capacity: 300 });
    await mutate('owner', 'updateEvent', { id: event.id, expectedVersion: event.version, capacity: 150 });
    expect((await offerNumber(event.id, 2)).capacity).toBe(150);
    await mutate('owner', 'restoreEventVersion', {
      eventId: event.id,
      version: event.version,
      expectedVersion: event.version + 1,
    });
    expect((await offerNumber(event.id, 3)).capacity).toBe(300);

    const { occurrences } = await mutate<{ occurrences: Array<{ id: string; status: string }> }>(
      'owner',
      'addOccurrences',
      { eventId: event.id, startsAt: [inAYear(24 * 7)] },
    );
    const next = occurrences[0]!;
    expect(next.status).toBe('DRAFT');
    expect(await offersNumbered(next.id)).toBe(0);
    await mutate('owner', 'publishEvent', { id: next.id });
    const offer = await offerNumber(next.id, 1);
    expect(offer).toMatchObject({ eventId: next.id, status: 'PUBLISHED', capacity: 300 });
    expect(offer.ticketTypes).toHaveLength(1);
  });
});

describe('maxPerBuyer and transferable', () => {
  const TICKET_TYPE = 'id maxPerBuyer transferable minPerOrder';

  it('default to no limit and transferable, and are kept and shown as set', async () => {
    const event = await seedEvent({ title: 'Sale rules' });
    const added = await call<{ addTicketType: { ticketType: { id: string } } }>(
      'owner',
      `mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { ${TICKET_TYPE} } } }`,
      { input: { eventId: event.id, name: 'Plain', price: { amount: 100, currency: 'EUR' }, capacity: 10 } },
    );
    const plain = added.data!.addTicketType.ticketType;
    expect(plain).toMatchObject({ maxPerBuyer: null, transferable: true });
    const updated = await call<{ updateTicketType: { ticketType: { id: string } } }>(
      'owner',
      `mutation($input: UpdateTicketTypeInput!) { updateTicketType(input: $input) { ticketType { ${TICKET_TYPE} } } }`,
      { input: { id: plain.id, maxPerBuyer: 4, transferable: false } },
    );
    expect(updated.data!.updateTicketType.ticketType).toEqual({
      id: plain.id,
      maxPerBuyer: 4,
      transferable: false,
      minPerOrder: 1,
    });
    // Null lifts the limit; leaving it out keeps it.
    await mutate<TicketTypeResult>('owner', 'updateTicketType', { id: plain.id, name: 'Renamed' });
    expect((await sql`select max_per_buyer from catalog.ticket_types where id = ${plain.id}`)[0]).toEqual({
      max_per_buyer: 4,
    });
    await mutate<TicketTypeResult>('owner', 'updateTicketType', { id: plain.id, maxPerBuyer: null });
    expect((await sql`select max_per_buyer from catalog.ticket_types where id = ${plain.id}`)[0]).toEqual({
      max_per_buyer: null,
    });
  });

  it('are refused as field errors when out of bounds, and nothing is written', async () => {
    const event = await seedEvent({ title: 'Sale rule limits' });
    const tier = await seedTicketType(event.id, { minPerOrder: 2 });
    const before = await footprint();
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ maxPerBuyer: 0 }, ['input', 'maxPerBuyer']],
      [{ maxPerBuyer: -3 }, ['input', 'maxPerBuyer']],
      [{ maxPerBuyer: 1 }, ['input', 'maxPerBuyer']],
      [{ minPerOrder: 5, maxPerOrder: 6, maxPerBuyer: 4 }, ['input', 'maxPerBuyer']],
    ];
    for (const [changes, field] of cases) {
      const added = await mutate<TicketTypeResult>('owner', 'addTicketType', {
        eventId: event.id,
        name: 'Tier',
        price: { amount: 100, currency: 'EUR' },
        capacity: 5,
        minPerOrder: 2,
        ...changes,
      });
      expect(
        added.errors.map((e) => [e.code, e.field]),
        JSON.stringify(changes),
      ).toEqual([['INVALID_INPUT', field]]);
      expect(added.ticketType).toBeNull();
      const updated = await mutate<TicketTypeResult>('owner', 'updateTicketType', {
        id: tier.id,
        ...changes,
      });
      expect(
        updated.errors.map((e) => [e.code, e.field]),
        JSON.stringify(changes),
      ).toEqual([['INVALID_INPUT', field]]);
    }
    expect(await footprint()).toEqual(before);
    // Raising minPerOrder above a limit already set is refused the same way.
    await mutate<TicketTypeResult>('owner', 'updateTicketType', { id: tier.id, maxPerBuyer: 3 });
    const afterLimit = await footprint();
    const raised = await mutate<TicketTypeResult>('owner', 'updateTicketType', {
      id: tier.id,
      minPerOrder: 4,
    });
    expect(raised.errors.map((e) => e.field)).toEqual([['input', 'maxPerBuyer']]);
    expect(await footprint()).toEqual(afterLimit);
  });

  it('are in versions and their diffs like every other field', async () => {
    const event = await seedEvent({ title: 'Versioned rules' });
    const tier = await seedTicketType(event.id, { maxPerBuyer: 8 });
    await mutate<TicketTypeResult>('owner', 'updateTicketType', {
      id: tier.id,
      maxPerBuyer: 2,
      transferable: false,
    });
    const [latest, added] = await versionsOf(event.id);
    expect(added!.snapshot.ticketTypes).toEqual([
      expect.objectContaining({ id: tier.id, maxPerBuyer: 8, transferable: true }),
    ]);
    expect(latest!.snapshot.ticketTypes).toEqual([
      expect.objectContaining({ id: tier.id, maxPerBuyer: 2, transferable: false }),
    ]);
    const { from, to } = latest!.diff.ticketTypes!;
    expect(from).toEqual([expect.objectContaining({ maxPerBuyer: 8, transferable: true })]);
    expect(to).toEqual([expect.objectContaining({ maxPerBuyer: 2, transferable: false })]);
  });
});

/** The instant `hours` after `instant`, as the API and the offer write it. */
function hoursFrom(startsAt: string, hours: number) {
  return new Date(new Date(startsAt).getTime() + hours * 3_600_000).toISOString();
}
