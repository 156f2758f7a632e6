import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './graphql.ts';

export interface ReceivedMail {
  /** The SMTP envelope (MAIL FROM, RCPT TO), which may differ from the headers. */
  envelope: { from: string | null; to: string[] };
  parsed: ParsedMail;
  /** The message exactly as it crossed the wire, for header-level checks. */
  raw: string;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>`, for SMTP_URL. */
  url: string;
  /** Every accepted message, in arrival order. */
  messages: ReceivedMail[];
  /** How many messages were answered 451 by `failNext`. */
  readonly refused: number;
  /** The first accepted message (already here or still to come) that matches. */
  waitForMessage(predicate?: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** Answers `451` (try again later) to the next `count` messages, after reading them. */
  failNext(count: number): void;
  stop(): Promise<void>;
}

/** A real SMTP server on a free loopback port: no TLS, any or no credentials accepted. */
export async function startTestSmtpServer(): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = [];
  let failures = 0;
  let refused = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth: (_auth, _session, callback) => callback(null, { user: 'test' }),
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        if (failures > 0) {
          failures--;
          refused++;
          callback(Object.assign(new Error('try again later'), { responseCode: 451 }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then((parsed) => {
          messages.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            },
            parsed,
            raw,
          });
          callback();
        }, callback);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    get refused() {
      return refused;
    },
    waitForMessage: (predicate = () => true, timeoutMs = 10_000) =>
      waitFor(async () => messages.find(predicate), timeoutMs),
    failNext(count) {
      failures = count;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The `token` parameter of the link to `path` (e.g. `/verify-email`) in a mail's text part: what
 * the recipient would click. Throws when the mail has no such link.
 */
export function linkTokenOf(mail: ReceivedMail, path: string): string {
  for (const [address] of (mail.parsed.text ?? '').matchAll(/https?:\/\/\S+/g)) {
    const link = new URL(address);
    const token = link.searchParams.get('token');
    if (link.pathname.endsWith(path) && token) return token;
  }
  throw new Error(`no ${path} link with a token in "${mail.parsed.subject}"`);
}
