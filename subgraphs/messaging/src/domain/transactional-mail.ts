import { receiptIssued } from '@bilten/contracts/billing';
import {
  addressClaimAttempted,
  emailVerificationRequested,
  invitationCreated,
  passwordResetRequested,
  userRegistered,
} from '@bilten/contracts/identity';
import { orderPaid, ticketTransferred, waitingListOffered } from '@bilten/contracts/orders';
import type {
  DomainEvent,
  EventConsumer,
  EventDefinition,
  LinkTokenSeal,
  Logger,
  Transaction,
} from '@bilten/platform';
import type { z } from 'zod';
import type { Mailer } from '../adapters/mailer.ts';
import { mailsSentToWithinAnHour, recordSentEmail } from '../db/queries.ts';
import {
  addressInUseMail,
  invitationMail,
  type Mail,
  orderTicketsMail,
  passwordResetMail,
  receiptMail,
  ticketTransferMail,
  verificationMail,
  waitingListOfferMail,
} from './mail-templates.ts';

/** A stable Message-ID per event: a mail sent twice (see below) is recognisably the same mail. */
export function messageIdOf(eventId: string, from: string): string {
  const domain = /@([^\s<>@]+)>?\s*$/.exec(from)?.[1] ?? 'bilten.local';
  return `<${eventId}@${domain}>`;
}

/** What sending a mail needs: the transport, the From line and the per-recipient limit. */
export interface MailDeps {
  mailer: Mailer;
  from: string;
  log: Logger;
  perRecipientPerHour: number;
}

/**
 * Sends `mail` once for `mailId` (an event's id, or one derived per recipient of a fan-out), in
 * the consumer's transaction: under the per-recipient hourly limit, recorded in sent_emails.
 */
export async function sendMailOnce(
  tx: Transaction,
  deps: MailDeps,
  mailId: string,
  mail: Mail,
): Promise<void> {
  // Whatever triggers them (invitations, resends, resets), no address gets more than this an hour.
  if ((await mailsSentToWithinAnHour(tx, mail.to.address)) >= deps.perRecipientPerHour) {
    deps.log.warn(
      { security: true, event: mailId, template: mail.template },
      'mail not sent: its recipient had the most mails an hour allows',
    );
    return;
  }
  const messageId = messageIdOf(mailId, deps.from);
  const claimed = await recordSentEmail(tx, {
    eventId: mailId,
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
  deps.log.info({ event: mailId, template: mail.template, messageId }, 'mail sent');
}

function mailConsumer<S extends z.ZodType>(
  name: string,
  event: EventDefinition<S>,
  render: (event: DomainEvent<z.output<S>>) => Mail,
  deps: MailDeps,
): EventConsumer<S> {
  return {
    name,
    event,
    async handle(event, tx) {
      await sendMailOnce(tx, deps, event.id, render(event));
    },
  };
}

/**
 * Verification, password-reset, invitation and address-in-use mail for identity's events, one
 * durable consumer each.
 */
export function transactionalMailConsumers({
  mailer,
  from,
  web,
  links,
  log,
  perRecipientPerHour,
}: {
  mailer: Mailer;
  /** The From line, which also names the domain of every Message-ID. */
  from: string;
  /** What the links in mails start with: PUBLIC_WEB_URL, or the gateway's `/account` pages (`linkBaseOf`). */
  web: string;
  /** Opens the tokens identity sealed; a token that does not open fails the event (dead letter). */
  links: LinkTokenSeal;
  log: Logger;
  /** MAIL_PER_RECIPIENT_PER_HOUR: against mail bombing through any mail a user can trigger. */
  perRecipientPerHour: number;
}): EventConsumer[] {
  const deps = { mailer, from, log, perRecipientPerHour };
  return [
    mailConsumer(
      'registration-mail',
      userRegistered,
      ({ payload, occurredAt }) =>
        verificationMail(
          {
            ...payload,
            token: links.open(payload.sealedToken, payload.userId),
            issuedAt: occurredAt,
            newAccount: true,
          },
          web,
        ),
      deps,
    ),
    mailConsumer(
      'verification-mail',
      emailVerificationRequested,
      ({ payload, occurredAt }) =>
        verificationMail(
          {
            ...payload,
            token: links.open(payload.sealedToken, payload.userId),
            issuedAt: occurredAt,
            newAccount: false,
          },
          web,
        ),
      deps,
    ),
    mailConsumer(
      'password-reset-mail',
      passwordResetRequested,
      ({ payload, occurredAt }) =>
        passwordResetMail(
          { ...payload, token: links.open(payload.sealedToken, payload.userId), issuedAt: occurredAt },
          web,
        ),
      deps,
    ),
    mailConsumer(
      'invitation-mail',
      invitationCreated,
      ({ payload, occurredAt }) =>
        invitationMail(
          { ...payload, token: links.open(payload.sealedToken, payload.invitationId), issuedAt: occurredAt },
          web,
        ),
      deps,
    ),
    mailConsumer(
      'address-in-use-mail',
      addressClaimAttempted,
      ({ payload }) => addressInUseMail(payload),
      deps,
    ),
  ];
}

/** What the mails linking the gateway's files (tickets, receipts) need. */
interface FileLinkMailDeps {
  mailer: Mailer;
  from: string;
  /** PUBLIC_GATEWAY_URL: where the file links go. */
  gateway: string;
  /** Opens the tokens orders and billing sealed; a token that does not open fails the event (dead letter). */
  links: LinkTokenSeal;
  log: Logger;
  perRecipientPerHour: number;
}

/**
 * Orders' mails, one durable consumer each, under the same per-recipient limit and dedupe as
 * identity's: the tickets of a paid order to its buyer, a transferred ticket to its new holder, a
 * waiting-list offer to the one it was made for. Ticket links point at the gateway's
 * `/tickets/{id}.pdf`, with tokens orders sealed for each ticket id.
 */
export function orderMailConsumers({ gateway, links, ...deps }: FileLinkMailDeps): EventConsumer[] {
  return [
    mailConsumer(
      'order-tickets-mail',
      orderPaid,
      ({ payload }) =>
        orderTicketsMail(
          {
            ...payload,
            tickets: payload.tickets.map(({ ticketId, sealedToken }) => ({
              ticketId,
              token: links.open(sealedToken, ticketId),
            })),
          },
          gateway,
        ),
      deps,
    ),
    mailConsumer(
      'ticket-transfer-mail',
      ticketTransferred,
      ({ payload }) =>
        ticketTransferMail(
          { ...payload, token: links.open(payload.sealedToken, payload.toTicketId) },
          gateway,
        ),
      deps,
    ),
    mailConsumer(
      'waiting-list-offer-mail',
      waitingListOffered,
      ({ payload, occurredAt }) => waitingListOfferMail({ ...payload, issuedAt: occurredAt }),
      deps,
    ),
  ] as EventConsumer[];
}

/**
 * Billing's mails under the same limit and dedupe: a receipt or credit note to the buyer, linking
 * the gateway's `/receipts/{id}.pdf` with the token billing sealed for that receipt's id.
 */
export function billingMailConsumers({ gateway, links, ...deps }: FileLinkMailDeps): EventConsumer[] {
  return [
    mailConsumer(
      'receipt-mail',
      receiptIssued,
      ({ payload }) =>
        receiptMail({ ...payload, token: links.open(payload.sealedLinkToken, payload.receiptId) }, gateway),
      deps,
    ),
  ] as EventConsumer[];
}
