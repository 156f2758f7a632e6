import { connectDatabase, createOutbox, type DatabaseHandle } from '@bilten/platform';
import {
  type CallerHeaders,
  captureLogs,
  startTestSubgraph,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStore } from '../src/db/schema.ts';
import { sweepWaitingLists } from '../src/domain/waiting-list.ts';
import { ordersSubgraph } from '../src/server.ts';
import {
  catalogOffers,
  type OfferPayload,
  offerPayload,
  release,
  reserve,
  testPeople,
  ticketTypeOffer,
  type UserError,
} from './support.ts';

/** Its sweep never runs by itself here: the tests run passes one by one. */
let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let database: DatabaseHandle;
const sweep = () =>
  sweepWaitingLists({
    db: database.db,
    outbox: createOutbox(eventStore, 'orders'),
    log: captureLogs('waiting-list-test').log,
    people: testPeople(database.db),
    offerTtlSeconds: 600,
  });

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream', {
    env: { WAITING_LIST_SWEEP_MS: '3600000' },
  });
  catalog = catalogOffers(subgraph);
  database = connectDatabase({
    url: subgraph.database.url,
    poolSize: 2,
    applicationName: 'waiting-list-test',
  });
});

afterAll(async () => {
  await database?.close();
  await subgraph?.dispose();
});

interface Entry {
  id: string;
  status: string;
  quantity: number;
  ticketType: { id: string } | null;
  reservation: { id: string; status: string; expiresAt: string; items: Array<{ quantity: number }> } | null;
}
const ENTRY_FIELDS =
  'id status quantity ticketType { id } reservation { id status expiresAt items { quantity } }';

const user = () => subgraph.bearer({ sub: uuidv7() });

async function join(input: Record<string, unknown>, headers: CallerHeaders) {
  const { data, errors } = await subgraph.gql<{
    joinWaitingList: { entry: Entry | null; errors: UserError[] };
  }>(
    `mutation($input: JoinWaitingListInput!) {
      joinWaitingList(input: $input) { entry { ${ENTRY_FIELDS} } errors { code message field } }
    }`,
    { input: { email: 'fan@example.org', ...input } },
    headers,
  );
  return { payload: data?.joinWaitingList ?? null, errors };
}

async function joined(input: Record<string, unknown>, headers: CallerHeaders) {
  const { payload, errors } = await join(input, headers);
  expect(errors).toBeUndefined();
  expect(payload!.errors).toEqual([]);
  return payload!.entry!;
}

