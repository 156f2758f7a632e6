import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { captureLogs, startTestSmtpServer, type TestSmtpServer } from '@bilten/testkit';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailSender, type EmailSenderConfig } from '../src/adapters/mailer.ts';
import { DeliveryFailure, type OutgoingEmail } from '../src/domain/channels.ts';
import { messageIdOf } from '../src/domain/deliveries.ts';
import { closedPort, startRefusingSmtp } from './refusing-smtp.ts';

const FROM = 'Bilten <no-reply@bilten.test>';
const base: EmailSenderConfig = {
  NODE_ENV: 'test',
  SMTP_URL: undefined,
  SMTP_FALLBACK_URL: undefined,
  MAIL_FROM: FROM,
  DKIM_DOMAIN: undefined,
  DKIM_SELECTOR: undefined,
  DKIM_PRIVATE_KEY: undefined,
};

let counter = 0;
const email = (overrides: Partial<OutgoingEmail> = {}): OutgoingEmail => ({
  to: { name: 'Amra Hodžić', address: `amra${++counter}@example.test` },
  subject: 'Your tickets',
  text: 'Open https://gateway.example/tickets/1.pdf?token=secret-token',
  html: '<p>Your tickets</p>',
  messageId: `<${counter}-message@bilten.test>`,
  attachments: [],
  ...overrides,
});

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (err: unknown) => err as DeliveryFailure & { transport: string },
  );

