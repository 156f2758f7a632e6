import type { Logger } from '@bilten/platform';
import nodemailer from 'nodemailer';
import type { Mail } from '../domain/mail-templates.ts';

export interface Mailer {
  /** Resolves once the SMTP server accepted the mail; throws when it did not. */
  send(mail: Mail, messageId: string): Promise<void>;
}

export interface MailerSettings {
  /** unset: no mail leaves the process, each one is written to the log instead. */
  smtpUrl?: string;
  from: string;
  log: Logger;
  /** Without SMTP_URL in production, the links (secret tokens) are logged at debug level only. */
  production: boolean;
}

/** Sends over SMTP, or, without an SMTP server (a laptop running `npm start`), logs each mail. */
export function createMailer({ smtpUrl, from, log, production }: MailerSettings): Mailer {
  if (!smtpUrl) {
    // Still rendered by nodemailer, so a mail that could not be built fails here as it would over SMTP.
    const transport = nodemailer.createTransport({ jsonTransport: true }, { from });
    log.warn('SMTP_URL is not set: mails are written to the log, not sent');
    return {
      async send(mail, messageId) {
        await transport.sendMail(message(mail, messageId));
        // The link carries a secret token: this is how a developer gets it, never at info in production.
        const line = { to: mail.to.address, subject: mail.subject };
        if (production) {
          log.info(line, 'mail written to the log (SMTP_URL unset)');
          log.debug({ ...line, link: mail.link }, 'mail link');
        } else log.info({ ...line, link: mail.link }, 'mail written to the log (SMTP_URL unset)');
      },
    };
  }
  // A new connection per mail: transactional volume is low and nothing stays open to close on stop.
  // The timeouts bound how long a consumer's transaction waits for a slow or silent server.
  const transport = nodemailer.createTransport(
    { url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 },
    { from },
  );
  return {
    async send(mail, messageId) {
      await transport.sendMail(message(mail, messageId));
    },
  };
}

const message = (mail: Mail, messageId: string) => ({
  to: mail.to,
  subject: mail.subject,
  text: mail.text,
  html: mail.html,
  messageId,
  // RFC 8058: `List-Unsubscribe: <url>` plus the one-click marker, so mail clients POST the link.
  ...(mail.unsubscribeUrl
    ? {
        list: { unsubscribe: mail.unsubscribeUrl },
        headers: { 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
      }
    : {}),
});
