/** Catalog's offers reach orders' copy through the bus, and a buyer reserves through the gateway. */
import { randomUUID } from 'node:crypto';
import { paymentSucceeded } from '@bilten/contracts/billing';
import { newEvent } from '@bilten/platform';
import { graphql, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddTicketTypeDocument,
  CancelEventDocument,
  CreateEventDocument,
  PublishEventDocument,
} from './generated/operations.ts';
import { eventInput, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('jetstream');
});
afterAll(async () => {
  await stack?.dispose();
});

interface Payload {
  reserveTickets: {
    reservation: {
      total: { amount: number; currency: string };
      items: Array<{ ticketType: { id: string; name: string } }>;
    } | null;
    errors: Array<{ code: string; message: string }>;
  };
}
const RESERVE = `mutation($input: ReserveTicketsInput!) {
  reserveTickets(input: $input) {
    reservation { total { amount currency } items { ticketType { id name } } }
    errors { code message }
  }
}`;
const UPDATE_TICKET_TYPE = `mutation($input: UpdateTicketTypeInput!) {
  updateTicketType(input: $input) { errors { code message } }
}`;

describe('reservations through the gateway', () => {
  it("follow catalog: publish, a price and capacity change, and a cancellation reach orders' copy", async () => {
    const { organizationId, owner } = await stack.organizationOwner('reservations');
    const organizer = owner.headers;
    const created = await graphql(
      stack.url,
      CreateEventDocument,
      { input: eventInput(organizationId, 'Reserved Night', { capacity: 10 }) },
      organizer,
    );
    const eventId = created.body.data!.createEvent.event!.id;
    const added = await graphql(
      stack.url,
      AddTicketTypeDocument,
      { input: { eventId, name: 'Regular', price: { amount: 1500, currency: 'EUR' }, capacity: 5 } },
      organizer,
    );
    const ticketTypeId = added.body.data!.addTicketType.ticketType!.id;
    const buyer = (await stack.signUp()).headers;
    const reserve = async (quantity: number) =>
      (
        await graphql<Payload, unknown>(
          stack.url,
          RESERVE,
          { input: { eventId, items: [{ ticketTypeId, quantity }] } },
          buyer,
        )
      ).body.data!.reserveTickets;

    // A draft orders never heard of is refused at once.
    expect((await reserve(1)).errors.map((error) => error.code)).toEqual(['NOT_FOUND']);
    expect(
      (await graphql(stack.url, PublishEventDocument, { input: { id: eventId } }, organizer)).body.data
        ?.publishEvent.errors,
    ).toEqual([]);
    const first = await waitFor(async () => {
      const payload = await reserve(2);
      return payload.reservation && payload;
    });
    // Catalog resolves the ticket type of orders' reservation in one answer.
    expect(first.reservation).toEqual({
      total: { amount: 3000, currency: 'EUR' },
      items: [{ ticketType: { id: ticketTypeId, name: 'Regular' } }],
    });

    const updated = await graphql<{ updateTicketType: { errors: unknown[] } }, unknown>(
      stack.url,
      UPDATE_TICKET_TYPE,
      { input: { id: ticketTypeId, price: { amount: 2000, currency: 'EUR' }, capacity: 3 } },
      organizer,
    );
    expect(updated.body.data!.updateTicketType.errors).toEqual([]);
    // Orders' copy has the change once catalog's offer arrived (polled without taking stock).
    await waitFor(async () => {
      const [copy] =
        await stack.sql`select capacity from orders.offer_ticket_types where id = ${ticketTypeId}`;
      return copy?.capacity === 3;
    });
    // 2 of the 3 are held: two more are too many, and the one left costs 2000.
    const soldOut = await reserve(2);
    expect(soldOut.errors[0]).toMatchObject({ code: 'SOLD_OUT', message: 'only 1 left of “Regular”' });
    expect((await reserve(1)).reservation!.total).toEqual({ amount: 2000, currency: 'EUR' });

    await graphql(stack.url, CancelEventDocument, { input: { id: eventId } }, organizer);
    const refused = await waitFor(async () => {
      const payload = await reserve(1);
      return payload.errors[0]?.message === 'the event is cancelled' && payload;
    });
    expect(refused.reservation).toBeNull();
  });
});

describe('a sale end to end', () => {
  it("keeps catalog's tickets_sold equal to orders' sold count once a checked-out order is paid", async () => {
    const { organizationId, owner } = await stack.organizationOwner('sale');
    const created = await graphql(
      stack.url,
      CreateEventDocument,
      { input: eventInput(organizationId, 'Paid Night', { capacity: 10 }) },
      owner.headers,
    );
    const eventId = created.body.data!.createEvent.event!.id;
    const added = await graphql(
      stack.url,
      AddTicketTypeDocument,
      { input: { eventId, name: 'Regular', price: { amount: 1500, currency: 'EUR' }, capacity: 5 } },
      owner.headers,
    );
    const ticketTypeId = added.body.data!.addTicketType.ticketType!.id;
    await graphql(stack.url, PublishEventDocument, { input: { id: eventId } }, owner.headers);
    const buyer = await stack.signUp();
    const reservation = await waitFor(async () => {
      const { body } = await graphql<{ reserveTickets: { reservation: { id: string } | null } }, unknown>(
        stack.url,
        `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
        { input: { eventId, items: [{ ticketTypeId, quantity: 2 }] } },
        buyer.headers,
      );
      return body.data?.reserveTickets.reservation;
    });
    const { body } = await graphql<
      { checkout: { order: { id: string; status: string; total: { amount: number; currency: string } } } },
      unknown
    >(
      stack.url,
      `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id status total { amount currency } } errors { code message } } }`,
      { input: { reservationId: reservation.id, buyer: { name: 'Amra', email: buyer.email } } },
      buyer.headers,
    );
    const order = body.data!.checkout.order;
    expect(order).toMatchObject({ status: 'PENDING_PAYMENT', total: { amount: 3000, currency: 'EUR' } });

    // Billing (issue 14) is simulated: its event as its outbox will publish it.
    const paymentId = randomUUID();
    await stack.bus.publish(
      newEvent(paymentSucceeded, paymentId, 1, { paymentId, orderId: order.id, amount: order.total }),
    );
    const sold = await waitFor(async () => {
      const [row] = await stack.sql<Array<{ tickets_sold: number }>>`
        select tickets_sold from catalog.events where id = ${eventId}`;
      return row!.tickets_sold > 0 && row!.tickets_sold;
    });
    const [copy] = await stack.sql<Array<{ sold: number }>>`
      select sold from orders.offer_ticket_types where id = ${ticketTypeId}`;
    expect({ catalog: sold, orders: copy!.sold }).toEqual({ catalog: 2, orders: 2 });
  });
});
