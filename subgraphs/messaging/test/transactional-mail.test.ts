import {
  addressClaimAttempted,
  emailVerificationRequested,
  invitationCreated,
  passwordResetRequested,
  userRegistered,
} from '@bilten/contracts/identity';
import { defineEvent, newEvent } from '@bilten/platform';
import {
  captureLogs,
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
import { z } from 'zod';
import { createEmailSender } from '../src/adapters/mailer.ts';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp, consumerDeliveries } from './support.ts';

const WEB = 'https://tickets.example/app';
const HOUR = 3_600_000;

let smtp: TestSmtpServer;
/** Messaging on JetStream, sending to the test SMTP server. */
let subgraph: TestSubgraph;
/** Messaging on the in-process bus with no SMTP_URL: the laptop set-up. */
let laptop: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;
/** Event ids whose first commit "loses" its ack, as if the process died right after COMMIT. */
const loseAckOnce = new Set<string>();
const ackLosses: string[] = [];
/** Every event the laptop's consumers handled (applied or found in the inbox). */
const laptopHandled: string[] = [];

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    // Retries of the delivery worker come quickly here, and it gives up after the third attempt.
    env: {
      SMTP_URL: smtp.url,
      PUBLIC_WEB_URL: `${WEB}/`,
      DELIVERY_POLL_MS: '50',
      DELIVERY_RETRY_BASE_MS: '20',
      DELIVERY_MAX_ATTEMPTS: '3',
    },
    consumers: {
      maxDeliveries: 4,
      loseAckAfterCommit: (event) => {
        ackLosses.push(event.id);
        return loseAckOnce.delete(event.id);
      },
    },
  });
  laptop = await startTestSubgraph(messagingSubgraph, 'in-process', {
    env: {},
    consumers: {
      loseAckAfterCommit: (event) => {
        laptopHandled.push(event.id);
        return false;
      },
    },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
  await laptop?.dispose();
  await subgraph?.dispose();
  await smtp?.stop();
});

// ---------------------------------------------------------------- helpers

const newAddress = () => `${uuidv7()}@example.test`;
const inHours = (hours: number) => new Date(Date.now() + hours * HOUR).toISOString();
const mailsTo = (address: string) => smtp.messages.filter((mail) => mail.envelope.to.includes(address));
const mailTo = (address: string, timeoutMs?: number) =>
  smtp.waitForMessage((mail) => mail.envelope.to.includes(address), timeoutMs);

/** The dead letter of `eventId` on `durableName`, once there is one. */
const deadLetterOf = (durableName: string, eventId: string) =>
  waitFor(async () => {
    const letters = await subgraph.testBus.bus.listDeadLetters({ durableName });
    return letters.find((letter) => letter.eventId === eventId);
  });

const caughtUp = (consumer: string) => consumerCaughtUp(jsm, subgraph, consumer);

const deliveries = (consumer: string) => consumerDeliveries(jsm, subgraph, consumer);

/** The mails queued for an event (the delivery worker sends them): one per address, whatever redelivers. */
const sentEmailRows = (sql: TestSubgraph['sql'], eventId: string) =>
  sql`select id, kind, channel, status, attempts, provider_message_id from messaging.deliveries
      where source_event_id = ${eventId}`;
/** Once the worker has recorded how the event's mail ended. */
const settledRows = (sql: TestSubgraph['sql'], eventId: string) =>
  waitFor(async () => {
    const rows = await sentEmailRows(sql, eventId);
    return rows.length > 0 && rows.every((row) => row.status !== 'QUEUED') && rows;
  });

/** The plain token of a link, as messaging opens it from the event (identity seals it). */
const tokenOf = (payload: { sealedToken: string; userId?: string; invitationId?: string }) =>
  testLinkTokens.open(payload.sealedToken, payload.invitationId ?? payload.userId!);

function registration(overrides: Partial<z.input<typeof userRegistered.payload>> = {}) {
  const userId = uuidv7();
  const payload = {
    userId,
    email: newAddress(),
    displayName: 'Amra Hadžić',
    sealedToken: testLinkTokens.seal(`v-${uuidv7()}/+=`, userId),
    expiresAt: inHours(24),
    ...overrides,
  };
  return newEvent(userRegistered, userId, 1, payload);
}

function passwordReset() {
  const userId = uuidv7();
  return newEvent(passwordResetRequested, userId, 1, {
    userId,
    email: newAddress(),
    displayName: 'Amra',
    sealedToken: testLinkTokens.seal(`r-${uuidv7()}`, userId),
    expiresAt: inHours(1),
  });
}

const linkFor = (path: string, token: string) => `${WEB}${path}?token=${encodeURIComponent(token)}`;

