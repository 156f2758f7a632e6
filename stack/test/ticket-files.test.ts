/** `GET /tickets/{id}.pdf` (and the QR page `/tickets/{id}`) at the gateway's door: passed on to orders with the caller's credentials exchanged. */
import { randomUUID } from 'node:crypto';
import { paymentSucceeded } from '@bilten/contracts/billing';
import { newEvent } from '@bilten/platform';
import { waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('jetstream');
});
afterAll(async () => {
  await stack?.dispose();
});

type Headers = Record<string, string>;

const call = <T>(query: string, variables: Record<string, unknown>, headers: Headers) =>
  gatewayCall<T>(stack, query, variables, headers);

describe('ticket files through the gateway', () => {
  it("serves the buyer's and the organizer's PDF, and nobody else's", async () => {
    const { owner, eventId, ticketTypeId } = await publishedEvent(stack, 'ticket-files', {
      title: 'PDF Night',
      event: { capacity: 10 },
    });

    const buyer = await stack.signUp({ displayName: 'Pdf Buyer' });
    const reservationId = await waitFor(async () => {
      const { reserveTickets } = await call<{ reserveTickets: { reservation: { id: string } | null } }>(
        `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
        { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
        buyer.headers,
      );
      return reserveTickets.reservation?.id;
    });
    const { checkout } = await call<{
      checkout: { order: { id: string; total: { amount: number; currency: string } } };
    }>(
      `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id total { amount currency } } } }`,
      { input: { reservationId, buyer: { name: 'Pdf Buyer', email: buyer.email } } },
      buyer.headers,
    );
    const paymentId = randomUUID();
    await stack.bus.publish(
      newEvent(paymentSucceeded, paymentId, 1, {
        paymentId,
        orderId: checkout.order.id,
        amount: checkout.order.total,
      }),
    );
    const ticketId = await waitFor(async () => {
      const { order } = await call<{ order: { tickets: Array<{ id: string }> } | null }>(
        `query($id: ID!) { order(id: $id) { tickets { id } } }`,
        { id: checkout.order.id },
        buyer.headers,
      );
      return order?.tickets[0]?.id;
    });

    const file = (headers: Headers) =>
      fetch(new URL(`/tickets/${ticketId}.pdf`, stack.url), { headers: headers as Record<string, string> });
    for (const headers of [buyer.headers, owner.headers]) {
      const response = await file(headers);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/pdf');
      expect(response.headers.get('cache-control')).toBe('private, no-store');
      const body = Buffer.from(await response.arrayBuffer());
      expect(body.subarray(0, 5).toString()).toBe('%PDF-');
      expect(body.toString('latin1')).toContain(`(Ticket ${ticketId})`);
    }
    const stranger = await stack.signUp({ displayName: 'Someone Else' });
    for (const headers of [stranger.headers, {}]) expect((await file(headers)).status).toBe(404);
    expect((await file({ authorization: 'Bearer bk_live_nope' })).status).toBe(401);
    expect((await fetch(new URL('/tickets/nope.pdf', stack.url))).status).toBe(404);

    // The ticket's QR page (issue 17) passes too, with orders' strict policy and no referrer.
    const page = (headers: Headers) =>
      fetch(new URL(`/tickets/${ticketId}`, stack.url), { headers: headers as Record<string, string> });
    const shown = await page(buyer.headers);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(shown.headers.get('cache-control')).toBe('no-store');
    expect(shown.headers.get('referrer-policy')).toBe('no-referrer');
    expect(shown.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await shown.text()).toContain('<meta name="bilten-brand" content="brand-version:');
    expect((await page(stranger.headers)).status).toBe(404);
  });
});
