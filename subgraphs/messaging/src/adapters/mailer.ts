import { rootCertificates } from 'node:tls';
import { type Logger, pemFile } from '@bilten/platform';
import nodemailer from 'nodemailer';
import type { MessagingConfig } from '../config.ts';
import { DeliveryFailure, type EmailSender, type OutgoingEmail, type Sent } from '../domain/channels.ts';

/** What the email sender reads of messaging's configuration. */
export type EmailSenderConfig = Pick<
  MessagingConfig,
  | 'NODE_ENV'
  | 'SMTP_URL'
  | 'SMTP_FALLBACK_URL'
  | 'MAIL_FROM'
  | 'DKIM_DOMAIN'
  | 'DKIM_SELECTOR'
  | 'DKIM_PRIVATE_KEY'
> &
  Partial<Pick<MessagingConfig, 'SMTP_TLS_CA_FILE'>>;

/** An accepted email, with what happened on the way (a primary that failed first), for the attempt's row. */
export interface EmailSent extends Sent {
  detail: string;
}

export interface DetailedEmailSender extends EmailSender {
  send(email: OutgoingEmail): Promise<EmailSent>;
}

/** A DeliveryFailure that names the transport it came from (`smtp`, `smtp-fallback`, `attachment`). */
export class EmailTransportFailure extends DeliveryFailure {
  constructor(
    failure: DeliveryFailure,
    /** Which transport the failure is from, for the attempt's row. */
    readonly transport: string,
  ) {
    super(failure.message, failure.permanent, failure.addressProblem);
  }
}

/** The primary is skipped after this many failures in a row, for PRIMARY_REST_MS, while the fallback sends. */
const PRIMARY_FAILURES_BEFORE_REST = 3;
const PRIMARY_REST_MS = 60_000;
/** Ticket PDFs are tens of kilobytes; anything this large is not one. */
const ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024;
const ATTACHMENT_TIMEOUT_MS = 10_000;

/**
 * Sends email over SMTP_URL, falling back to SMTP_FALLBACK_URL at once when the primary cannot be
 * reached, times out or answers 4xx; after three such failures in a row the primary rests a minute
 * (then is tried again). Without SMTP_URL (a laptop's `npm start`) each mail is written to the log.
 */
export function createEmailSender(
  config: EmailSenderConfig,
  log: Logger,
  clock: () => number = Date.now,
): DetailedEmailSender {
  const from = config.MAIL_FROM;
  const dkim =
    config.DKIM_DOMAIN && config.DKIM_SELECTOR && config.DKIM_PRIVATE_KEY
      ? {
          domainName: config.DKIM_DOMAIN,
          keySelector: config.DKIM_SELECTOR,
          // A PEM in one environment line usually has its newlines written as `\n`.
          privateKey: config.DKIM_PRIVATE_KEY.replace(/\\n/g, '\n'),
        }
      : undefined;
  if (!config.SMTP_URL) return logSender(config, log, dkim);
  // Servers' certificates are always verified; SMTP_TLS_CA_FILE adds the private CA that signs them.
  const ca = config.SMTP_TLS_CA_FILE && pemFile('SMTP_TLS_CA_FILE', config.SMTP_TLS_CA_FILE);

  // A new connection per mail: nothing stays open to close on stop; the timeouts bound a silent server.
  const smtp = (url: string) =>
    nodemailer.createTransport(
      {
        url,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
        ...(dkim && { dkim }),
        ...(ca && { tls: { ca: [...rootCertificates, ca] } }),
      },
      { from },
    );
  const primary = smtp(config.SMTP_URL);
  const fallback = config.SMTP_FALLBACK_URL ? smtp(config.SMTP_FALLBACK_URL) : undefined;
  let failuresInARow = 0;
  let restingUntil = 0;

  return {
    async send(email) {
      const mail = { ...message(email), attachments: await fetchAttachments(email.attachments) };
      const accepted = (transport: string, detail: string): EmailSent => ({
        transport,
        providerMessageId: email.messageId,
        detail,
      });
      let primaryNote = 'primary resting after repeated failures';
      if (!fallback || clock() >= restingUntil) {
        try {
          await primary.sendMail(mail);
          failuresInARow = 0;
          return accepted('smtp', 'accepted');
        } catch (err) {
          const failure = classify(err);
          if (failure.permanent || !fallback) throw new EmailTransportFailure(failure, 'smtp');
          if (++failuresInARow >= PRIMARY_FAILURES_BEFORE_REST) {
            restingUntil = clock() + PRIMARY_REST_MS;
            log.warn(
              { failuresInARow, detail: failure.message },
              'primary SMTP keeps failing: fallback takes over',
            );
          }
          primaryNote = `primary failed (${failure.message})`;
        }
      }
      try {
        await fallback.sendMail(mail);
        return accepted('smtp-fallback', `${primaryNote}; fallback accepted`);
      } catch (err) {
        const failure = classify(err);
        throw new EmailTransportFailure(
          new DeliveryFailure(
            `${primaryNote}; fallback: ${failure.message}`,
            failure.permanent,
            failure.addressProblem,
          ),
          'smtp-fallback',
        );
      }
    },
  };
}