/** The same link in the text and the HTML; never behind a click redirect (it carries a secret). */
function expectOneLink(mail: ReceivedMail, link: string) {
  expect(mail.parsed.text).toContain(link);
  expect(mail.parsed.html).toContain(`href="${link}"`);
  expect(mail.parsed.html).not.toMatch(/\/t\/[co]\//);
}

// ---------------------------------------------------------------- the three mails

describe('mail for identity events, over SMTP', () => {
  it('sends one "confirm your email" mail for bilten.identity.user.registered', async () => {
    const event = registration();
    const { email } = event.payload;
    const verificationToken = tokenOf(event.payload);
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(email);
    expect(mail.envelope.to).toEqual([email]);
    expect(mail.parsed.to).toMatchObject({ value: [{ address: email, name: 'Amra Hadžić' }] });
    expect(mail.parsed.from?.value).toEqual([{ address: 'no-reply@bilten.local', name: 'Bilten' }]);
    expect(mail.parsed.subject).toBe('Confirm your email address');
    expectOneLink(mail, linkFor('/verify-email', verificationToken));
    expect(mail.parsed.text).toContain('expires in 24 hours');
    expect(mail.parsed.text).toContain('Welcome to Bilten');

    await caughtUp('registration-mail');
    expect(mailsTo(email)).toHaveLength(1);
    const rows = await settledRows(subgraph.sql, event.id);
    expect(rows).toEqual([
      expect.objectContaining({ kind: 'emailVerification', channel: 'EMAIL', status: 'SENT' }),
    ]);
    // A stable Message-ID per delivery: a resend after a crash is recognisably the same mail.
    expect(mail.parsed.messageId).toBe(`<${rows[0]!.id}@bilten.local>`);
    expect(rows[0]!.provider_message_id).toBe(mail.parsed.messageId);
  });

  it('sends one "confirm this address" mail for bilten.identity.email_verification.requested', async () => {
    const userId = uuidv7();
    const token = `v-${uuidv7()}`;
    const email = newAddress();
    const event = newEvent(emailVerificationRequested, userId, 2, {
      userId,
      email,
      displayName: 'Amra',
      sealedToken: testLinkTokens.seal(token, userId),
      expiresAt: inHours(24),
    });
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(email);
    expect(mail.parsed.subject).toBe('Confirm your email address');
    expect(mail.parsed.text).toContain('confirm that this email address belongs to your Bilten account');
    expect(mail.parsed.text).toContain('expires in 24 hours');
    expectOneLink(mail, linkFor('/verify-email', token));
    await caughtUp('verification-mail');
    expect(mailsTo(email)).toHaveLength(1);
    expect(await settledRows(subgraph.sql, event.id)).toHaveLength(1);
  });

  it('sends one "reset your password" mail for bilten.identity.password_reset.requested', async () => {
    const event = passwordReset();
    const { email } = event.payload;
    const resetToken = tokenOf(event.payload);
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(email);
    expect(mail.parsed.subject).toBe('Reset your Bilten password');
    expectOneLink(mail, linkFor('/reset-password', resetToken));
    expect(mail.parsed.text).toContain('expires in 1 hour.');
    expect(mail.parsed.text).toContain("If it wasn't you, ignore this email");
    await caughtUp('password-reset-mail');
    expect(mailsTo(email)).toHaveLength(1);
    expect(await settledRows(subgraph.sql, event.id)).toEqual([
      expect.objectContaining({ kind: 'passwordReset', status: 'SENT' }),
    ]);
  });

  it('sends one "join the team" mail for bilten.identity.invitation.created', async () => {
    const invitationId = uuidv7();
    const event = newEvent(invitationCreated, invitationId, 1, {
      invitationId,
      organizationId: uuidv7(),
      organizationName: 'Sarajevo <Jazz>',
      inviterName: 'Amra',
      email: newAddress(),
      role: 'ADMIN',
      sealedToken: testLinkTokens.seal(`bin_${uuidv7()}`, invitationId),
      expiresAt: inHours(7 * 24),
    });
    const { email } = event.payload;
    const token = tokenOf(event.payload);
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(email);
    expect(mail.envelope.to).toEqual([email]);
    expect(mail.parsed.subject).toBe('Join Sarajevo <Jazz> on Bilten');
    expectOneLink(mail, linkFor('/accept-invitation', token));
    expect(mail.parsed.text).toContain(
      'Amra invited you to join Sarajevo <Jazz> on Bilten as an administrator.',
    );
    expect(mail.parsed.html).toContain('Sarajevo &lt;Jazz&gt;');
    expect(mail.parsed.text).toContain('expires in 7 days');
    await caughtUp('invitation-mail');
    expect(mailsTo(email)).toHaveLength(1);
    expect(await settledRows(subgraph.sql, event.id)).toEqual([
      expect.objectContaining({ kind: 'invitation', status: 'SENT' }),
    ]);
  });

  it('sends one "someone tried to use your address" notice for bilten.identity.user.address_claim_attempted', async () => {
    const userId = uuidv7();
    const email = newAddress();
    const event = newEvent(addressClaimAttempted, userId, 1, {
      userId,
      email,
      displayName: 'Amra',
      attempt: 'sign_up',
    });
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(email);
    expect(mail.envelope.to).toEqual([email]);
    expect(mail.parsed.subject).toBe('Someone tried to use your email address on Bilten');
    expect(mail.parsed.text).toContain('Someone tried to create a Bilten account with this email address.');
    expect(mail.parsed.html).not.toContain('href=');
    await caughtUp('address-in-use-mail');
    expect(mailsTo(email)).toHaveLength(1);
    expect(await settledRows(subgraph.sql, event.id)).toEqual([
      expect.objectContaining({ kind: 'addressInUse', status: 'SENT' }),
    ]);
  });

  it('escapes a hostile display name in HTML and keeps it out of the headers', async () => {
    const displayName = '<script>alert("x")</script> & <b>Eve</b>\r\nBcc: victim@example.test';
    const event = registration({ displayName });
    const { email } = event.payload;
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(email);
    const html = mail.parsed.html as string;
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>Eve');
    expect(html).toContain('Hello &lt;script&gt;alert(');
    expect(html).toContain('&lt;/script&gt; &amp; &lt;b&gt;Eve&lt;/b&gt;');
    expect(mail.parsed.text).toContain('Hello <script>alert("x")</script> & <b>Eve</b>');
    // The name stays one display name: no Bcc header, no second recipient.
    expect(mail.envelope.to).toEqual([email]);
    expect(mail.parsed.headers.has('bcc')).toBe(false);
    expect(mail.raw).not.toMatch(/^bcc:/im);
    expect(mail.parsed.to).toMatchObject({ value: [{ address: email }] });
  });

  it('mails one address at most 10 times an hour, whichever events ask (mail bombing)', async () => {
    const email = newAddress();
    const events = Array.from({ length: 12 }, () => registration({ email }));
    for (const event of events) await subgraph.testBus.bus.publish(event);
    const rows = await Promise.all(events.map((event) => settledRows(subgraph.sql, event.id)));
    expect(mailsTo(email)).toHaveLength(10);
    expect(rows.flat().filter((row) => row.status === 'FAILED')).toHaveLength(2);
    const held = subgraph.logs.filter(
      (line) =>
        line.msg === 'mail not sent: its recipient had the most mails an hour allows' &&
        rows.flat().some((row) => row.id === line.deliveryId),
    );
    expect(held).toHaveLength(2);
    expect(JSON.stringify(held)).not.toContain(email);
  });

  it('never writes a token to the log when mail goes over SMTP', async () => {
    const event = passwordReset();
    await subgraph.testBus.bus.publish(event);
    await mailTo(event.payload.email);
    await caughtUp('password-reset-mail');
    const logged = JSON.stringify(subgraph.logs);
    expect(logged).toContain('delivery sent');
    expect(logged).not.toContain(tokenOf(event.payload));
    expect(logged).not.toContain(encodeURIComponent(tokenOf(event.payload)));
  });
});

// ---------------------------------------------------------------- exactly once, retries, dead letters

describe('exactly once', () => {
  it('sends one mail when the event is redelivered after its commit (ack lost)', async () => {
    // A reset: only its workflow consumes it, so the lost ack is the workflow's.
    const event = passwordReset();
    loseAckOnce.add(event.id);
    const before = await deliveries('password-reset-mail');
    await subgraph.testBus.bus.publish(event);

    await mailTo(event.payload.email);
    // Handled for real (ack lost), then again as a redelivery that found the inbox row.
    await waitFor(async () => ackLosses.filter((id) => id === event.id).length === 2);
    await caughtUp('password-reset-mail');
    expect((await deliveries('password-reset-mail')) - before).toBe(2);
    expect(mailsTo(event.payload.email)).toHaveLength(1);
    expect(await settledRows(subgraph.sql, event.id)).toHaveLength(1);
  });

  it('retries (the delivery, not the event) after the SMTP server answers 451 twice, then sends the mail once', async () => {
    const refusedBefore = smtp.refused;
    smtp.failNext(2);
    const event = passwordReset();
    await subgraph.testBus.bus.publish(event);

    const mail = await mailTo(event.payload.email);
    expect(smtp.refused - refusedBefore).toBe(2);
    expectOneLink(mail, linkFor('/reset-password', tokenOf(event.payload)));
    await caughtUp('password-reset-mail');
    expect(mailsTo(event.payload.email)).toHaveLength(1);
    expect(await settledRows(subgraph.sql, event.id)).toEqual([
      expect.objectContaining({ status: 'SENT', attempts: 3 }),
    ]);
    // The event itself went through at once: the queue, not the consumer, retries.
    expect(
      subgraph.logs.filter((line) => line.msg === 'event handling failed' && line.event === event.id),
    ).toHaveLength(0);
  });

  it('gives a mail the SMTP server keeps refusing up after the last attempt (FAILED), sending nothing', async () => {
    smtp.failNext(3);
    const event = passwordReset();
    await subgraph.testBus.bus.publish(event);

    expect(await settledRows(subgraph.sql, event.id)).toEqual([
      expect.objectContaining({ status: 'FAILED', attempts: 3 }),
    ]);
    smtp.failNext(0);
    expect(mailsTo(event.payload.email)).toHaveLength(0);
  });

  it('sends no mail for a token sealed for another account (moved or forged), and dead-letters it', async () => {
    const event = registration({ sealedToken: testLinkTokens.seal('stolen', uuidv7()) });
    await subgraph.testBus.bus.publish(event);
    const letter = await deadLetterOf('messaging-registration-mail', event.id);
    expect(letter.error).toMatch(/authenticate/);
    expect(mailsTo(event.payload.email)).toHaveLength(0);
  });

  it('dead-letters an event with a bad payload at once and sends nothing', async () => {
    // The same subject and version, but not the agreed payload (no token, a bad user id).
    const sloppy = defineEvent({
      type: userRegistered.type,
      version: userRegistered.version,
      aggregateType: 'user',
      payload: z.object({ userId: z.string(), email: z.string() }),
    });
    const email = newAddress();
    const event = newEvent(sloppy, uuidv7(), 1, { userId: 'not-a-uuid', email });
    await subgraph.testBus.bus.publish(event);

    const letter = await deadLetterOf('messaging-registration-mail', event.id);
    expect(letter.error).toMatch(/bad payload/);
    expect(letter.deliveryCount).toBe(1);
    await caughtUp('registration-mail');
    expect(mailsTo(email)).toHaveLength(0);
    expect(await sentEmailRows(subgraph.sql, event.id)).toHaveLength(0);
  });
});

// ---------------------------------------------------------------- without SMTP_URL

describe('without SMTP_URL (npm start on a laptop)', () => {
  const loggedMails = () =>
    laptop.logs.filter((line) => line.msg === 'mail written to the log (SMTP_URL unset)');

  it('says so at start-up', () => {
    expect(laptop.logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: 'SMTP_URL is not set: mails are written to the log, not sent',
      }),
    );
  });

  it('writes the mail (recipient, subject, link) to the log, once even when the event comes twice', async () => {
    const event = registration();
    const { email } = event.payload;
    const verificationToken = tokenOf(event.payload);
    // The in-process bus does not de-duplicate by id: both copies reach the consumer.
    await laptop.testBus.bus.publish(event);
    await laptop.testBus.bus.publish(event);

    // Twice by the mail consumer, twice by the address book.
    await waitFor(async () => laptopHandled.filter((id) => id === event.id).length === 4);
    expect(await settledRows(laptop.sql, event.id)).toHaveLength(1);
    expect(loggedMails().filter((line) => line.to === email)).toEqual([
      expect.objectContaining({
        level: 30,
        to: email,
        subject: 'Confirm your email address',
        links: expect.arrayContaining([
          `http://localhost:4000/account/verify-email?token=${encodeURIComponent(verificationToken)}`,
        ]),
      }),
    ]);
  });

  it('keeps the link out of info lines in production', async () => {
    const { log, lines } = captureLogs('messaging-test');
    const sender = createEmailSender(
      {
        NODE_ENV: 'production',
        SMTP_URL: undefined,
        SMTP_FALLBACK_URL: undefined,
        MAIL_FROM: 'Bilten <no-reply@bilten.local>',
        DKIM_DOMAIN: undefined,
        DKIM_SELECTOR: undefined,
        DKIM_PRIVATE_KEY: undefined,
      },
      log,
    );
    const event = registration();
    const link = linkFor('/verify-email', tokenOf(event.payload));
    await sender.send({
      to: { name: event.payload.displayName, address: event.payload.email },
      subject: 'Confirm your email address',
      text: `Confirm: ${link}`,
      html: `<a href="${link}">Confirm</a>`,
      messageId: '<x@y>',
      attachments: [],
    });
    expect(lines.filter((line) => line.level === 30)).toContainEqual(
      expect.objectContaining({ msg: 'mail written to the log (SMTP_URL unset)', to: event.payload.email }),
    );
    expect(JSON.stringify(lines.filter((line) => Number(line.level) >= 30))).not.toContain(
      tokenOf(event.payload),
    );
  });
});
