import { emailIndexOf, graphql, verificationTokenOf, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddTicketTypeDocument,
  CheckoutDocument,
  CreateEventDocument,
  CreateOrganizationDocument,
  EventsPageDocument,
  LoginDocument,
  OrderOverviewDocument,
  OrganizationWithBrandingDocument,
  PayOrderDocument,
  PublishEventDocument,
  RefreshTokenDocument,
  RegisterDocument,
  ReserveTicketsDocument,
  SendNotificationDocument,
  UpdateBrandKitDocument,
  VerifyEmailDocument,
} from './generated/operations.ts';
import { startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let organizer: Record<string, string>;
let organizerRefreshToken: string;
beforeAll(async () => {
  stack = await startTestStack('jetstream');
  ({ headers: organizer, refreshToken: organizerRefreshToken } = await stack.signUp());
});
afterAll(async () => {
  await stack?.dispose();
});

async function seedOrganization(slug: string) {
  const { body } = await graphql(
    stack.url,
    CreateOrganizationDocument,
    { input: { name: `Org ${slug}`, slug } },
    organizer,
  );
  expect(body.errors).toBeUndefined();
  expect(body.data?.createOrganization.errors).toEqual([]);
  // The new OWNER role reaches the access token at its next refresh; catalog checks it there.
  const refreshed = await graphql(stack.url, RefreshTokenDocument, {
    input: { refreshToken: organizerRefreshToken },
  });
  const tokens = refreshed.body.data!.refreshToken;
  organizerRefreshToken = tokens.refreshToken!;
  organizer = { authorization: `Bearer ${tokens.accessToken}` };
  return body.data!.createOrganization.organization!;
}

async function seedEvent(organizationId: string, title: string) {
  const created = await graphql(
    stack.url,
    CreateEventDocument,
    {
      input: {
        organizationId,
        title,
        startsAt: '2027-03-01T19:00:00Z',
        endsAt: '2027-03-01T23:00:00Z',
        timezone: 'Europe/Sarajevo',
        venue: { name: 'Dom mladih', address: 'Terezija bb', city: 'Sarajevo', country: 'BA' },
        currency: 'EUR',
        capacity: 500,
      },
    },
    organizer,
  );
  expect(created.body.data?.createEvent.errors).toEqual([]);
  return created.body.data!.createEvent.event!;
}

describe('one supergraph over six subgraphs', () => {
  it('answers one operation spanning all six subgraphs with data written by mutations in each', async () => {
    const registered = await graphql(stack.url, RegisterDocument, {
      input: { email: '  Ana@Example.COM ', password: 'Sarajevo jazz nights', displayName: 'Ana' },
    });
    expect(registered.body.data!.register).toEqual({ accepted: true, errors: [] });
    // Found under the normalized address's blind index (the address itself is sealed).
    const [user] = await stack.sql<[{ id: string }]>`
      select id from identity.users where email_index = ${emailIndexOf('ana@example.com')}`;
    // Only verified users buy tickets.
    await graphql(stack.url, VerifyEmailDocument, {
      input: { token: await verificationTokenOf(stack.sql, user.id) },
    });
    const ana = {
      authorization: `Bearer ${
        (
          await graphql(stack.url, LoginDocument, {
            input: { email: 'ana@example.com', password: 'Sarajevo jazz nights' },
          })
        ).body.data!.login.accessToken
      }`,
    };
    const organization = await seedOrganization('sarajevo-jazz');
    const event = await seedEvent(organization.id, 'Jazz Fest');
    const ticketType = (
      await graphql(
        stack.url,
        AddTicketTypeDocument,
        {
          input: {
            eventId: event.id,
            name: 'Early bird',
            price: { amount: 2500, currency: 'EUR' },
            capacity: 100,
          },
        },
        organizer,
      )
    ).body.data!.addTicketType.ticketType!;
    // Published, so that everyone (here: an anonymous query) sees it.
    const published = await graphql(stack.url, PublishEventDocument, { input: { id: event.id } }, organizer);
    expect(published.body.data?.publishEvent.errors).toEqual([]);
    // Orders hears of the published offer through catalog's event; then Ana holds and checks out.
    const reservation = await waitFor(
      async () =>
        (
          await graphql(
            stack.url,
            ReserveTicketsDocument,
            { input: { eventId: event.id, items: [{ ticketTypeId: ticketType.id, quantity: 2 }] } },
            ana,
          )
        ).body.data?.reserveTickets.reservation,
    );
    const checkedOut = await graphql(
      stack.url,
      CheckoutDocument,
      { input: { reservationId: reservation.id, buyer: { name: 'Ana', email: 'ana@example.com' } } },
      ana,
    );
    expect(checkedOut.body.data?.checkout.errors).toEqual([]);
    const order = checkedOut.body.data!.checkout.order!;
    // Ana pays with the Sandbox once billing has orders' charge; the amount is orders', not hers.
    const payment = await waitFor(async () => {
      const { body } = await graphql(
        stack.url,
        PayOrderDocument,
        {
          input: {
            orderId: order.id,
            provider: 'SANDBOX',
            paymentMethodToken: 'tok_visa',
            idempotencyKey: `pay-${order.id}`,
          },
        },
        ana,
      );
      return body.data?.payOrder.payment;
    });
    expect(payment.status).toBe('SUCCEEDED');
    // Posting notifications is for platform ADMINs only.
    const platformAdmin = (await stack.signUpAdmin()).headers;
    const notification = await graphql(
      stack.url,
      SendNotificationDocument,
      { input: { recipientId: user.id, subject: 'Your order', body: 'Two tickets are on hold.' } },
      platformAdmin,
    );
    expect(notification.body.data?.sendNotification.errors).toEqual([]);
    // The default brand kit arrives through bilten.identity.organization.created; then restyle it.
    await waitFor(async () => {
      const { body } = await graphql(stack.url, OrganizationWithBrandingDocument, { id: organization.id });
      return body.data?.organization?.branding;
    });
    // Only the organization's ADMINs and OWNERs restyle it.
    await graphql(
      stack.url,
      UpdateBrandKitDocument,
      { input: { organizationId: organization.id, primaryColor: '#112233' } },
      organizer,
    );

    // As the buyer: her notifications are hers alone.
    // Orders hears billing's payment.succeeded: the order is PAID.
    const body = await waitFor(async () => {
      const answer = await graphql(stack.url, OrderOverviewDocument, { id: order.id }, ana);
      // Paid, messaging's order-confirmed notification reaches her inbox too.
      const inbox = answer.body.data?.order?.buyer.user?.notifications?.edges ?? [];
      return answer.body.data?.order?.status === 'PAID' && inbox.length === 2 && answer.body;
    });
    expect(body.errors).toBeUndefined();
    expect(body.data?.order).toEqual({
      id: order.id,
      status: 'PAID',
      total: { amount: 5000, currency: 'EUR' },
      buyer: {
        name: 'Ana',
        user: {
          displayName: 'Ana',
          notifications: {
            edges: expect.arrayContaining([
              { node: { subject: 'Your order' } },
              { node: { subject: 'Your tickets for Jazz Fest' } },
            ]),
          },
        },
      },
      event: {
        title: 'Jazz Fest',
        organizer: {
          name: 'Org sarajevo-jazz',
          branding: { primaryColor: '#112233', accentColor: '#2563EB' },
        },
      },
      lines: [{ quantity: 2, ticketType: { name: 'Early bird', price: { amount: 2500, currency: 'EUR' } } }],
      payments: [{ amount: { amount: 5000, currency: 'EUR' }, provider: 'SANDBOX', status: 'SUCCEEDED' }],
    });
  });

  it('lists every core type in __schema', async () => {
    const { body } = await graphql<{ __schema: { types: { name: string }[] } }, never>(
      stack.url,
      '{ __schema { types { name } } }',
    );
    const names = body.data!.__schema.types.map((type) => type.name);
    for (const name of [
      'User',
      'Organization',
      'Event',
      'TicketType',
      'Order',
      'Payment',
      'Notification',
      'BrandKit',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('resolves a page of events with organizers and ticket types in a bounded number of SQL statements', async () => {
    // One after another: each creation refreshes the organizer's token, and a refresh token is single-use.
    const organizations = [];
    for (const slug of ['n1-a', 'n1-b', 'n1-c']) organizations.push(await seedOrganization(slug));
    for (let i = 0; i < 12; i++) {
      const event = await seedEvent(organizations[i % 3]!.id, `Event ${i}`);
      await graphql(
        stack.url,
        AddTicketTypeDocument,
        {
          input: {
            eventId: event.id,
            name: 'General',
            price: { amount: 1000, currency: 'EUR' },
            capacity: 10,
          },
        },
        organizer,
      );
    }
    const queriesOf = async (service: 'catalog' | 'identity') => {
      const text = await (await fetch(stack.subgraphs[service].url.replace('/graphql', '/metrics'))).text();
      return Number(/^db_queries_total\{[^}]*pool="requests"[^}]*\} (\d+)/m.exec(text)?.[1]);
    };
    const before = { catalog: await queriesOf('catalog'), identity: await queriesOf('identity') };
    // As their organizer, who sees the drafts too.
    const { body } = await graphql(stack.url, EventsPageDocument, { first: 12 }, organizer);
    expect(body.errors).toBeUndefined();
    expect(body.data!.events.edges).toHaveLength(12);
    expect(
      body.data!.events.edges.every(
        (edge) => edge.node.organizer?.name && edge.node.ticketTypes.length === 1,
      ),
    ).toBe(true);
    // catalog: the page plus one batched ticket-type query; identity: one batched organization
    // query, plus the one statement of the organizer's current claims (the gateway's exchange).
    expect((await queriesOf('catalog')) - before.catalog).toBe(2);
    expect((await queriesOf('identity')) - before.identity).toBe(2);
  });

  it('pages events with keyset cursors and rejects a tampered cursor', async () => {
    const first = await graphql(stack.url, EventsPageDocument, { first: 2 }, organizer);
    const second = await graphql(
      stack.url,
      EventsPageDocument,
      { first: 2, after: first.body.data!.events.pageInfo.endCursor },
      organizer,
    );
    const ids = [...first.body.data!.events.edges, ...second.body.data!.events.edges].map(
      (edge) => edge.node.id,
    );
    expect(new Set(ids).size).toBe(4);
    const tampered = await graphql(stack.url, EventsPageDocument, {
      first: 2,
      after: 'eyJrIjoiJyBvciAxPTEifQ',
    });
    expect(tampered.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('returns field-level user errors for invalid input and changes nothing', async () => {
    const badOrg = await graphql(
      stack.url,
      CreateOrganizationDocument,
      { input: { name: '\u0007', slug: 'Not A Slug' } },
      organizer,
    );
    expect(badOrg.body.data?.createOrganization).toMatchObject({
      organization: null,
      errors: [
        { code: 'INVALID_INPUT', field: ['input', 'name'] },
        { code: 'INVALID_INPUT', field: ['input', 'slug'] },
      ],
    });
    await seedOrganization('taken-slug');
    const duplicate = await graphql(
      stack.url,
      CreateOrganizationDocument,
      { input: { name: 'Again', slug: 'taken-slug' } },
      organizer,
    );
    expect(duplicate.body.data?.createOrganization.errors).toEqual([
      { code: 'ALREADY_EXISTS', message: 'this slug is taken', field: ['input', 'slug'] },
    ]);
    const badEvent = await graphql(
      stack.url,
      CreateEventDocument,
      {
        input: {
          organizationId: 'not-an-id',
          title: 'x',
          startsAt: '2027-03-02T10:00:00Z',
          endsAt: '2027-03-01T10:00:00Z',
          timezone: 'Mars/Olympus',
          currency: 'XYZ',
          capacity: 0,
        },
      },
      organizer,
    );
    const fields = badEvent.body.data!.createEvent.errors.map((error) => error.field?.join('.'));
    expect(fields).toEqual(
      expect.arrayContaining(['input.organizationId', 'input.timezone', 'input.currency']),
    );
    const page = await graphql(stack.url, EventsPageDocument, { first: 50 }, organizer);
    expect(page.body.data!.events.edges.some((edge) => edge.node.title === 'x')).toBe(false);
  });

  it('refuses a ticket type priced in another currency than its event', async () => {
    const organization = await seedOrganization('currency-check');
    const event = await seedEvent(organization.id, 'Priced in EUR');
    const { body } = await graphql(
      stack.url,
      AddTicketTypeDocument,
      { input: { eventId: event.id, name: 'VIP', price: { amount: 100, currency: 'USD' }, capacity: 5 } },
      organizer,
    );
    expect(body.data?.addTicketType.errors).toEqual([
      {
        code: 'INVALID_INPUT',
        message: "must be in the event's currency EUR",
        field: ['input', 'price', 'currency'],
      },
    ]);
  });
});
