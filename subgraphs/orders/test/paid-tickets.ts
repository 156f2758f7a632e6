/** Paid orders with tickets, for the check-in and ticket-file tests: billing's payment simulated. */
import { paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import { newEvent } from '@bilten/platform';
import { type CallerHeaders, type TestSubgraph, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { expect } from 'vitest';
import { type Money, type OfferPayload, reserve } from './support.ts';

export interface PaidTicket {
  id: string;
  ticketType: { id: string };
  signedPayload: string;
}

/** A paid order of `quantity` tickets of the offer's first ticket type, bought by `buyer`. */
export async function paidTickets(
  subgraph: TestSubgraph,
  offer: OfferPayload,
  quantity: number,
  buyer: CallerHeaders,
  attendees: Array<{ name: string }> = [],
) {
  const { reservation } = await reserve(
    subgraph,
    { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity }] },
    buyer,
  );
  const { data, errors } = await subgraph.gql<{
    checkout: { order: { id: string; total: Money } | null };
  }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id total { amount currency } } } }`,
    {
      input: {
        reservationId: reservation!.id,
        buyer: { name: 'Ana Kovač', email: 'ana@example.com' },
        attendees,
      },
    },
    buyer,
  );
  expect(errors).toBeUndefined();
  const order = data!.checkout.order!;
  await subgraph.testBus.bus.publish(
    newEvent(paymentSucceeded, uuidv7(), 1, { paymentId: uuidv7(), orderId: order.id, amount: order.total }),
  );
  const tickets = await waitFor(async () => {
    const seen = await subgraph.gql<{ order: { status: string; tickets: PaidTicket[] } }>(
      `query($id: ID!) { order(id: $id) { status tickets { id ticketType { id } signedPayload } } }`,
      { id: order.id },
      buyer,
    );
    return seen.data?.order.status === 'PAID' ? seen.data.order.tickets : undefined;
  });
  return { order, tickets };
}

/** Billing's full refund, simulated; resolves once the order's tickets are VOID. */
export async function refundInFull(
  subgraph: TestSubgraph,
  paid: Awaited<ReturnType<typeof paidTickets>>,
): Promise<void> {
  const { order, tickets } = paid;
  await subgraph.testBus.bus.publish(
    newEvent(refundSucceeded, uuidv7(), 1, { refundId: uuidv7(), orderId: order.id, amount: order.total }),
  );
  await waitFor(async () => {
    const [row] = await subgraph.sql<[{ status: string }]>`
      select status from orders.tickets where id = ${tickets[0]!.id}`;
    return row?.status === 'VOID';
  });
}
