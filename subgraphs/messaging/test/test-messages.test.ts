import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { paymentFailed } from '@bilten/contracts/billing';
import { eventPublished } from '@bilten/contracts/catalog';
import { invitationCreated, organizationCreated } from '@bilten/contracts/identity';
import { orderPaid, ticketTransferred } from '@bilten/contracts/orders';
import { connectDatabase, type DatabaseHandle, type DomainEvent, newEvent } from '@bilten/platform';
import {
  type CallerHeaders,
  startTestSmtpServer,
  startTestSubgraph,
  TEST_NATS_URL,
  type TestSmtpServer,
  type TestSubgraph,
  testLinkTokens,
  waitFor,
} from '@bilten/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepTestMessages } from '../src/domain/test-messages.ts';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp } from './support.ts';

let smtp: TestSmtpServer;
let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;
let sweeper: DatabaseHandle;
/** The gateway's ticket PDFs, which a live order's mail attaches when it is sent. */
let files: Server;

/** A sandbox (test mode) of LIVE, and who is who around them. */
const SANDBOX = uuidv7();
const LIVE = uuidv7();
const OTHER = uuidv7();
const callers = {} as Record<
  | 'anonymous'
  | 'sandboxKey'
  | 'sandboxStaff'
  | 'liveOwner'
  | 'liveKey'
  | 'otherOwner'
  | 'otherKey'
  | 'customer',
  CallerHeaders
>;
const apiKey = (org: string) =>
  subgraph.bearer({ sub: uuidv7(), kind: 'api_key', org, scopes: ['orders:read'], mode: 'TEST' });

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  files = createServer((_request, response) =>
    response.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.4 test'),
  );
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    env: {
      SMTP_URL: smtp.url,
      PUBLIC_WEB_URL: 'https://web.example',
      PUBLIC_GATEWAY_URL: `http://127.0.0.1:${(files.address() as AddressInfo).port}/`,
    },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
  sweeper = connectDatabase({
    url: subgraph.database.url,
    poolSize: 2,
    applicationName: 'test-messages-test',
  });
  callers.anonymous = {};
  callers.sandboxKey = await apiKey(SANDBOX);
  callers.sandboxStaff = await subgraph.bearer({ orgs: { [SANDBOX]: 'STAFF' } });
  // LIVE's owner: a member of the live organization, not of its sandbox.
  callers.liveOwner = await subgraph.bearer({ orgs: { [LIVE]: 'OWNER' } });
  callers.liveKey = await apiKey(LIVE);
  callers.otherOwner = await subgraph.bearer({ orgs: { [OTHER]: 'OWNER' } });
  callers.otherKey = await apiKey(OTHER);
  callers.customer = await subgraph.bearer({});
  for (const [organizationId, testMode, sandboxOf] of [
    [SANDBOX, true, LIVE],
    [LIVE, false, null],
    [OTHER, true, null],
  ] as const)
    await publish(
      newEvent(organizationCreated, organizationId, 1, {
        organizationId,
        name: `Org ${organizationId.slice(-4)}`,
        slug: `org-${organizationId.slice(-12)}`,
        testMode,
        sandboxOf,
      }),
    );
  await consumerCaughtUp(jsm, subgraph, 'organization-names-created');
  await consumerCaughtUp(jsm, subgraph, 'organization-test-mode');
});

afterAll(async () => {
  await sweeper?.close();
  await nats?.close();
  await subgraph?.dispose();
  await smtp?.stop();
  await new Promise((resolve) => files?.close(resolve));
});

const publish = (event: DomainEvent) => subgraph.testBus.bus.publish(event);
const newAddress = () => `${uuidv7()}@example.test`;
const mailsTo = (address: string) => smtp.messages.filter((mail) => mail.envelope.to.includes(address));

/** An order of `organizationId` paid by a guest at `buyerEmail`. */
function paid(organizationId: string, buyerEmail: string, eventId = uuidv7()) {
  const orderId = uuidv7();
  const ticketId = uuidv7();
  return newEvent(orderPaid, orderId, 1, {
    orderId,
    eventId,
    organizationId,
    buyerId: null,
    buyerEmail,
    buyerName: 'Ana Kovač',
    eventTitle: 'Sandbox Jazz',
    tickets: [{ ticketId, sealedToken: testLinkTokens.seal(`token-${ticketId}`, ticketId) }],
    total: { amount: 5000, currency: 'EUR' },
  });
}

/** The deliveries of a source event once none is waiting any more. */
const settled = (sourceEventId: string) =>
  waitFor(async () => {
    const rows = await subgraph.sql<
      Array<{ id: string; kind: string; status: string; organization_id: string }>
    >`
      select id, kind, status, organization_id from messaging.deliveries where source_event_id = ${sourceEventId}`;
    return rows.length > 0 && rows.every((row) => row.status !== 'QUEUED') && rows;
  });

