import { randomUUID } from 'node:crypto';
import { consentChanged, dataExportRequested } from '@bilten/contracts/identity';
import { personalDataErased, personalDataExported } from '@bilten/contracts/orders';
import { createExportKeyPair, ERASED_NAME, newEvent, openExportPart } from '@bilten/platform';
import {
  type CallerHeaders,
  privacyRequests,
  startTestSubgraph,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrder } from '../src/db/person-data.ts';
import type { OrderRow } from '../src/db/schema.ts';
import { sealPlaintextData } from '../src/db/seal-plaintext.ts';
import { ordersSubgraph } from '../src/server.ts';
import {
  catalogOffers,
  type OfferPayload,
  offerPayload,
  peopleOf,
  reserve,
  ticketTypeOffer,
} from './support.ts';

// Issue 18, "Encryption at rest, per person": orders' personal data sealed under each person's key.

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let privacy: Awaited<ReturnType<typeof privacyRequests>>;
let keys: ReturnType<typeof peopleOf>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  privacy = await privacyRequests(subgraph.testBus.bus, {
    exported: personalDataExported,
    erased: personalDataErased,
  });
  keys = peopleOf(subgraph);
});

afterAll(async () => {
  await keys?.close();
  await subgraph?.dispose();
});

const freeEvent = (maxPerBuyer: number | null = null) =>
  catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer({ priceAmount: 0, maxPerBuyer })] }));