let smtp: TestSmtpServer;
let files: Server;
let filesUrl: string;
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(2048, 7)]);

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  files = createServer((request, response) => {
    if (request.url === '/ticket.pdf')
      return response.writeHead(200, { 'content-type': 'application/pdf' }).end(PDF);
    if (request.url === '/huge.pdf') {
      response.writeHead(200, { 'content-type': 'application/pdf' });
      // Streamed without a length, so only counting the bytes can stop it.
      for (let i = 0; i < 6; i++) response.write(Buffer.alloc(1024 * 1024));
      return response.end();
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
});

afterAll(async () => {
  await smtp?.stop();
  await new Promise<void>((resolve) => files?.close(() => resolve()));
});

describe('email sender', () => {
  it("names each delivery by a Message-ID in the sender's domain", () => {
    expect(messageIdOf('0193', 'Bilten <no-reply@mail.bilten.example>')).toBe('<0193@mail.bilten.example>');
    expect(messageIdOf('0193', 'tickets@bilten.example')).toBe('<0193@bilten.example>');
  });

  it('sends over SMTP_URL with the given Message-ID and the RFC 8058 headers when there is an opt-out link', async () => {
    const { log } = captureLogs();
    const sender = createEmailSender({ ...base, SMTP_URL: smtp.url }, log);
    const unsubscribeUrl = 'https://gateway.example/unsubscribe?token=abc.def';
    const mail = email({ unsubscribeUrl });
    const sent = await sender.send(mail);
    expect(sent).toMatchObject({ transport: 'smtp', providerMessageId: mail.messageId });
    const received = await smtp.waitForMessage((m) => m.parsed.messageId === mail.messageId);
    expect(received.envelope.to).toEqual([mail.to.address]);
    expect(received.raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
    expect(received.raw).toContain(`List-Unsubscribe: <${unsubscribeUrl}>`);

    const transactional = email();
    await sender.send(transactional);
    const plain = await smtp.waitForMessage((m) => m.parsed.messageId === transactional.messageId);
    expect(plain.raw).not.toMatch(/List-Unsubscribe/i);
  });

  it('sends through the fallback at once when the primary refuses connections, and rests the primary after three failures', async () => {
    const { log, lines } = captureLogs();
    let now = 1_000_000;
    const sender = createEmailSender(
      { ...base, SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`, SMTP_FALLBACK_URL: smtp.url },
      log,
      () => now,
    );
    const details: string[] = [];
    for (let i = 0; i < 4; i++) {
      const mail = email();
      const sent = await sender.send(mail);
      expect(sent.transport).toBe('smtp-fallback');
      await smtp.waitForMessage((m) => m.parsed.messageId === mail.messageId);
      details.push(sent.detail);
    }
    expect(
      details
        .slice(0, 3)
        .every((detail) => detail.startsWith('primary failed (ESOCKET connect ECONNREFUSED')),
    ).toBe(true);
    expect(details[3]).toBe('primary resting after repeated failures; fallback accepted');
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'primary SMTP keeps failing: fallback takes over' }),
    );
    // A minute later the primary is tried again.
    now += 60_000;
    expect((await sender.send(email())).detail).toMatch(/^primary failed \(ESOCKET connect ECONNREFUSED/);
  });

  it('fails transiently when every transport is unreachable', async () => {
    const { log } = captureLogs();
    const down = `smtp://127.0.0.1:${await closedPort()}`;
    const failure = await failureOf(
      createEmailSender({ ...base, SMTP_URL: down, SMTP_FALLBACK_URL: down }, log).send(email()),
    );
    expect(failure).toBeInstanceOf(DeliveryFailure);
    expect(failure).toMatchObject({ permanent: false, transport: 'smtp-fallback' });
    expect(failure.message).toMatch(
      /^primary failed \(ESOCKET connect ECONNREFUSED .*\); fallback: ESOCKET connect ECONNREFUSED/,
    );
  });

  it('calls a 550 to the recipient a bounce, another 5xx permanent, a 451 transient, with no address in the detail', async () => {
    const { log } = captureLogs();
    const refusing = await startRefusingSmtp();
    try {
      const sender = createEmailSender({ ...base, SMTP_URL: refusing.url }, log);
      const bounce = await failureOf(
        sender.send(email({ to: { name: 'X', address: 'unknown@example.test' } })),
      );
      expect(bounce).toMatchObject({ permanent: true, addressProblem: 'BOUNCE', transport: 'smtp' });
      expect(bounce.message).toContain('550');
      expect(bounce.message).not.toContain('unknown@example.test');

      const refused = await failureOf(sender.send(email({ subject: 'reject this' })));
      expect(refused).toMatchObject({ permanent: true, addressProblem: undefined });
      expect(refused.message).toContain('554');
    } finally {
      await refusing.stop();
    }
    smtp.failNext(1);
    const later = await failureOf(createEmailSender({ ...base, SMTP_URL: smtp.url }, log).send(email()));
    expect(later).toMatchObject({ permanent: false });
    expect(later.message).toContain('451');
  });

  it('signs with DKIM when a key is configured, and the signature verifies', async () => {
    const { log } = captureLogs();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sender = createEmailSender(
      {
        ...base,
        SMTP_URL: smtp.url,
        DKIM_DOMAIN: 'bilten.test',
        DKIM_SELECTOR: 'mail2026',
        DKIM_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
      log,
    );
    const mail = email();
    await sender.send(mail);
    const received = await smtp.waitForMessage((m) => m.parsed.messageId === mail.messageId);
    const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
    const lookups: string[] = [];
    const result = await dkimVerify(received.raw, {
      resolver: async (name: string, type: string) => {
        lookups.push(`${type} ${name}`);
        if (type === 'TXT' && name === 'mail2026._domainkey.bilten.test') return [[record]];
        throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      },
    });
    expect(lookups).toContain('TXT mail2026._domainkey.bilten.test');
    expect(result.results).toHaveLength(1);
    expect(result.results[0]).toMatchObject({ signingDomain: 'bilten.test', status: { result: 'pass' } });

    // Changed on the way, it no longer verifies.
    const tampered = received.raw.replace('Subject: Your tickets', 'Subject: Your tickets!');
    const broken = await dkimVerify(tampered, { resolver: async () => [[record]] });
    expect(broken.results[0]?.status.result).toBe('fail');
  });

  it('attaches files fetched at send time; a file it cannot fetch is transient, one too large permanent', async () => {
    const { log } = captureLogs();
    const sender = createEmailSender({ ...base, SMTP_URL: smtp.url }, log);
    const mail = email({ attachments: [{ filename: 'ticket-1.pdf', url: `${filesUrl}/ticket.pdf` }] });
    await sender.send(mail);
    const received = await smtp.waitForMessage((m) => m.parsed.messageId === mail.messageId);
    expect(received.parsed.attachments).toHaveLength(1);
    expect(received.parsed.attachments[0]).toMatchObject({
      filename: 'ticket-1.pdf',
      contentType: 'application/pdf',
    });
    expect(Buffer.compare(received.parsed.attachments[0]!.content, PDF)).toBe(0);

    const before = smtp.messages.length;
    const missing = await failureOf(
      sender.send(email({ attachments: [{ filename: 'ticket-2.pdf', url: `${filesUrl}/gone.pdf` }] })),
    );
    expect(missing).toMatchObject({ permanent: false, transport: 'attachment' });
    expect(missing.message).toBe('attachment ticket-2.pdf not fetched: HTTP 404');
    const huge = await failureOf(
      sender.send(email({ attachments: [{ filename: 'ticket-3.pdf', url: `${filesUrl}/huge.pdf` }] })),
    );
    expect(huge).toMatchObject({ permanent: true, transport: 'attachment' });
    expect(smtp.messages.length).toBe(before);
  });

  it('without SMTP_URL writes mails to the log, and in production keeps their links out of info lines', async () => {
    const laptop = captureLogs();
    const mail = email();
    expect(await createEmailSender(base, laptop.log).send(mail)).toMatchObject({
      transport: 'log',
      providerMessageId: mail.messageId,
    });
    expect(laptop.lines).toContainEqual(
      expect.objectContaining({
        msg: 'mail written to the log (SMTP_URL unset)',
        links: ['https://gateway.example/tickets/1.pdf?token=secret-token'],
      }),
    );

    const production = captureLogs();
    await createEmailSender({ ...base, NODE_ENV: 'production' }, production.log).send(email());
    expect(production.lines).toContainEqual(
      expect.objectContaining({ msg: 'mail written to the log (SMTP_URL unset)', subject: 'Your tickets' }),
    );
    expect(JSON.stringify(production.lines)).not.toContain('secret-token');
  });
});