const capturedOf = (deliveryId: string) =>
  subgraph.sql<Array<{ recipient: string; subject: string; text: string; html: string }>>`
    select recipient, subject, text, html from messaging.test_messages where delivery_id = ${deliveryId}`;

const TEST_MESSAGES = `query($organizationId: ID!, $first: Int, $after: String) {
  testMessages(organizationId: $organizationId, first: $first, after: $after) {
    edges { cursor node { id kind channel recipient subject text html capturedAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;
interface TestMessagePage {
  testMessages: {
    edges: Array<{ cursor: string; node: { id: string; kind: string; recipient: string; subject: string } }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}
const testMessages = (caller: CallerHeaders, variables: Record<string, unknown>) =>
  subgraph.gql<TestMessagePage>(TEST_MESSAGES, variables, caller);

describe('a test-mode organization’s messages are captured, not sent', () => {
  it('keeps an order confirmation rendered as for real, sends it nowhere, and a live organization’s still goes out', async () => {
    const sandboxBuyer = newAddress();
    const order = paid(SANDBOX, sandboxBuyer);
    await publish(order);
    // Redelivered: still one delivery, one captured message.
    await publish(order);
    const [delivery, ...more] = await settled(order.id);
    expect(more).toEqual([]);
    expect(delivery).toMatchObject({ kind: 'orderConfirmed', status: 'CAPTURED', organization_id: SANDBOX });
    const [message, ...others] = await capturedOf(delivery!.id);
    expect(others).toEqual([]);
    expect(message!.recipient).toBe(sandboxBuyer);
    expect(message!.subject).toBe('Your tickets for Sandbox Jazz');
    // The ticket's link, opened from its sealed token, as the real mail has it.
    const { ticketId } = order.payload.tickets[0]!;
    expect(message!.text).toContain(`/tickets/${ticketId}.pdf?token=token-${ticketId}`);
    expect(message!.html).toContain(`/tickets/${ticketId}.pdf?token=token-${ticketId}`);

    // A live organization's order, published after: once its mail arrives, the worker has long
    // been past the sandbox's.
    const liveBuyer = newAddress();
    await publish(paid(LIVE, liveBuyer));
    await smtp.waitForMessage((mail) => mail.envelope.to.includes(liveBuyer));
    expect(mailsTo(sandboxBuyer)).toEqual([]);
    const [attempt] = await subgraph.sql`
      select transport, outcome from messaging.delivery_attempts where delivery_id = ${delivery!.id}`;
    expect(attempt).toEqual({ transport: 'capture', outcome: 'CAPTURED' });
  });

  it('a delivery claimed again (a lost lease) keeps one message', async () => {
    const order = paid(SANDBOX, newAddress());
    await publish(order);
    const [delivery] = await settled(order.id);
    await subgraph.sql`
      update messaging.deliveries set status = 'QUEUED', next_attempt_at = now() where id = ${delivery!.id}`;
    await subgraph.sql`select pg_notify('messaging_deliveries', '')`;
    await settled(order.id);
    expect(await capturedOf(delivery!.id)).toHaveLength(1);
    const attempts = await subgraph.sql`
      select attempt from messaging.delivery_attempts where delivery_id = ${delivery!.id} order by attempt`;
    expect(attempts).toEqual([{ attempt: 1 }, { attempt: 2 }]);
  });

  it('captures what billing and orders say of the sandbox’s orders by order or event alone', async () => {
    const buyer = newAddress();
    const eventId = uuidv7();
    const order = paid(SANDBOX, buyer, eventId);
    await publish(order);
    await consumerCaughtUp(jsm, subgraph, 'order-book-paid');
    const failed = newEvent(paymentFailed, uuidv7(), 1, {
      paymentId: uuidv7(),
      orderId: order.aggregateId,
      failureCode: 'card_declined',
      failureMessage: 'Declined in the sandbox.',
    });
    const fromTicketId = uuidv7();
    const toTicketId = uuidv7();
    const transferred = newEvent(ticketTransferred, toTicketId, 1, {
      fromTicketId,
      toTicketId,
      eventId,
      fromEmail: buyer,
      toEmail: newAddress(),
      toName: null,
      eventTitle: 'Sandbox Jazz',
      sealedToken: testLinkTokens.seal('transfer-token', toTicketId),
    });
    await publish(failed);
    await publish(transferred);
    for (const event of [failed, transferred]) {
      const rows = await settled(event.id);
      expect(rows.map((row) => [row.status, row.organization_id])).toEqual([['CAPTURED', SANDBOX]]);
    }
  });

  it('sends account mail (an invitation to the sandbox) as usual', async () => {
    const email = newAddress();
    const invitationId = uuidv7();
    const invitation = newEvent(invitationCreated, invitationId, 1, {
      invitationId,
      organizationId: SANDBOX,
      organizationName: 'Sandbox',
      inviterName: 'Amra',
      email,
      role: 'STAFF',
      sealedToken: testLinkTokens.seal('inv-token', invitationId),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await publish(invitation);
    await smtp.waitForMessage((mail) => mail.envelope.to.includes(email));
    expect((await settled(invitation.id)).map((row) => row.status)).toEqual(['SENT']);
  });

  it('tells no follower of a test-mode organization about its published event', async () => {
    const follower = uuidv7();
    await subgraph.sql`insert into messaging.follows (user_id, organization_id) values (${follower}, ${SANDBOX}), (${follower}, ${LIVE})`;
    const announce = (organizationId: string) => {
      const eventId = uuidv7();
      return newEvent(eventPublished, eventId, 1, {
        eventId,
        organizationId,
        title: 'Fan-out check',
        visibility: 'PUBLIC',
        startsAt: '2027-05-14T18:30:00.000Z',
        endsAt: '2027-05-14T22:00:00.000Z',
        timezone: 'Europe/Sarajevo',
        venue: null,
        onlineUrl: null,
      });
    };
    const sandboxEvent = announce(SANDBOX);
    const liveEvent = announce(LIVE);
    await publish(sandboxEvent);
    await publish(liveEvent);
    await consumerCaughtUp(jsm, subgraph, 'event-published-followers');
    const notified = await subgraph.sql`
      select source_event_id from messaging.notifications where recipient_id = ${follower}`;
    expect(notified).toEqual([{ source_event_id: liveEvent.id }]);
  });
});

describe('testMessages', () => {
  let captured: string[];
  beforeAll(async () => {
    // Three more messages of the sandbox, one of the other test-mode organization.
    const orders = [paid(SANDBOX, newAddress()), paid(SANDBOX, newAddress()), paid(SANDBOX, newAddress())];
    const other = paid(OTHER, newAddress());
    for (const order of [...orders, other]) await publish(order);
    for (const order of [...orders, other]) await settled(order.id);
    captured = (
      await subgraph.sql<Array<{ id: string }>>`
        select id from messaging.test_messages where organization_id = ${SANDBOX}
        order by captured_at desc, id desc`
    ).map((row) => row.id);
  });

  it('pages through the sandbox’s messages, newest first, for its API keys and members', async () => {
    for (const caller of [callers.sandboxKey, callers.sandboxStaff]) {
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const { data, errors } = await testMessages(caller, { organizationId: SANDBOX, first: 2, after });
        expect(errors).toBeUndefined();
        const page = data!.testMessages;
        seen.push(...page.edges.map((edge) => edge.node.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen).toEqual(captured);
      expect(seen.length).toBeGreaterThanOrEqual(5);
      const { data } = await testMessages(caller, { organizationId: SANDBOX, first: 100 });
      expect(new Set(data!.testMessages.edges.map((edge) => edge.node.kind))).toEqual(
        new Set(['ORDER_CONFIRMED', 'PAYMENT_FAILED', 'TICKET_TRANSFER']),
      );
    }
  });

  it.each([
    ['anonymous', SANDBOX, 'UNAUTHENTICATED'],
    ['customer', SANDBOX, 'FORBIDDEN'],
    ['otherOwner', SANDBOX, 'FORBIDDEN'],
    ['otherKey', SANDBOX, 'FORBIDDEN'],
    // A live membership alone (a token that does not carry the sandbox) reads nothing of it…
    ['liveOwner', SANDBOX, 'FORBIDDEN'],
    ['liveKey', SANDBOX, 'FORBIDDEN'],
    // …and a live organization has no test messages at all.
    ['liveOwner', LIVE, 'FORBIDDEN'],
    ['liveKey', LIVE, 'FORBIDDEN'],
  ] as const)('refuses %s reading %s’s messages: %s', async (caller, organizationId, code) => {
    const { data, errors } = await testMessages(callers[caller], { organizationId });
    expect(data).toBeNull();
    expect(errors?.map((error) => error.extensions?.code)).toEqual([code]);
    expect(JSON.stringify(errors)).not.toContain('@example.test');
  });

  it('answers tampered cursors and page sizes with BAD_USER_INPUT', async () => {
    const forged = Buffer.from(JSON.stringify({ k: '{"at":"nonsense","id":"x"}' })).toString('base64url');
    for (const variables of [{ after: 'not-a-cursor' }, { after: forged }, { first: 0 }, { first: 10_000 }]) {
      const { errors } = await testMessages(callers.sandboxKey, { organizationId: SANDBOX, ...variables });
      expect(errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('forgets messages after 7 days', async () => {
    const [oldest, ...rest] = [...captured].reverse();
    await subgraph.sql`
      update messaging.test_messages set captured_at = now() - interval '7 days 1 minute' where id = ${oldest!}`;
    expect(await sweepTestMessages(sweeper.db)).toBe(1);
    const left = await subgraph.sql<Array<{ id: string }>>`
      select id from messaging.test_messages where organization_id = ${SANDBOX}`;
    expect(left.map((row) => row.id).sort()).toEqual([...rest].sort());
    expect(await sweepTestMessages(sweeper.db)).toBe(0);
  });
});