async function entry(id: string, headers: CallerHeaders) {
  const { data, errors } = await subgraph.gql<{ waitingListEntry: Entry | null }>(
    `query($id: ID!) { waitingListEntry(id: $id) { ${ENTRY_FIELDS} } }`,
    { id },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.waitingListEntry;
}

async function leave(entryId: string, headers: CallerHeaders) {
  const { data, errors } = await subgraph.gql<{
    leaveWaitingList: { entry: Entry | null; errors: UserError[] };
  }>(
    `mutation($input: LeaveWaitingListInput!) { leaveWaitingList(input: $input) { entry { ${ENTRY_FIELDS} } errors { code message } } }`,
    { input: { entryId } },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.leaveWaitingList;
}

/** An event of one ticket type with `capacity` seats, all held by one buyer: sold out. */
async function soldOutEvent(capacity: number, overrides: Partial<OfferPayload> = {}) {
  const offer = await catalog.announce(
    offerPayload({ ticketTypes: [ticketTypeOffer({ capacity, maxPerOrder: 10 })], ...overrides }),
  );
  const ticketTypeId = offer.ticketTypes[0]!.ticketTypeId;
  const holder = await user();
  const { reservation } = await reserve(
    subgraph,
    { eventId: offer.eventId, items: [{ ticketTypeId, quantity: capacity }] },
    holder,
  );
  return { offer, ticketTypeId, holder, holdId: reservation!.id };
}

const offeredEvents = (entryId: string) =>
  subgraph.sql<Array<{ payload: Record<string, unknown> }>>`
    select payload from orders.outbox where type = 'bilten.orders.waiting_list.offered' and aggregate_id = ${entryId}`;

describe('joinWaitingList', () => {
  it('is refused while tickets are on sale, and answers the same place when joining again', async () => {
    const offer = await catalog.announce(offerPayload());
    const ticketTypeId = offer.ticketTypes[0]!.ticketTypeId;
    const { payload } = await join({ eventId: offer.eventId, ticketTypeId, quantity: 1 }, await user());
    expect(payload).toEqual({
      entry: null,
      errors: [
        { code: 'INVALID_INPUT', message: 'tickets are on sale: reserve them', field: ['input', 'eventId'] },
      ],
    });
    const anyType = await join({ eventId: offer.eventId, quantity: 1 }, await user());
    expect(anyType.payload!.errors[0]!.message).toBe('tickets are on sale: reserve them');

    const soldOut = await soldOutEvent(2);
    const fan = await user();
    const first = await joined(
      { eventId: soldOut.offer.eventId, ticketTypeId: soldOut.ticketTypeId, quantity: 2 },
      fan,
    );
    expect(first).toMatchObject({ status: 'WAITING', quantity: 2, ticketType: { id: soldOut.ticketTypeId } });
    const again = await joined({ eventId: soldOut.offer.eventId, quantity: 1 }, fan);
    expect(again.id).toBe(first.id);
  });

  it('refuses nasty input', async () => {
    const { offer, ticketTypeId } = await soldOutEvent(1);
    const other = await catalog.announce(offerPayload());
    const fan = await user();
    const codes = async (input: Record<string, unknown>, headers = fan) => {
      const { payload, errors } = await join({ eventId: offer.eventId, ...input }, headers);
      expect(errors).toBeUndefined();
      expect(payload!.entry).toBeNull();
      return payload!.errors.map((error) => `${error.code} ${error.field?.join('.')}`);
    };
    expect(await codes({ ticketTypeId, quantity: 0 })).toEqual(['INVALID_INPUT input.quantity']);
    expect(await codes({ ticketTypeId, quantity: -1 })).toEqual(['INVALID_INPUT input.quantity']);
    expect(await codes({ ticketTypeId, quantity: 10_000 })).toEqual(['INVALID_INPUT input.quantity']);
    // More than the type sells in one order (maxPerOrder 10).
    expect(await codes({ ticketTypeId, quantity: 11 })).toEqual(['INVALID_INPUT input.quantity']);
    expect(await codes({ ticketTypeId: other.ticketTypes[0]!.ticketTypeId, quantity: 1 })).toEqual([
      'INVALID_INPUT input.ticketTypeId',
    ]);
    expect(await codes({ ticketTypeId: 'not-an-id', quantity: 1 })).toEqual([
      'INVALID_INPUT input.ticketTypeId',
    ]);
    expect(await codes({ ticketTypeId, quantity: 1, email: 'nope' })).toEqual(['INVALID_INPUT input.email']);
    expect(await codes({ eventId: uuidv7(), quantity: 1 })).toEqual(['NOT_FOUND input.eventId']);
    // A verified address is needed: the offer is mailed.
    const unverified = await subgraph.bearer({ sub: uuidv7(), email_verified: false });
    const { errors } = await join({ eventId: offer.eventId, quantity: 1 }, unverified);
    expect(errors?.[0]?.extensions?.code).toBe('EMAIL_NOT_VERIFIED');
  });
});

describe('offers', () => {
  it('offers released stock in order of joining, to the first whose quantity fits, as a hold of their own', async () => {
    const { offer, ticketTypeId, holder, holdId } = await soldOutEvent(3);
    const [ana, boris, cana, dino] = await Promise.all([user(), user(), user(), user()]);
    const a = await joined({ eventId: offer.eventId, ticketTypeId, quantity: 2 }, ana);
    const b = await joined({ eventId: offer.eventId, ticketTypeId, quantity: 3 }, boris);
    const c = await joined({ eventId: offer.eventId, ticketTypeId, quantity: 1 }, cana);
    const d = await joined({ eventId: offer.eventId, quantity: 1 }, dino);

    // Nothing free: nothing offered.
    expect(await sweep()).toBe(0);
    await release(subgraph, holdId, holder);
    // 3 free: Ana (2) first, Boris (3) does not fit what is left, Cana (1) does; Dino waits.
    expect(await sweep()).toBe(2);
    const offeredToAna = (await entry(a.id, ana))!;
    expect(offeredToAna).toMatchObject({
      status: 'OFFERED',
      reservation: { status: 'HELD', items: [{ quantity: 2 }] },
    });
    expect(await entry(b.id, boris)).toMatchObject({ status: 'WAITING', reservation: null });
    expect(await entry(c.id, cana)).toMatchObject({ status: 'OFFERED' });
    expect(await entry(d.id, dino)).toMatchObject({ status: 'WAITING' });
    // The offer holds stock like any reservation: someone else finds it sold out.
    const { reservation, errors } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId, quantity: 1 }] },
      await user(),
    );
    expect(reservation).toBeNull();
    expect(errors[0]!.code).toBe('SOLD_OUT');
    const [event] = await offeredEvents(a.id);
    expect(event!.payload).toEqual({
      entryId: a.id,
      eventId: offer.eventId,
      userId: expect.any(String),
      email: 'fan@example.org',
      reservationId: offeredToAna.reservation!.id,
      quantity: 2,
      eventTitle: offer.title,
      expiresAt: new Date(offeredToAna.reservation!.expiresAt).toISOString(),
    });
    // Another sweep changes nothing: offers are made once.
    expect(await sweep()).toBe(0);
    expect(await offeredEvents(a.id)).toHaveLength(1);

    // Ana lets hers lapse: the next in line who fits (Dino, any type, 1) gets it; Boris still does not fit.
    await subgraph.sql`
      update orders.reservations set expires_at = now() - interval '1 second' where id = ${offeredToAna.reservation!.id}`;
    expect(await sweep()).toBe(1);
    expect(await entry(a.id, ana)).toMatchObject({ status: 'LAPSED' });
    expect(await entry(d.id, dino)).toMatchObject({
      status: 'OFFERED',
      reservation: { items: [{ quantity: 1 }] },
    });
    expect(await entry(b.id, boris)).toMatchObject({ status: 'WAITING' });

    // Cana checks hers out with the ordinary checkout: CLAIMED.
    const cOffer = (await entry(c.id, cana))!.reservation!;
    const { data } = await subgraph.gql<{ checkout: { order: { id: string } | null; errors: UserError[] } }>(
      `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } errors { code message } } }`,
      { input: { reservationId: cOffer.id, buyer: { name: 'Cana', email: 'cana@example.org' } } },
      cana,
    );
    expect(data!.checkout.errors).toEqual([]);
    await sweep();
    expect(await entry(c.id, cana)).toMatchObject({ status: 'CLAIMED' });

    // Dino leaves while offered: his hold goes back, and with Ana's 1 left, still not 3 for Boris.
    const left = await leave(d.id, dino);
    expect(left.entry).toMatchObject({ status: 'LEFT', reservation: { status: 'RELEASED' } });
    expect(await sweep()).toBe(0);
    expect(await entry(b.id, boris)).toMatchObject({ status: 'WAITING' });
  });

  it('offers the seats a capacity raise adds', async () => {
    const { offer, ticketTypeId } = await soldOutEvent(1);
    const fan = await user();
    const waiting = await joined({ eventId: offer.eventId, quantity: 1 }, fan);
    expect(await sweep()).toBe(0);
    await catalog.announce({
      ...offer,
      ticketTypes: [{ ...offer.ticketTypes[0]!, capacity: 2 }],
    });
    expect(await sweep()).toBe(1);
    expect(await entry(waiting.id, fan)).toMatchObject({
      status: 'OFFERED',
      ticketType: null,
      reservation: { status: 'HELD', items: [{ quantity: 1 }] },
    });
    const [hold] = await subgraph.sql<Array<{ ticket_type_id: string }>>`
      select i.ticket_type_id from orders.reservation_items i
        join orders.reservations r on r.id = i.reservation_id
      where r.waiting_list_entry_id = ${waiting.id}`;
    expect(hold!.ticket_type_id).toBe(ticketTypeId);
  });

  it('keeps entries to their owners, and lapses the line of a cancelled event', async () => {
    const { offer, ticketTypeId } = await soldOutEvent(1);
    const [owner, stranger] = await Promise.all([user(), user()]);
    const mine = await joined({ eventId: offer.eventId, ticketTypeId, quantity: 1 }, owner);
    expect(await entry(mine.id, stranger)).toBeNull();
    expect(await entry('not-an-id', owner)).toBeNull();
    expect((await leave(mine.id, stranger)).errors).toEqual([
      { code: 'NOT_FOUND', message: 'no such waiting-list entry' },
    ]);
    expect(await entry(mine.id, owner)).toMatchObject({ status: 'WAITING' });

    await catalog.announce({ ...offer, status: 'CANCELLED' });
    await sweep();
    expect(await entry(mine.id, owner)).toMatchObject({ status: 'LAPSED' });
    // Leaving after the end changes nothing.
    expect((await leave(mine.id, owner)).entry).toMatchObject({ status: 'LAPSED' });
  });
});

