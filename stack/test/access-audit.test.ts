/**
 * Issue 18 (access audit) through the public door: a platform admin reading someone's
 * notifications, and an organizer reading a buyer's order, show up in that person's
 * `myDataAccessLog` (reported by messaging and orders over NATS, appended by identity), without
 * the reader's id; the admin finds both in `accessLog`. Reading one's own data is not recorded.
 */
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

const NOTIFICATIONS = `query($id: ID!) { user(id: $id) { notifications { edges { node { id } } } } }`;
const MY_LOG = `query { myDataAccessLog { edges { node {
  actorKind actorId purpose fields resource service organization { id }
} } } }`;
const ACCESS_LOG = `query($filter: AccessLogFilter) { accessLog(filter: $filter) { edges { node {
  actorKind actorId subjectUserId purpose resource service
} } } }`;
type Entry = {
  actorKind: string;
  actorId: string | null;
  purpose: string;
  fields: string[];
  resource: string;
  service: string;
  organization: { id: string } | null;
};

describe('the access audit through the gateway', () => {
  it('shows a person who read their notifications and their order', async () => {
    const person = await stack.signUp({ displayName: 'Lejla Subject' });
    const admin = await stack.signUpAdmin();
    const myLog = async () =>
      (
        await gatewayCall<{ myDataAccessLog: { edges: Array<{ node: Entry }> } }>(
          stack,
          MY_LOG,
          {},
          person.headers,
        )
      ).myDataAccessLog.edges.map((edge) => edge.node);

    // Their own reads are not recorded.
    await gatewayCall(stack, NOTIFICATIONS, { id: person.userId }, person.headers);

    // A platform admin reads their notifications (and, through the user, their account).
    await gatewayCall(stack, NOTIFICATIONS, { id: person.userId }, admin.headers);
    const byAdmin = await waitFor(async () => (await myLog()).find((entry) => entry.service === 'messaging'));
    expect(byAdmin).toEqual({
      actorKind: 'ADMIN',
      actorId: null,
      purpose: 'admin-review',
      fields: ['notification.subject', 'notification.body'],
      resource: `user:${person.userId}:notifications`,
      service: 'messaging',
      organization: null,
    });

    // The person buys; the organizer reads the order with the buyer's name (the email only with
    // their ORGANIZER_SHARING consent, which they did not give: stack/test/consents.test.ts).
    const { owner, organizationId, eventId, ticketTypeId } = await publishedEvent(stack, 'audited-org');
    const reservation = await waitFor(async () => {
      const { reserveTickets } = await gatewayCall<{
        reserveTickets: { reservation: { id: string } | null };
      }>(
        stack,
        `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
        { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
        person.headers,
      );
      return reserveTickets.reservation;
    });
    const { checkout } = await gatewayCall<{ checkout: { order: { id: string } } }>(
      stack,
      `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } errors { message } } }`,
      { input: { reservationId: reservation.id, buyer: { name: 'Lejla Subject', email: person.email } } },
      person.headers,
    );
    const orderId = checkout.order.id;
    const ORDER = `query($id: ID!) { order(id: $id) { id buyer { name email } } }`;
    await gatewayCall(stack, ORDER, { id: orderId }, person.headers);
    const seen = await gatewayCall<{ order: { buyer: { email: string } } }>(
      stack,
      ORDER,
      { id: orderId },
      owner.headers,
    );
    expect(seen.order.buyer.email).toBe('');
    const byOrganizer = await waitFor(async () =>
      (await myLog()).find((entry) => entry.resource === `order:${orderId}`),
    );
    expect(byOrganizer).toEqual({
      actorKind: 'USER',
      actorId: null,
      purpose: 'order',
      fields: ['buyer.name', 'attendees'],
      resource: `order:${orderId}`,
      service: 'orders',
      organization: { id: organizationId },
    });
    // Only reads by others: the person's own reads of their order and notifications are not there.
    expect((await myLog()).filter((entry) => entry.service !== 'identity')).toHaveLength(2);

    // The admin sees who read it.
    const { accessLog } = await gatewayCall<{
      accessLog: { edges: Array<{ node: { actorId: string; service: string } }> };
    }>(stack, ACCESS_LOG, { filter: { subjectUserId: person.userId } }, admin.headers);
    const actors = accessLog.edges.map((edge) => [edge.node.service, edge.node.actorId]);
    expect(actors).toContainEqual(['messaging', admin.userId]);
    expect(actors).toContainEqual(['orders', owner.userId]);
  });
});
