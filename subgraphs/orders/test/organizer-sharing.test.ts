/** Buyers' emails reach the organizer only with their ORGANIZER_SHARING consent (issue 18). */
import { consentChanged } from '@bilten/contracts/identity';
import { personalDataAccessed } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import {
  type CallerHeaders,
  recordEvents,
  startTestSubgraph,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';
import { catalogOffers, type OfferPayload, offerPayload, reserve, ticketTypeOffer } from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let reports: Awaited<ReturnType<typeof recordEvents<typeof personalDataAccessed.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  reports = await recordEvents(subgraph.testBus.bus, personalDataAccessed);
});

afterAll(async () => {
  await subgraph?.dispose();
});

const sequences = new Map<string, number>();

/** Identity's answer for `organizationId`, published; resolves once orders applied it. */
async function sharing(userId: string, organizationId: string, granted: boolean, changedAt: string) {
  const sequence = (sequences.get(userId) ?? 0) + 1;
  sequences.set(userId, sequence);
  const event = newEvent(consentChanged, userId, sequence, {
    userId,
    purpose: 'ORGANIZER_SHARING',
    organizationId,
    granted,
    textVersion: 'organizer-sharing/2026-11',
    changedAt,
  });
  await subgraph.testBus.bus.publish(event);
  await waitFor(async () => {
    const rows = await subgraph.sql`
      select 1 from orders.inbox where consumer = 'orders-organizer-sharing-consents' and event_id = ${event.id}`;
    return rows.length > 0;
  });
}

async function checkedOut(offer: OfferPayload, headers: CallerHeaders, email: string) {
  const { reservation } = await reserve(
    subgraph,
    { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
    headers,
  );
  const { data, errors } = await subgraph.gql<{ checkout: { order: { id: string } } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }`,
    { input: { reservationId: reservation!.id, buyer: { name: 'Ana Kovač', email } } },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.checkout.order.id;
}

type Buyer = { name: string; email: string; contactEmail: string | null };
const ORDER = `query($id: ID!) { order(id: $id) { id buyer { name email contactEmail } } }`;
const EVENT_ORDERS = `query($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Event { orders { edges { node { id buyer { name email contactEmail } } } } } }
}`;

const buyerSeenBy = async (orderId: string, headers: CallerHeaders) => {
  const { data, errors } = await subgraph.gql<{ order: { buyer: Buyer } | null }>(
    ORDER,
    { id: orderId },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.order!.buyer;
};
const listedBuyer = async (eventId: string, headers: CallerHeaders) => {
  const { data, errors } = await subgraph.gql<{
    _entities: Array<{ orders: { edges: Array<{ node: { buyer: Buyer } }> } }>;
  }>(EVENT_ORDERS, { representations: [{ __typename: 'Event', id: eventId }] }, headers);
  expect(errors).toBeUndefined();
  return data!._entities[0]!.orders.edges[0]!.node.buyer;
};
const reportedFields = async (orderId: string, actorId: string, count: number) => {
  const of = () =>
    reports
      .flatMap((event) => event.payload.accesses)
      .filter((access) => access.resource === `order:${orderId}` && access.actorId === actorId);
  await waitFor(async () => of().length >= count);
  return of().map((access) => access.fields);
};

describe('organizer sharing', () => {
  it('shows the buyer’s email to the organizer only while the buyer shares it with that organization', async () => {
    const offer = await catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer()] }));
    const other = await catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer()] }));
    const buyerId = uuidv7();
    const buyer = await subgraph.bearer({ sub: buyerId });
    const orderId = await checkedOut(offer, buyer, 'ana@example.com');
    const staffId = uuidv7();
    const staff = await subgraph.bearer({ sub: staffId, orgs: { [offer.organizationId]: 'STAFF' } });
    const withheld = { name: 'Ana Kovač', email: '', contactEmail: null };
    const shown = { name: 'Ana Kovač', email: 'ana@example.com', contactEmail: 'ana@example.com' };

    // The buyer and platform admins always see it; the organizer not without consent.
    expect(await buyerSeenBy(orderId, buyer)).toEqual(shown);
    expect(await buyerSeenBy(orderId, await subgraph.bearer({ sub: uuidv7(), roles: ['ADMIN'] }))).toEqual(
      shown,
    );
    expect(await buyerSeenBy(orderId, staff)).toEqual(withheld);
    expect(await listedBuyer(offer.eventId, staff)).toEqual(withheld);
    // The access log names only what was shown.
    expect(await reportedFields(orderId, staffId, 2)).toEqual([
      ['buyer.name', 'attendees'],
      ['buyer.name', 'attendees'],
    ]);

    // Consent for another organization shares nothing with this one.
    await sharing(buyerId, other.organizationId, true, '2026-12-01T10:00:00Z');
    expect(await buyerSeenBy(orderId, staff)).toEqual(withheld);

    await sharing(buyerId, offer.organizationId, true, '2026-12-01T10:01:00Z');
    expect(await buyerSeenBy(orderId, staff)).toEqual(shown);
    expect(await listedBuyer(offer.eventId, staff)).toEqual(shown);
    const apiKey = await subgraph.bearer({
      sub: uuidv7(),
      kind: 'api_key',
      org: offer.organizationId,
      scopes: ['orders:read'],
      mode: 'LIVE',
    });
    expect(await buyerSeenBy(orderId, apiKey)).toEqual(shown);
    expect((await reportedFields(orderId, staffId, 5)).slice(3)).toEqual([
      ['buyer.name', 'buyer.email', 'attendees'],
      ['buyer.name', 'buyer.email', 'attendees'],
    ]);

    await sharing(buyerId, offer.organizationId, false, '2026-12-02T10:00:00Z');
    expect(await buyerSeenBy(orderId, staff)).toEqual(withheld);
    // A late, older grant never undoes the withdrawal.
    await sharing(buyerId, offer.organizationId, true, '2026-12-01T12:00:00Z');
    expect(await buyerSeenBy(orderId, staff)).toEqual(withheld);
  });

  it('never shows a guest buyer’s email to the organizer (no account to consent with)', async () => {
    const offer = await catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer()] }));
    const { reservation, guestToken } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 1 }] },
      {},
    );
    const { data } = await subgraph.gql<{ checkout: { order: { id: string } } }>(
      `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }`,
      {
        input: {
          reservationId: reservation!.id,
          guestToken: guestToken,
          buyer: { name: 'Guest', email: 'guest@example.com' },
        },
      },
    );
    const orderId = data!.checkout.order.id;
    const owner = await subgraph.bearer({ sub: uuidv7(), orgs: { [offer.organizationId]: 'OWNER' } });
    expect(await buyerSeenBy(orderId, owner)).toEqual({ name: 'Guest', email: '', contactEmail: null });
    const guest = await subgraph.gql<{ order: { buyer: Buyer } }>(
      `query($id: ID!, $guestToken: String) { order(id: $id, guestToken: $guestToken) { buyer { name email contactEmail } } }`,
      { id: orderId, guestToken: guestToken },
    );
    expect(guest.data!.order.buyer.contactEmail).toBe('guest@example.com');
  });
});
