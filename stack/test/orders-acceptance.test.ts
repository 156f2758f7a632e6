/**
 * Issue 13's acceptance, through the gateway only (billing's events simulated until billing lands):
 * an organizer publishes an event; a buyer reserves, checks out and, once paid, gets tickets with
 * QR codes; staff check one in twice; the organizer reads the sales summary; cancelling the event
 * runs orders' cancellation saga to the end.
 */
import { randomUUID } from 'node:crypto';
import { paymentSucceeded } from '@bilten/contracts/billing';
import { newEvent } from '@bilten/platform';
import { graphql, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelEventDocument } from './generated/operations.ts';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('jetstream');
});
afterAll(async () => {
  await stack?.dispose();
});

type Headers = Record<string, string>;
interface UserError {
  code: string;
  message: string;
}
interface Money {
  amount: number;
  currency: string;
}

const call = <T>(query: string, variables: Record<string, unknown>, headers: Headers) =>
  gatewayCall<T>(stack, query, variables, headers);

const RESERVE = `mutation($input: ReserveTicketsInput!) {
  reserveTickets(input: $input) { reservation { id total { amount currency } } errors { code message } }
}`;
const CHECKOUT = `mutation($input: CheckoutInput!) {
  checkout(input: $input) { order { id status total { amount currency } } errors { code message } }
}`;
const ORDER = `query($id: ID!) {
  order(id: $id) {
    status
    event { id title }
    tickets { id status attendeeName signedPayload qrCode ticketType { name } }
  }
}`;
const CHECK_IN = `mutation($input: CheckInTicketInput!) {
  checkInTicket(input: $input) { ticket { id status checkedInGate } errors { code message } }
}`;
const SALES = `query($id: ID!) {
  event(id: $id) {
    salesSummary {
      sold held remaining gross { amount currency }
      ticketTypes { ticketType { name } sold held remaining }
    }
    checkInStats { checkedIn valid }
  }
}`;
const CANCELLATION = `query($id: ID!) {
  event(id: $id) { cancellation { status ordersCancelled refundsRequested ticketsVoided } }
}`;

