import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { receiptIssued } from '@bilten/contracts/billing';
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
import { consumerCaughtUp } from './support.ts';

/** The gateway's ticket and receipt PDFs, which order mails attach when they are sent. */
let files: Server;
let GATEWAY: string;
let smtp: TestSmtpServer;
let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  files = createServer((request, response) => {
    if (/^\/(tickets|receipts)\/[^/]+\.pdf\?token=/.test(request.url ?? ''))
      response.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.4 test');
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  GATEWAY = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
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
  await new Promise((resolve) => files?.close(resolve));
});

const caughtUp = (consumer: string) => consumerCaughtUp(jsm, subgraph, consumer);

const newAddress = () => `${uuidv7()}@example.test`;
const mailsTo = (address: string) => smtp.messages.filter((mail) => mail.envelope.to.includes(address));
const mailTo = (address: string) => smtp.waitForMessage((mail) => mail.envelope.to.includes(address));
const ticketLink = (ticketId: string, token: string) =>
  `${GATEWAY}/tickets/${ticketId}.pdf?token=${encodeURIComponent(token)}`;
const receiptLink = (receiptId: string, token: string) =>
  `${GATEWAY}/receipts/${receiptId}.pdf?token=${encodeURIComponent(token)}`;
/** The deliveries queued for an event: one per channel and address, whatever redelivers. */
/** The event's deliveries once none is waiting any more (a mail is recorded SENT just after the server took it). */
const sentRows = (eventId: string) =>
  waitFor(async () => {
    const rows =
      await subgraph.sql`select kind, channel, status from messaging.deliveries where source_event_id = ${eventId}`;
    return rows.every((row) => row.status !== 'QUEUED') && rows;
  });

/** The same link in the text and the HTML, never behind a click redirect (it opens a ticket or receipt). */
function expectLink(mail: ReceivedMail, link: string) {
  expect(mail.parsed.text).toContain(link);
  expect(mail.parsed.html).toContain(`href="${link}"`);
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
      organizationId: uuidv7(),
      buyerId: null,
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
    // Redelivered: the inbox and the deliveries' uniqueness let it through once.
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
    // A guest buyer: email only.
    expect(await sentRows(event.id)).toEqual([{ kind: 'orderConfirmed', channel: 'EMAIL', status: 'SENT' }]);
    expect(mail.parsed.attachments.map((file) => file.contentType)).toEqual([
      'application/pdf',
      'application/pdf',
    ]);
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
    expect(mail.parsed.text).toContain('2 tickets for Sarajevo Jazz Night are set aside for you until');
    expect(mail.parsed.text).toContain(`check out reservation ${reservationId}`);
    await waitFor(async () => (await sentRows(event.id)).some((row) => row.status === 'SENT'));
    // Its user has no push subscription and no phone: the email and the in-app notice.
    expect(await sentRows(event.id)).toEqual([
      { kind: 'waitingListOffer', channel: 'EMAIL', status: 'SENT' },
    ]);
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

describe("mail for billing's receipts, over SMTP", () => {
  /** A receiptIssued as billing publishes it, its link token sealed for the receipt's id. */
  function issued(
    kind: 'RECEIPT' | 'CREDIT_NOTE',
    overrides: { sealedFor?: string; total?: { amount: number; currency: string }; sellerName?: string } = {},
  ) {
    const receiptId = uuidv7();
    const buyerEmail = newAddress();
    const token = newToken();
    const event = newEvent(receiptIssued, receiptId, 1, {
      receiptId,
      orderId: uuidv7(),
      organizationId: uuidv7(),
      kind,
      number: kind === 'RECEIPT' ? 'SEVDAH-2026-000123' : 'SEVDAH-CN-2026-000007',
      sellerName: overrides.sellerName ?? 'Sevdah Večeri',
      buyerEmail,
      eventTitle: 'Sarajevo Jazz Night',
      total: overrides.total ?? { amount: 6652, currency: 'EUR' },
      sealedLinkToken: testLinkTokens.seal(token, overrides.sealedFor ?? receiptId),
    });
    return { event, receiptId, buyerEmail, token };
  }

  it("mails the buyer the receipt's PDF link, once", async () => {
    const { event, receiptId, buyerEmail, token } = issued('RECEIPT');
    await subgraph.testBus.bus.publish(event);
    // Redelivered: the inbox and the deliveries' uniqueness let it through once.
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(buyerEmail);
    expect(mail.parsed.subject).toBe('Your receipt SEVDAH-2026-000123 from Sevdah Večeri');
    expect(mail.parsed.text).toContain(
      'Thank you for your payment of €66.52 to Sevdah Večeri for Sarajevo Jazz Night. Your receipt SEVDAH-2026-000123 is ready.',
    );
    expectLink(mail, receiptLink(receiptId, token));
    await caughtUp('receipt-mail');
    expect(await sentRows(event.id)).toEqual([{ kind: 'receipt', channel: 'EMAIL', status: 'SENT' }]);
    expect(mailsTo(buyerEmail)).toHaveLength(1);
  });

  it("mails a refund's credit note, in the currency's own decimals", async () => {
    const { event, receiptId, buyerEmail, token } = issued('CREDIT_NOTE', {
      total: { amount: 2500, currency: 'JPY' },
    });
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(buyerEmail);
    expect(mail.parsed.subject).toBe('Your credit note SEVDAH-CN-2026-000007 from Sevdah Večeri');
    // Yen have no minor units: 2500 is ¥2,500, not ¥25.00.
    expect(mail.parsed.text).toMatch(
      /Sevdah Večeri refunded (JP)?¥2,500 of your order for Sarajevo Jazz Night\. Your credit note SEVDAH-CN-2026-000007 is ready\./,
    );
    expectLink(mail, receiptLink(receiptId, token));
  });

  it("keeps a seller's name to one line of text in the subject and the body", async () => {
    const { event, buyerEmail } = issued('RECEIPT', { sellerName: '<b>Evil</b>\r\nBcc: victim@example.com' });
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(buyerEmail);
    expect(mail.envelope.to).toEqual([buyerEmail]);
    expect(mail.parsed.subject).toBe(
      'Your receipt SEVDAH-2026-000123 from <b>Evil</b> Bcc: victim@example.com',
    );
    expect(mail.parsed.html).toContain('&lt;b&gt;Evil&lt;/b&gt;');
    expect(mail.parsed.html).not.toContain('<b>Evil');
  });

  it('sends nothing for a link token sealed for another receipt, and dead-letters it', async () => {
    const { event, buyerEmail } = issued('RECEIPT', { sealedFor: uuidv7() });
    await subgraph.testBus.bus.publish(event);
    const letter = await waitFor(async () =>
      (await subgraph.testBus.bus.listDeadLetters({ durableName: 'messaging-receipt-mail' })).find(
        (dead) => dead.eventId === event.id,
      ),
    );
    expect(letter.error).toMatch(/authenticate/);
    expect(mailsTo(buyerEmail)).toHaveLength(0);
  });
});
