import { paymentSucceeded } from '@bilten/contracts/billing';
import { newEvent } from '@bilten/platform';
import {
  type CallerHeaders,
  startTestSubgraph,
  type TestSubgraph,
  testLinkTokens,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketLinks } from '../src/adapters/ticket-links.ts';
import { openTicket } from '../src/db/person-data.ts';
import type { TicketRow } from '../src/db/schema.ts';
import { ordersSubgraph } from '../src/server.ts';
import {
  catalogOffers,
  type Money,
  offerPayload,
  peopleOf,
  reserve,
  ticketTypeOffer,
  type UserError,
} from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
const BUYER = uuidv7();
let buyer: CallerHeaders;
let keys: ReturnType<typeof peopleOf>;
type SealedTicket = Pick<TicketRow, 'personId' | 'attendeeNameSealed' | 'holderEmailSealed'>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  keys = peopleOf(subgraph);
  catalog = catalogOffers(subgraph);
  buyer = await subgraph.bearer({ sub: BUYER });
});

afterAll(async () => {
  await keys?.close();
  await subgraph?.dispose();
});

interface Ticket {
  id: string;
  attendeeName: string;
  status: string;
  signedPayload: string;
}
const TICKET_FIELDS = 'id attendeeName status signedPayload';

/** A paid order of `quantity` tickets of one type (transferable unless told), as billing's event makes it. */
async function paidTickets({ quantity = 2, transferable = true } = {}) {
  const offer = await catalog.announce(offerPayload({ ticketTypes: [ticketTypeOffer({ transferable })] }));
  const { reservation } = await reserve(
    subgraph,
    { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity }] },
    buyer,
  );
  const { data } = await subgraph.gql<{ checkout: { order: { id: string; total: Money } } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id total { amount currency } } } }`,
    { input: { reservationId: reservation!.id, buyer: { name: 'Ana Kovač', email: 'Ana@Example.com' } } },
    buyer,
  );
  const order = data!.checkout.order;
  await subgraph.testBus.bus.publish(
    newEvent(paymentSucceeded, uuidv7(), 1, { paymentId: uuidv7(), orderId: order.id, amount: order.total }),
  );
  const tickets = await waitFor(async () => {
    const { data: seen } = await subgraph.gql<{ order: { status: string; tickets: Ticket[] } }>(
      `query($id: ID!) { order(id: $id) { status tickets { ${TICKET_FIELDS} } } }`,
      { id: order.id },
      buyer,
    );
    return seen?.order.status === 'PAID' ? seen.order.tickets : undefined;
  });
  return { offer, order, tickets };
}

async function transfer(input: Record<string, unknown>, headers: CallerHeaders = buyer) {
  const { data, errors } = await subgraph.gql<{
    transferTicket: { ticket: Ticket | null; errors: UserError[] };
  }>(
    `mutation($input: TransferTicketInput!) {
      transferTicket(input: $input) { ticket { ${TICKET_FIELDS} } errors { code message field } }
    }`,
    { input },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.transferTicket;
}

async function checkIn(code: string, organizationId: string) {
  const staff = await subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: 'STAFF' } });
  const { data } = await subgraph.gql<{
    checkInTicket: { ticket: { id: string } | null; errors: UserError[] };
  }>(
    `mutation($input: CheckInTicketInput!) { checkInTicket(input: $input) { ticket { id } errors { code message } } }`,
    { input: { code } },
    staff,
  );
  return data!.checkInTicket;
}

/** The ticket a transfer of `oldId` issued, as its recipient gets it (by mail, not through the API). */
const newTicketOf = async (oldId: string): Promise<Ticket> => {
  const [row] = await subgraph.sql<Array<Omit<Ticket, 'attendeeName'> & SealedTicket>>`
    select id, person_id as "personId", attendee_name_sealed as "attendeeNameSealed",
      holder_email_sealed as "holderEmailSealed", status, signed_payload as "signedPayload"
    from orders.tickets where transferred_from_id = ${oldId}`;
  const { attendeeName } = await openTicket(keys.db, keys.people, row!);
  return { id: row!.id, status: row!.status, signedPayload: row!.signedPayload, attendeeName };
};

/** The ids of the order's tickets the buyer sees. */
async function ticketsBuyerSees(orderId: string): Promise<string[]> {
  const { data } = await subgraph.gql<{ order: { tickets: Array<{ id: string }> } }>(
    `query($id: ID!) { order(id: $id) { tickets { id } } }`,
    { id: orderId },
    buyer,
  );
  return data!.order.tickets.map((ticket) => ticket.id);
}

const ticketRow = async (id: string) =>
  (
    await subgraph.sql<
      Array<{ status: string; holder_email_index: string | null; transferred_from_id: string | null }>
    >`
      select status, holder_email_index, transferred_from_id from orders.tickets where id = ${id}`
  )[0]!;

describe('transferTicket', () => {
  it('voids the old code, issues a new signed ticket to the recipient and publishes its sealed link', async () => {
    const { offer, order, tickets } = await paidTickets();
    const old = tickets[0]!;
    const given = await transfer({ ticketId: old.id, toEmail: ' Mirza@Example.org ' });
    expect(given.errors).toEqual([]);
    // The giver gets the old ticket back, TRANSFERRED, and never sees the new code.
    expect(given.ticket).toMatchObject({ id: old.id, status: 'TRANSFERRED' });
    const ticket = await newTicketOf(old.id);
    expect(ticket).toMatchObject({ status: 'VALID', attendeeName: 'mirza' });
    expect(ticket!.signedPayload).not.toBe(old.signedPayload);
    expect(await ticketsBuyerSees(order.id)).toEqual([old.id, tickets[1]!.id]);
    expect(await ticketRow(ticket!.id)).toEqual({
      status: 'VALID',
      holder_email_index: keys.people.keys.index('mirza@example.org', 'email'),
      transferred_from_id: old.id,
    });

    // The old code no longer gets in; the new one does.
    const refused = await checkIn(old.signedPayload, offer.organizationId);
    expect(refused.ticket).toBeNull();
    expect(refused.errors[0]).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/transferred/),
    });
    expect((await checkIn(ticket!.signedPayload, offer.organizationId)).ticket).toEqual({ id: ticket!.id });

    const [event] = await subgraph.sql<Array<{ payload: Record<string, string> }>>`
      select payload from orders.outbox where type = 'bilten.orders.ticket.transferred' and aggregate_id = ${ticket!.id}`;
    expect(event!.payload).toMatchObject({
      fromTicketId: old.id,
      toTicketId: ticket!.id,
      eventId: offer.eventId,
      fromEmail: 'ana@example.com',
      toEmail: 'mirza@example.org',
      toName: null,
      eventTitle: offer.title,
    });
    // Sealed for the new ticket alone, it opens to the token of the new ticket's link.
    const token = testLinkTokens.open(event!.payload.sealedToken!, ticket!.id);
    expect(createTicketLinks({ NODE_ENV: 'test' }).opens(ticket!.id, token)).toBe(true);
    expect(() => testLinkTokens.open(event!.payload.sealedToken!, old.id)).toThrow();
  });

  it('names the attendee when asked, and refuses what cannot be transferred', async () => {
    const { offer, tickets } = await paidTickets({ quantity: 3 });
    const [first, second, third] = tickets as [Ticket, Ticket, Ticket];
    await transfer({ ticketId: first.id, toEmail: 'lejla@example.org', toName: 'Lejla Begić' });
    const given = { ticket: await newTicketOf(first.id) };
    expect(given.ticket).toMatchObject({ attendeeName: 'Lejla Begić' });

    const codeOf = async (promise: ReturnType<typeof transfer>) => {
      const { ticket, errors } = await promise;
      expect(ticket).toBeNull();
      return errors.map((error) => error.code);
    };
    // Again: the old one is TRANSFERRED; the new one is its recipient's, not the buyer's.
    expect(await codeOf(transfer({ ticketId: first.id, toEmail: 'x@example.org' }))).toEqual([
      'INVALID_INPUT',
    ]);
    expect(await codeOf(transfer({ ticketId: given.ticket!.id, toEmail: 'x@example.org' }))).toEqual([
      'NOT_FOUND',
    ]);
    // The buyer's own address.
    expect(await codeOf(transfer({ ticketId: second.id, toEmail: 'ANA@example.com' }))).toEqual([
      'INVALID_INPUT',
    ]);
    // Someone else's ticket, an unknown one, a malformed id or address.
    const stranger = await subgraph.bearer({ sub: uuidv7() });
    expect(await codeOf(transfer({ ticketId: second.id, toEmail: 'x@example.org' }, stranger))).toEqual([
      'NOT_FOUND',
    ]);
    expect(await codeOf(transfer({ ticketId: uuidv7(), toEmail: 'x@example.org' }))).toEqual(['NOT_FOUND']);
    expect(await codeOf(transfer({ ticketId: 'nope', toEmail: 'x@example.org' }))).toEqual(['INVALID_INPUT']);
    expect(await codeOf(transfer({ ticketId: second.id, toEmail: 'not an address' }))).toEqual([
      'INVALID_INPUT',
    ]);
    // Checked in.
    await checkIn(third.signedPayload, offer.organizationId);
    expect(await codeOf(transfer({ ticketId: third.id, toEmail: 'x@example.org' }))).toEqual([
      'ALREADY_CHECKED_IN',
    ]);
    // Anonymous callers are turned away before anything.
    const { errors } = await subgraph.gql(
      `mutation { transferTicket(input: { ticketId: "${second.id}", toEmail: "x@example.org" }) { errors { code } } }`,
    );
    expect(errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a ticket type that forbids it, and an event that started', async () => {
    const locked = await paidTickets({ quantity: 1, transferable: false });
    const refused = await transfer({ ticketId: locked.tickets[0]!.id, toEmail: 'x@example.org' });
    expect(refused.errors).toMatchObject([
      { code: 'INVALID_INPUT', message: expect.stringMatching(/cannot be transferred/) },
    ]);

    const started = await paidTickets({ quantity: 1 });
    await subgraph.sql`update orders.offers set starts_at = now() - interval '1 minute' where event_id = ${started.offer.eventId}`;
    const late = await transfer({ ticketId: started.tickets[0]!.id, toEmail: 'x@example.org' });
    expect(late.errors).toMatchObject([{ code: 'INVALID_INPUT', message: 'the event has started' }]);
    expect(await ticketRow(started.tickets[0]!.id)).toMatchObject({ status: 'VALID' });
  });

  it('lets only one of two transfers at once win', async () => {
    const { tickets } = await paidTickets({ quantity: 1 });
    const results = await Promise.all(
      ['one@example.org', 'two@example.org', 'three@example.org'].map((toEmail) =>
        transfer({ ticketId: tickets[0]!.id, toEmail }),
      ),
    );
    expect(results.filter((result) => result.ticket)).toHaveLength(1);
    const [{ count }] = (await subgraph.sql`
      select count(*)::int as count from orders.tickets where transferred_from_id = ${tickets[0]!.id}`) as [
      { count: number },
    ];
    expect(count).toBe(1);
  });
});