describe('issue 13 acceptance through the gateway', () => {
  it('publish, reserve, check out, pay, get QR tickets, check in twice, read sales, cancel', async () => {
    const { owner, eventId, ticketTypeId } = await publishedEvent(stack, 'acceptance', {
      title: 'Acceptance Night',
      ticketType: { price: { amount: 2000, currency: 'EUR' }, capacity: 50 },
    });
    const organizer = owner.headers;

    // The buyer reserves as soon as orders has the published offer, then checks out.
    const buyer = await stack.signUp({ displayName: 'Amra Buyer' });
    const reserved = await waitFor(async () => {
      const { reserveTickets } = await call<{
        reserveTickets: { reservation: { id: string; total: Money } | null; errors: UserError[] };
      }>(RESERVE, { input: { eventId, items: [{ ticketTypeId, quantity: 2 }] } }, buyer.headers);
      return reserveTickets.reservation;
    });
    expect(reserved.total).toEqual({ amount: 4000, currency: 'EUR' });
    const { checkout } = await call<{
      checkout: { order: { id: string; status: string; total: Money } | null; errors: UserError[] };
    }>(
      CHECKOUT,
      {
        input: {
          reservationId: reserved.id,
          buyer: { name: 'Amra Buyer', email: buyer.email },
          attendees: [{ name: 'Amra Buyer' }, { name: 'Dino Guest' }],
        },
      },
      buyer.headers,
    );
    expect(checkout.errors).toEqual([]);
    const order = checkout.order!;
    expect(order).toMatchObject({ status: 'PENDING_PAYMENT', total: { amount: 4000, currency: 'EUR' } });

    // Billing's success, as its outbox will publish it: the order is paid and ticketed.
    const paymentId = randomUUID();
    await stack.bus.publish(
      newEvent(paymentSucceeded, paymentId, 1, { paymentId, orderId: order.id, amount: order.total }),
    );
    type OrderView = {
      status: string;
      event: { id: string; title: string };
      tickets: Array<{
        id: string;
        status: string;
        attendeeName: string;
        signedPayload: string;
        qrCode: string;
        ticketType: { name: string };
      }>;
    };
    const paid = await waitFor(async () => {
      const { order: seen } = await call<{ order: OrderView | null }>(ORDER, { id: order.id }, buyer.headers);
      return seen?.status === 'PAID' && seen;
    });
    expect(paid.event).toEqual({ id: eventId, title: 'Acceptance Night' });
    expect(
      paid.tickets.map((ticket) => [ticket.attendeeName, ticket.status, ticket.ticketType.name]),
    ).toEqual([
      ['Amra Buyer', 'VALID', 'Regular'],
      ['Dino Guest', 'VALID', 'Regular'],
    ]);
    for (const ticket of paid.tickets) expect(ticket.qrCode).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

    // Staff (the owner is) scan the first ticket twice: the second scan names the first.
    type CheckIn = { checkInTicket: { ticket: { status: string } | null; errors: UserError[] } };
    const scan = { code: paid.tickets[0]!.signedPayload, gate: 'North entrance' };
    const first = await call<CheckIn>(CHECK_IN, { input: scan }, organizer);
    expect(first.checkInTicket).toEqual({
      ticket: { id: paid.tickets[0]!.id, status: 'CHECKED_IN', checkedInGate: 'North entrance' },
      errors: [],
    });
    const second = await call<CheckIn>(CHECK_IN, { input: { ...scan, gate: 'South' } }, organizer);
    expect(second.checkInTicket.ticket).toBeNull();
    expect(second.checkInTicket.errors[0]).toMatchObject({ code: 'ALREADY_CHECKED_IN' });
    expect(second.checkInTicket.errors[0]!.message).toContain('North entrance');
    // The buyer is not staff: their scan is refused.
    const { body: byBuyer } = await graphql<CheckIn, unknown>(
      stack.url,
      CHECK_IN,
      { input: { code: paid.tickets[1]!.signedPayload } },
      buyer.headers,
    );
    expect(byBuyer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // The organizer's figures, from orders' own tables; the buyer sees none of them.
    type Sales = {
      event: {
        salesSummary: {
          sold: number;
          held: number;
          remaining: number;
          gross: Money;
          ticketTypes: Array<{ ticketType: { name: string }; sold: number; held: number; remaining: number }>;
        } | null;
        checkInStats: { checkedIn: number; valid: number } | null;
      };
    };
    const sales = await call<Sales>(SALES, { id: eventId }, organizer);
    expect(sales.event).toEqual({
      salesSummary: {
        sold: 2,
        held: 0,
        remaining: 48,
        gross: { amount: 4000, currency: 'EUR' },
        ticketTypes: [{ ticketType: { name: 'Regular' }, sold: 2, held: 0, remaining: 48 }],
      },
      checkInStats: { checkedIn: 1, valid: 1 },
    });
    expect((await call<Sales>(SALES, { id: eventId }, buyer.headers)).event).toEqual({
      salesSummary: null,
      checkInStats: null,
    });

    // Cancelling the event runs the saga: the paid order is refunded in full, its tickets voided.
    await graphql(stack.url, CancelEventDocument, { input: { id: eventId } }, organizer);
    type Cancellation = {
      event: {
        cancellation: {
          status: string;
          ordersCancelled: number;
          refundsRequested: number;
          ticketsVoided: number;
        } | null;
      };
    };
    const done = await waitFor(async () => {
      const { event } = await call<Cancellation>(CANCELLATION, { id: eventId }, organizer);
      return event.cancellation?.status === 'DONE' && event.cancellation;
    });
    // The checked-in ticket was used; only the other one is voided.
    expect(done).toEqual({ status: 'DONE', ordersCancelled: 0, refundsRequested: 1, ticketsVoided: 1 });
    const after = await call<{ order: OrderView }>(ORDER, { id: order.id }, buyer.headers);
    expect(after.order.tickets.map((ticket) => ticket.status)).toEqual(['CHECKED_IN', 'VOID']);
  });
});
