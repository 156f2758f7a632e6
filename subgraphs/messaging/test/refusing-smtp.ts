/** An SMTP server that answers like a real one that knows its mailboxes, for the mail tests. */
import { createServer as createNetServer } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface RefusingSmtpServer {
  url: string;
  /** The envelope recipients of every accepted message. */
  accepted: string[][];
  stop(): Promise<void>;
}

/** Refuses recipients named `unknown…` with 550 (mailbox unknown) and messages titled `reject…` with 554. */
export async function startRefusingSmtp(): Promise<RefusingSmtpServer> {
  const accepted: string[][] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address.toLowerCase().startsWith('unknown'))
        return callback(Object.assign(new Error('5.1.1 mailbox unknown'), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (/^Subject: reject/m.test(Buffer.concat(chunks).toString()))
          return callback(Object.assign(new Error('5.7.1 message refused'), { responseCode: 554 }));
        accepted.push(session.envelope.rcptTo.map((rcpt) => rcpt.address));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    accepted,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port nothing listens on: connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