describe('the sweep', () => {
  it('runs by itself every WAITING_LIST_SWEEP_MS', async () => {
    const quick = await startTestSubgraph(ordersSubgraph, 'jetstream', {
      env: { WAITING_LIST_SWEEP_MS: '50' },
    });
    try {
      const quickCatalog = catalogOffers(quick);
      const offer = await quickCatalog.announce(
        offerPayload({ ticketTypes: [ticketTypeOffer({ capacity: 1 })] }),
      );
      const ticketTypeId = offer.ticketTypes[0]!.ticketTypeId;
      const holder = await quick.bearer({ sub: uuidv7() });
      const { reservation } = await reserve(
        quick,
        { eventId: offer.eventId, items: [{ ticketTypeId, quantity: 1 }] },
        holder,
      );
      const fan = await quick.bearer({ sub: uuidv7() });
      const { data } = await quick.gql<{ joinWaitingList: { entry: { id: string } } }>(
        `mutation($input: JoinWaitingListInput!) { joinWaitingList(input: $input) { entry { id } } }`,
        { input: { eventId: offer.eventId, quantity: 1, email: 'fan@example.org' } },
        fan,
      );
      const entryId = data!.joinWaitingList.entry.id;
      await release(quick, reservation!.id, holder);
      await waitFor(async () => {
        const [row] = await quick.sql<Array<{ status: string }>>`
          select status from orders.waiting_list_entries where id = ${entryId}`;
        return row?.status === 'OFFERED';
      });
    } finally {
      await quick.dispose();
    }
  });
});
