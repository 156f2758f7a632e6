import { orderPaid, ticketTransferred, waitingListOffered } from '@bilten/contracts/orders';
import { newEvent } from '@bilten/platform';
import {
  type ReceivedMail,
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
import { messagingSubgraph } from '../src/server.ts';

const GATEWAY = 'https://gateway.example';

let smtp: TestSmtpServer;
let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    env: { SMTP_URL: smtp.url, PUBLIC_GATEWAY_URL: `${GATEWAY}/` },
    consumers: { maxDeliveries: 2 },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
  await smtp?.stop();
});

/** Resolves once the durable consumer has nothing pending or unacknowledged. */
async function caughtUp(consumer: string) {
  await waitFor(async () => {
    const info = await jsm.consumers.info(subgraph.testBus.stream!, `messaging-${consumer}`);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
}

const newAddress = () => `${uuidv7()}@example.test`;
const mailsTo = (address: string) => smtp.messages.filter((mail) => mail.envelope.to.includes(address));
const mailTo = (address: string) => smtp.waitForMessage((mail) => mail.envelope.to.includes(address));
const ticketLink = (ticketId: string, token: string) =>
  `${GATEWAY}/tickets/${ticketId}.pdf?token=${encodeURIComponent(token)}`;
const sentRows = (eventId: string) =>
  subgraph.sql`select recipient, template from messaging.sent_emails where event_id = ${eventId}`;

function expectLink(mail: ReceivedMail, link: string) {
  expect(mail.parsed.text).toContain(link);
  expect(mail.parsed.html).toContain(`href="${link.replaceAll('&', '&amp;')}"`);
}

/** Tokens as orders makes them: random, with characters a URL must encode. */
const newToken = () => `t+${uuidv7()}/=`;

describe("mail for orders' events, over SMTP", () => {
  it('mails the buyer of a paid order one link per ticket, once', async () => {
    const buyerEmail = newAddress();
    const tickets = [uuidv7(), uuidv7()].map((ticketId) => ({ ticketId, token: newToken() }));
    const orderId = uuidv7();
    const event = newEvent(orderPaid, orderId, 1, {
      orderId,
      eventId: uuidv7(),
      buyerEmail,
      buyerName: 'Ana Kovač',
      eventTitle: 'Sarajevo <Jazz> Night',
      tickets: tickets.map(({ ticketId, token }) => ({
        ticketId,
        sealedToken: testLinkTokens.seal(token, ticketId),
      })),
      total: { amount: 5000, currency: 'EUR' },
    });
    await subgraph.testBus.bus.publish(event);
    // Redelivered: the inbox and sent_emails let it through once.
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(buyerEmail);
    expect(mail.parsed.subject).toBe('Your tickets for Sarajevo <Jazz> Night');
    expect(mail.parsed.to).toMatchObject({ value: [{ address: buyerEmail, name: 'Ana Kovač' }] });
    expect(mail.parsed.text).toContain('2 tickets for Sarajevo <Jazz> Night, €50.00 paid');
    for (const { ticketId, token } of tickets) expectLink(mail, ticketLink(ticketId, token));
    // The organizer's title is text, never markup.
    expect(mail.parsed.html).toContain('Sarajevo &lt;Jazz&gt; Night');
    expect(mail.parsed.html).not.toContain('<Jazz>');
    await caughtUp('order-tickets-mail');
    expect(await sentRows(event.id)).toEqual([{ recipient: buyerEmail, template: 'order-tickets' }]);
    expect(mailsTo(buyerEmail)).toHaveLength(1);
  });

  it("mails a transferred ticket's new holder its link", async () => {
    const toEmail = newAddress();
    const toTicketId = uuidv7();
    const token = newToken();
    const event = newEvent(ticketTransferred, toTicketId, 1, {
      fromTicketId: uuidv7(),
      toTicketId,
      eventId: uuidv7(),
      fromEmail: 'ana@example.com',
      toEmail,
      toName: 'Mirza\r\nBcc: victim@example.com',
      eventTitle: 'Sarajevo Jazz Night',
      sealedToken: testLinkTokens.seal(token, toTicketId),
    });
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(toEmail);
    // Header injection through the name goes nowhere: one line, one recipient.
    expect(mail.envelope.to).toEqual([toEmail]);
    expect(mail.parsed.to).toMatchObject({ value: [{ address: toEmail }] });
    expect(mail.parsed.subject).toBe('A ticket for Sarajevo Jazz Night is yours');
    expect(mail.parsed.text).toContain('ana@example.com gave you their ticket for Sarajevo Jazz Night');
    expectLink(mail, ticketLink(toTicketId, token));
  });

  it('mails a waiting-list offer with the reservation to check out and its expiry', async () => {
    const email = newAddress();
    const entryId = uuidv7();
    const reservationId = uuidv7();
    const expiresAt = new Date(Date.now() + 10 * 60_000);
    const event = newEvent(waitingListOffered, entryId, 1, {
      entryId,
      eventId: uuidv7(),
      userId: uuidv7(),
      email,
      reservationId,
      quantity: 2,
      eventTitle: 'Sarajevo Jazz Night',
      expiresAt: expiresAt.toISOString(),
    });
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(email);
    expect(mail.parsed.subject).toBe('Tickets for Sarajevo Jazz Night are waiting for you');
    expect(mail.parsed.text).toContain(
      `2 tickets for Sarajevo Jazz Night are set aside for you until ${expiresAt.toUTCString()}`,
    );
    expect(mail.parsed.text).toContain(`check out reservation ${reservationId}`);
    await waitFor(async () => (await sentRows(event.id)).length === 1);
    expect(await sentRows(event.id)).toEqual([{ recipient: email, template: 'waiting-list-offer' }]);
  });

  it('sends nothing for a ticket token sealed for another ticket, and dead-letters it', async () => {
    const toEmail = newAddress();
    const toTicketId = uuidv7();
    const event = newEvent(ticketTransferred, toTicketId, 1, {
      fromTicketId: uuidv7(),
      toTicketId,
      eventId: uuidv7(),
      fromEmail: 'ana@example.com',
      toEmail,
      toName: null,
      eventTitle: 'Sarajevo Jazz Night',
      sealedToken: testLinkTokens.seal(newToken(), uuidv7()),
    });
    await subgraph.testBus.bus.publish(event);
    const letter = await waitFor(async () =>
      (await subgraph.testBus.bus.listDeadLetters({ durableName: 'messaging-ticket-transfer-mail' })).find(
        (dead) => dead.eventId === event.id,
      ),
    );
    expect(letter.error).toMatch(/authenticate/);
    expect(mailsTo(toEmail)).toHaveLength(0);
  });
});
