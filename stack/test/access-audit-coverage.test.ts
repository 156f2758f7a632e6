/**
 * Issue 18, "Admins are audited too" and the widened access audit: a platform admin reading a
 * person's account, notifications, orders and payments, and an organizer checking their ticket in
 * at the door, each appear in that person's `myDataAccessLog` (reported by identity, messaging,
 * orders and billing over NATS; appended by identity); the person's own reads never do.
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

type Headers = Record<string, string>;
type Entry = { actorKind: string; purpose: string; fields: string[]; resource: string; service: string };
const MY_LOG = `query { myDataAccessLog(first: 100) { edges { node { actorKind purpose fields resource service } } } }`;

const call = <T>(query: string, variables: Record<string, unknown>, headers: Headers) =>
  gatewayCall<T>(stack, query, variables, headers);

const logOf = async (headers: Headers) =>
  (
    await call<{ myDataAccessLog: { edges: Array<{ node: Entry }> } }>(MY_LOG, {}, headers)
  ).myDataAccessLog.edges.map((edge) => edge.node);

/** The person's paid order of one ticket of a new event of a new organizer. */
async function paidOrder(person: { headers: Headers; email: string }, slug: string) {
  const { owner, organizationId, eventId, ticketTypeId } = await publishedEvent(stack, slug);
  const reservationId = await waitFor(async () => {
    const { reserveTickets } = await call<{ reserveTickets: { reservation: { id: string } | null } }>(
      `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
      { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
      person.headers,
    );
    return reserveTickets.reservation?.id;
  });
  const { checkout } = await call<{ checkout: { order: { id: string } } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }`,
    { input: { reservationId, buyer: { name: 'Amra Audited', email: person.email } } },
    person.headers,
  );
  const orderId = checkout.order.id;
  await waitFor(async () => {
    const { payOrder } = await call<{ payOrder: { payment: { status: string } | null } }>(
      `mutation($input: PayOrderInput!) { payOrder(input: $input) { payment { status } } }`,
      {
        input: {
          orderId,
          provider: 'SANDBOX',
          paymentMethodToken: 'tok_visa',
          idempotencyKey: `pay-${slug}`,
        },
      },
      person.headers,
    );
    return payOrder.payment;
  });
  const tickets = await waitFor(async () => {
    const { order } = await call<{ order: { status: string; tickets: Array<{ id: string }> } | null }>(
      `query($id: ID!) { order(id: $id) { status tickets { id } } }`,
      { id: orderId },
      person.headers,
    );
    return order?.status === 'PAID' && order.tickets.length ? order.tickets : undefined;
  });
  return { owner, organizationId, orderId, ticketId: tickets[0]!.id };
}

describe('the widened access audit', () => {
  it('records an admin reading account, notifications, orders and payments, and a check-in', async () => {
    const person = await stack.signUp({ displayName: 'Amra Audited' });
    const admin = await stack.signUpAdmin();
    const { owner, orderId, ticketId } = await paidOrder(person, 'audit-coverage');

    // The person's own reads of everything below: never recorded.
    const EVERYTHING = `query($user: ID!, $order: ID!) {
      user(id: $user) { id email notifications { edges { cursor } } }
      order(id: $order) { id buyer { name email } payments { id status } receipt { id buyer { name email } } }
    }`;
    await call(EVERYTHING, { user: person.userId, order: orderId }, person.headers);
    // Billing issues the receipt by event: wait until the person sees it, so the admin does too.
    await waitFor(async () => {
      const { order } = await call<{ order: { receipt: { id: string } | null } }>(
        `query($id: ID!) { order(id: $id) { receipt { id } } }`,
        { id: orderId },
        person.headers,
      );
      return order.receipt ?? undefined;
    });

    // A platform admin reads them all in one request.
    const seen = await call<{ user: { email: string }; order: { payments: Array<{ id: string }> } }>(
      EVERYTHING,
      { user: person.userId, order: orderId },
      admin.headers,
    );
    expect(seen.user.email).toBe(person.email);
    expect(seen.order.payments).toHaveLength(1);
    const paymentId = seen.order.payments[0]!.id;

    // The organizer's door staff check the ticket in by hand: the attendee's name is shown.
    const { checkInTicket } = await call<{ checkInTicket: { ticket: { attendeeName: string } | null } }>(
      `mutation($input: CheckInTicketInput!) { checkInTicket(input: $input) { ticket { attendeeName } errors { code } } }`,
      { input: { ticketId } },
      owner.headers,
    );
    expect(checkInTicket.ticket?.attendeeName).toBe('Amra Audited');

    const expected = [
      { service: 'identity', resource: `user:${person.userId}`, purpose: 'admin-review', actorKind: 'ADMIN' },
      {
        service: 'messaging',
        resource: `user:${person.userId}:notifications`,
        purpose: 'admin-review',
        actorKind: 'ADMIN',
      },
      { service: 'orders', resource: `order:${orderId}`, purpose: 'admin-review', actorKind: 'ADMIN' },
      {
        service: 'billing',
        resource: `order:${orderId}:payments`,
        purpose: 'admin-review',
        actorKind: 'ADMIN',
      },
      { service: 'orders', resource: `ticket:${ticketId}`, purpose: 'check-in', actorKind: 'USER' },
    ];
    const log = await waitFor(async () => {
      const entries = await logOf(person.headers);
      const billed = entries.some(
        (entry) => entry.service === 'billing' && entry.resource.startsWith('receipt:'),
      );
      return expected.every((want) => entries.some((entry) => matches(entry, want))) && billed
        ? entries
        : undefined;
    });
    expect(log.find((entry) => entry.resource === `order:${orderId}:payments`)?.fields).toEqual([
      'payment.amount',
      'payment.provider',
      'payment.status',
    ]);
    expect(log.find((entry) => entry.resource === `ticket:${ticketId}`)?.fields).toEqual(['attendeeName']);
    expect(log.find((entry) => entry.resource.startsWith('receipt:'))?.fields).toContain('buyer.email');
    // Exactly the admin's reads and the check-in: the person's own reads left nothing behind.
    expect(log.every((entry) => entry.actorKind === 'ADMIN' || entry.purpose === 'check-in')).toBe(true);
    expect(paymentId).toBeTruthy();
  });

  it('records co-members reading the team list and an admin changing a member’s role', async () => {
    const { organizationId, owner } = await stack.organizationOwner('audit-team');
    const member = await stack.signUp({ displayName: 'Staff Member' });
    // Added directly: invitations are tested in identity; this test is about the audit.
    await stack.sql`insert into identity.organization_members (organization_id, user_id, role)
      values (${organizationId}, ${member.userId}, 'STAFF')`;
    const MEMBERS = `query($id: ID!) { organization(id: $id) { members { user { id email } role } } }`;
    const { organization } = await call<{ organization: { members: Array<{ user: { email: string } }> } }>(
      MEMBERS,
      { id: organizationId },
      owner.headers,
    );
    expect(organization.members.map((row) => row.user.email)).toContain(member.email);
    const { changeMemberRole } = await call<{ changeMemberRole: { errors: unknown[] } }>(
      `mutation($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { errors { code message } } }`,
      { input: { organizationId, userId: member.userId, role: 'ADMIN' } },
      owner.headers,
    );
    expect(changeMemberRole.errors).toEqual([]);
    const log = await logOf(member.headers);
    expect(log).toContainEqual({
      service: 'identity',
      resource: `organization:${organizationId}:members`,
      purpose: 'team-directory',
      fields: ['email', 'displayName', 'organization.role'],
      actorKind: 'USER',
    });
    expect(log).toContainEqual({
      service: 'identity',
      resource: `organization:${organizationId}:member:${member.userId}`,
      purpose: 'change:role',
      fields: ['organization.role'],
      actorKind: 'USER',
    });
    // The owner read their own row of the list: not recorded for them.
    expect(await logOf(owner.headers)).toEqual([]);
  });
});

const matches = (entry: Entry, want: Partial<Entry>) =>
  Object.entries(want).every(([key, value]) => entry[key as keyof Entry] === value);