/** A free checkout (paid at once, tickets issued); a guest's without headers. */
async function buy(
  offer: OfferPayload,
  buyer: { name: string; email: string },
  headers: CallerHeaders | null,
  attendees: Array<{ name: string }> = [],
) {
  const held = await reserve(
    subgraph,
    { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
    headers ?? { 'x-forwarded-for': `198.51.100.${Math.floor(Math.random() * 250)}` },
  );
  const { data, errors } = await subgraph.gql<{
    checkout: { order: { id: string } | null; errors: Array<{ message: string }> };
  }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } errors { message } } }`,
    { input: { reservationId: held.reservation!.id, guestToken: held.guestToken ?? null, buyer, attendees } },
    headers ?? {},
  );
  expect(errors).toBeUndefined();
  return { order: data!.checkout.order, errors: data!.checkout.errors, guestToken: held.guestToken ?? null };
}

const sealedOrder = async (id: string) =>
  (
    await subgraph.sql<OrderRow[]>`
      select id, buyer_id as "buyerId", buyer_email_index as "buyerEmailIndex", buyer_name_sealed as "buyerNameSealed",
        buyer_email_sealed as "buyerEmailSealed", attendees_sealed as "attendeesSealed"
      from orders.orders where id = ${id}`
  )[0]!;

/** Rows of the table whose text holds `needle` (any column). */
const rowsHolding = (table: 'orders' | 'tickets' | 'waiting_list_entries', needle: string) =>
  subgraph.sql`select 1 from ${subgraph.sql(`orders.${table}`)} t where t::text ilike ${`%${needle}%`}`;

const keyOf = async (personId: string) =>
  (
    await subgraph.sql<Array<{ destroyed: boolean }>>`
      select destroyed_at is not null as destroyed from orders.person_keys where person_id = ${personId}`
  )[0];

async function exportWith(userId: string, verifiedEmail?: string) {
  const requestId = randomUUID();
  const { publicKey, privateKey } = createExportKeyPair();
  await subgraph.testBus.bus.publish(
    newEvent(dataExportRequested, requestId, 1, { requestId, userId, publicKey, verifiedEmail }),
  );
  const answer = await waitFor(async () =>
    privacy.exported.find((event) => event.payload.requestId === requestId),
  );
  return openExportPart(privateKey, answer.payload.sealedPart) as { guestOrders: Array<{ id: string }> };
}

describe('personal data sealed per person', () => {
  it('stores no plaintext buyer name, email or attendee name, and reads them back', async () => {
    const offer = await freeEvent();
    const user = uuidv7();
    const headers = await subgraph.bearer({ sub: user });
    const mine = await buy(offer, { name: 'Selma Sealed', email: 'selma.sealed@example.com' }, headers, [
      { name: 'Tarik Attendee' },
    ]);
    const guest = await buy(offer, { name: 'Gordana Guest', email: 'gordana.guest@example.com' }, null);
    for (const needle of ['Selma Sealed', 'selma.sealed', 'Tarik Attendee', 'Gordana Guest', 'gordana.guest'])
      for (const table of ['orders', 'tickets'] as const)
        expect(await rowsHolding(table, needle)).toEqual([]);
    expect(await keyOf(user)).toEqual({ destroyed: false });
    expect(await keyOf(keys.people.keys.index('GORDANA.guest@example.com', 'email'))).toEqual({
      destroyed: false,
    });
    const { data } = await subgraph.gql<{
      order: { buyer: { name: string; email: string }; tickets: Array<{ attendeeName: string }> };
    }>(
      `query($id: ID!) { order(id: $id) { buyer { name email } tickets { attendeeName } } }`,
      { id: mine.order!.id },
      headers,
    );
    expect(data!.order).toEqual({
      buyer: { name: 'Selma Sealed', email: 'selma.sealed@example.com' },
      tickets: [{ attendeeName: 'Tarik Attendee' }],
    });
    expect(await openOrder(keys.db, keys.people, await sealedOrder(guest.order!.id))).toEqual({
      buyerName: 'Gordana Guest',
      buyerEmail: 'gordana.guest@example.com',
      attendees: [],
    });
  });

  it("counts a guest's earlier orders against maxPerBuyer by the email index, whatever its case", async () => {
    const offer = await freeEvent(1);
    expect((await buy(offer, { name: 'Lana', email: 'lana.limit@example.com' }, null)).errors).toEqual([]);
    const again = await buy(offer, { name: 'Lana', email: ' LANA.Limit@Example.com' }, null);
    expect(again.order).toBeNull();
    expect(again.errors[0]!.message).toContain('with this email address');
  });

  it('seals a row written in plaintext before per-person keys, and it reads back', async () => {
    const offer = await freeEvent();
    const { order } = await buy(offer, { name: 'Old Row', email: 'old.row@example.com' }, null);
    await subgraph.sql`
      update orders.orders set buyer_name_sealed = 'Olga Legacy', buyer_email_sealed = 'olga.legacy@example.com',
        buyer_email_index = null, attendees_sealed = '[{"name": "Lejla Legacy"}]' where id = ${order!.id}`;
    await subgraph.sql`
      update orders.tickets set attendee_name_sealed = 'Lejla Legacy', person_id = null where order_id = ${order!.id}`;
    expect(await sealPlaintextData(keys.db, keys.people)).toBe(2);
    expect(await rowsHolding('orders', 'legacy')).toEqual([]);
    expect(await rowsHolding('tickets', 'legacy')).toEqual([]);
    const row = await sealedOrder(order!.id);
    expect(row.buyerEmailIndex).toBe(keys.people.keys.index('olga.legacy@example.com', 'email'));
    expect(await openOrder(keys.db, keys.people, row)).toEqual({
      buyerName: 'Olga Legacy',
      buyerEmail: 'olga.legacy@example.com',
      attendees: [{ name: 'Lejla Legacy' }],
    });
    expect(await sealPlaintextData(keys.db, keys.people)).toBe(0);
  });

  it('exports guest orders under the verified email only, erases by destroying both keys, and a returning guest gets a fresh key', async () => {
    const offer = await freeEvent();
    const user = uuidv7();
    const email = 'emina.erased@example.com';
    const headers = await subgraph.bearer({ sub: user });
    const own = await buy(offer, { name: 'Emina Erased', email }, headers);
    const guest = await buy(offer, { name: 'Emina Erased', email: 'Emina.Erased@example.com' }, null);

    expect((await exportWith(user)).guestOrders).toEqual([]);
    expect((await exportWith(user, email)).guestOrders.map((order) => order.id)).toEqual([guest.order!.id]);

    await privacy.erase(privacy.erasureRequest({ userId: user, email }));
    const guestId = keys.people.keys.index(email, 'email');
    expect(await keyOf(user)).toEqual({ destroyed: true });
    expect(await keyOf(guestId)).toEqual({ destroyed: true });
    const { data, errors } = await subgraph.gql<{
      order: { buyer: { name: string; email: string }; tickets: Array<{ attendeeName: string }> };
    }>(
      `query($id: ID!) { order(id: $id) { buyer { name email } tickets { attendeeName } } }`,
      { id: own.order!.id },
      headers,
    );
    expect(errors).toBeUndefined();
    expect(data!.order.buyer.name).toBe(ERASED_NAME);
    expect(data!.order.tickets).toEqual([{ attendeeName: ERASED_NAME }]);

    const back = await buy(offer, { name: 'Emina Returns', email }, null);
    expect(back.errors).toEqual([]);
    expect(await keyOf(guestId)).toEqual({ destroyed: false });
    expect(await openOrder(keys.db, keys.people, await sealedOrder(back.order!.id))).toMatchObject({
      buyerName: 'Emina Returns',
    });
  });

  it('reads a value whose key was destroyed as erased, never failing', async () => {
    const offer = await freeEvent();
    const { order } = await buy(offer, { name: 'Vanja Vanished', email: 'vanja.vanished@example.com' }, null);
    const row = await sealedOrder(order!.id);
    await keys.db.transaction((tx) => keys.people.guests.shred(tx, row.buyerEmailIndex!));
    expect(await openOrder(keys.db, keys.people, row)).toEqual({
      buyerName: ERASED_NAME,
      buyerEmail: 'erased@erased.invalid',
      attendees: [],
    });
  });

  it('ignores an ORGANIZER_SHARING answer arriving after the user was erased here', async () => {
    const user = uuidv7();
    await privacy.erase(privacy.erasureRequest({ userId: user, email: 'late.consent@example.com' }));
    const event = newEvent(consentChanged, user, 1, {
      userId: user,
      purpose: 'ORGANIZER_SHARING',
      organizationId: uuidv7(),
      granted: true,
      textVersion: 'organizer-sharing/2026-11',
      changedAt: new Date().toISOString(),
    });
    await subgraph.testBus.bus.publish(event);
    await waitFor(async () => {
      const rows = await subgraph.sql`
        select 1 from orders.inbox where consumer = 'orders-organizer-sharing-consents' and event_id = ${event.id}`;
      return rows.length > 0;
    });
    expect(
      await subgraph.sql`select 1 from orders.organizer_sharing_consents where user_id = ${user}`,
    ).toEqual([]);
  });
});