/** Still rendered by nodemailer, so a mail that could not be built fails here as it would over SMTP. */
function logSender(config: EmailSenderConfig, log: Logger, dkim: object | undefined): DetailedEmailSender {
  const transport = nodemailer.createTransport(
    { jsonTransport: true, ...(dkim && { dkim }) },
    { from: config.MAIL_FROM },
  );
  const production = config.NODE_ENV === 'production';
  log.warn('SMTP_URL is not set: mails are written to the log, not sent');
  return {
    async send(email) {
      await transport.sendMail(message(email));
      // Links carry secret tokens: this is how a developer gets them, never at info in production.
      const links = (email.text.match(/https?:\/\/\S+/g) ?? []).filter(
        (link) => link !== email.unsubscribeUrl,
      );
      const line = { to: email.to.address, subject: email.subject, attachments: email.attachments.length };
      if (production) {
        log.info(line, 'mail written to the log (SMTP_URL unset)');
        log.debug({ ...line, links }, 'mail links');
      } else log.info({ ...line, links }, 'mail written to the log (SMTP_URL unset)');
      return { transport: 'log', providerMessageId: email.messageId, detail: 'written to the log' };
    },
  };
}

/** Addresses out of what goes into attempt rows and logs. */
const withoutAddresses = (text: string) => text.replace(/<?[^\s<>@]+@[^\s<>@]+>?/g, '<address>');

/**
 * What an SMTP error means for the delivery: 5xx to RCPT TO is the recipient's address (a bounce),
 * other 5xx are permanent too; connection errors, timeouts and 4xx are worth another try.
 */
function classify(err: unknown): DeliveryFailure {
  const { code, responseCode, command, response } = err as {
    code?: string;
    responseCode?: number;
    command?: string;
    response?: string;
  };
  const detail = withoutAddresses(
    [code, responseCode, response ?? (err as Error).message].filter(Boolean).join(' ').replace(/\s+/g, ' '),
  ).slice(0, 300);
  // A refused login is our configuration, not the message: retried (and the fallback tried).
  if (typeof responseCode === 'number' && responseCode >= 500 && code !== 'EAUTH')
    return new DeliveryFailure(detail, true, command === 'RCPT TO' ? 'BOUNCE' : undefined);
  return new DeliveryFailure(detail, false);
}

/** Each attachment fetched now (ticket PDFs behind signed links), within a time and size limit. */
function fetchAttachments(attachments: OutgoingEmail['attachments']) {
  return Promise.all(
    attachments.map(async ({ filename, url }) => {
      let response: Response;
      try {
        response = await fetch(url, {
          signal: AbortSignal.timeout(ATTACHMENT_TIMEOUT_MS),
          redirect: 'error',
        });
      } catch (err) {
        throw new EmailTransportFailure(
          new DeliveryFailure(`attachment ${filename} not fetched: ${(err as Error).name}`, false),
          'attachment',
        );
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        throw new EmailTransportFailure(
          new DeliveryFailure(`attachment ${filename} not fetched: HTTP ${response.status}`, false),
          'attachment',
        );
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += chunk.byteLength;
        if (size > ATTACHMENT_MAX_BYTES) {
          // Retrying would fetch the same file: this mail cannot go out with it.
          throw new EmailTransportFailure(
            new DeliveryFailure(`attachment ${filename} exceeds ${ATTACHMENT_MAX_BYTES} bytes`, true),
            'attachment',
          );
        }
        chunks.push(Buffer.from(chunk));
      }
      const contentType = response.headers.get('content-type') ?? undefined;
      return { filename, content: Buffer.concat(chunks), ...(contentType && { contentType }) };
    }),
  );
}

/** The nodemailer message of an email: RFC 8058 List-Unsubscribe (+ one-click Post) when it has an opt-out link. */
const message = (
  email: Pick<OutgoingEmail, 'to' | 'subject' | 'text' | 'html' | 'messageId' | 'unsubscribeUrl'>,
) => ({
  to: email.to,
  subject: email.subject,
  text: email.text,
  html: email.html,
  messageId: email.messageId,
  ...(email.unsubscribeUrl
    ? {
        list: { unsubscribe: email.unsubscribeUrl },
        headers: { 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
      }
    : {}),
});
