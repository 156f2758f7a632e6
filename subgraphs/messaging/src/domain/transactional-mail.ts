import {
  emailVerificationRequested,
  invitationCreated,
  passwordResetRequested,
  userRegistered,
} from '@bilten/contracts/identity';
import type { DomainEvent, EventConsumer, EventDefinition, Logger } from '@bilten/platform';
import type { z } from 'zod';
import type { Mailer } from '../adapters/mailer.ts';
import { recordSentEmail } from '../db/queries.ts';
import { invitationMail, type Mail, passwordResetMail, verificationMail } from './mail-templates.ts';

/** A stable Message-ID per event: a mail sent twice (see below) is recognisably the same mail. */
export function messageIdOf(eventId: string, from: string): string {
  const domain = /@([^\s<>@]+)>?\s*$/.exec(from)?.[1] ?? 'bilten.local';
  return `<${eventId}@${domain}>`;
}

function mailConsumer<S extends z.ZodType>(
  name: string,
  event: EventDefinition<S>,
  render: (event: DomainEvent<z.output<S>>) => Mail,
  deps: { mailer: Mailer; from: string; log: Logger },
): EventConsumer<S> {
  return {
    name,
    event,
    async handle(event, tx) {
      const mail = render(event);
      const messageId = messageIdOf(event.id, deps.from);
      const claimed = await recordSentEmail(tx, {
        eventId: event.id,
        recipient: mail.to.address,
        template: mail.template,
        messageId,
      });
      // Mailed already: the inbox stops redeliveries; this also stops a renamed consumer (new inbox key).
      if (!claimed) return;
      // SMTP cannot join this transaction. A failed send throws and rolls the row back, so the
      // platform retries and finally dead-letters; a crash after the server accepted the mail but
      // before COMMIT sends it again on redelivery. At least once on the wire, once in sent_emails.
      await deps.mailer.send(mail, messageId);
      deps.log.info({ event: event.id, template: mail.template, messageId }, 'mail sent');
    },
  };
}

/** Verification, password-reset and invitation mail for identity's events, one durable consumer each. */
export function transactionalMailConsumers({
  mailer,
  from,
  web,
  log,
}: {
  mailer: Mailer;
  /** The From line, which also names the domain of every Message-ID. */
  from: string;
  /** What the links in mails start with: PUBLIC_WEB_URL, or the gateway's `/account` pages (`linkBaseOf`). */
  web: string;
  log: Logger;
}): EventConsumer[] {
  const deps = { mailer, from, log };
  return [
    mailConsumer(
      'registration-mail',
      userRegistered,
      ({ payload, occurredAt }) =>
        verificationMail({ ...payload, issuedAt: occurredAt, newAccount: true }, web),
      deps,
    ),
    mailConsumer(
      'verification-mail',
      emailVerificationRequested,
      ({ payload, occurredAt }) =>
        verificationMail({ ...payload, issuedAt: occurredAt, newAccount: false }, web),
      deps,
    ),
    mailConsumer(
      'password-reset-mail',
      passwordResetRequested,
      ({ payload, occurredAt }) => passwordResetMail({ ...payload, issuedAt: occurredAt }, web),
      deps,
    ),
    mailConsumer(
      'invitation-mail',
      invitationCreated,
      ({ payload, occurredAt }) => invitationMail({ ...payload, issuedAt: occurredAt }, web),
      deps,
    ),
  ];
}
