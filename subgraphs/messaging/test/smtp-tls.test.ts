/**
 * SMTP over TLS with a private CA (SMTP_TLS_CA_FILE): a real smtps:// server with a throw-away
 * certificate, whose certificate is verified, never waved through.
 */
import { captureLogs } from '@bilten/testkit';
import { createTestCertificates, type TestCertificates } from '@bilten/testkit/tls';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEmailSender, type EmailSenderConfig } from '../src/adapters/mailer.ts';
import type { OutgoingEmail } from '../src/domain/channels.ts';

let certs: TestCertificates;
let server: SMTPServer;
let url: string;
const received: string[] = [];

const base: EmailSenderConfig = {
  NODE_ENV: 'test',
  SMTP_URL: undefined,
  SMTP_FALLBACK_URL: undefined,
  MAIL_FROM: 'Bilten <no-reply@bilten.test>',
  DKIM_DOMAIN: undefined,
  DKIM_SELECTOR: undefined,
  DKIM_PRIVATE_KEY: undefined,
};

const email = (n: number): OutgoingEmail => ({
  to: { name: 'Amra', address: `amra${n}@example.test` },
  subject: 'Your tickets',
  text: 'Hello',
  html: '<p>Hello</p>',
  messageId: `<${n}-tls@bilten.test>`,
  attachments: [],
});

beforeAll(async () => {
  certs = createTestCertificates();
  server = new SMTPServer({
    secure: true,
    cert: certs.server.cert,
    key: certs.server.key,
    authOptional: true,
    logger: false,
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        received.push(session.envelope.rcptTo.map((rcpt) => rcpt.address).join(','));
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // The clients refused below hang up mid-handshake, which the server reports as an error.
  server.on('error', () => {});
  url = `smtps://localhost:${(server.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  certs?.remove();
});

it('sends over smtps:// to a server whose certificate the SMTP_TLS_CA_FILE CA signed', async () => {
  const sender = createEmailSender(
    { ...base, SMTP_URL: url, SMTP_TLS_CA_FILE: certs.ca.certFile },
    captureLogs('smtp-tls').log,
  );
  await expect(sender.send(email(1))).resolves.toMatchObject({ transport: 'smtp' });
  expect(received).toContain('amra1@example.test');
});

it('refuses the server without that CA, or with another one: nothing is sent', async () => {
  for (const ca of [undefined, certs.otherCa.certFile]) {
    const sender = createEmailSender(
      { ...base, SMTP_URL: url, SMTP_TLS_CA_FILE: ca },
      captureLogs('smtp-tls').log,
    );
    await expect(sender.send(email(2))).rejects.toMatchObject({
      permanent: false,
      message: expect.stringMatching(/certificate|verify/i),
    });
  }
  expect(received).not.toContain('amra2@example.test');
});

it('names SMTP_TLS_CA_FILE when the file cannot be read', () => {
  expect(() =>
    createEmailSender(
      { ...base, SMTP_URL: url, SMTP_TLS_CA_FILE: '/nonexistent/ca.pem' },
      captureLogs('x').log,
    ),
  ).toThrow(/SMTP_TLS_CA_FILE: cannot read/);
});
