import { paymentFailed, receiptIssued, refundSucceeded } from '@bilten/contracts/billing';
import { eventPublished } from '@bilten/contracts/catalog';
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
  Transaction,
} from '@bilten/platform';
import type { z } from 'zod';
import { eventScheduleById } from '../db/event-schedules.ts';
import { followerIdsAfter } from '../db/follows.ts';
import { eventOfBook, orderBookEntry } from '../db/order-book.ts';
import { organizationNameOf } from '../db/recipients.ts';
import type { Channel } from '../db/schema.ts';
import { isTestModeOrganization } from '../db/test-messages.ts';
import type { TemplateData } from './channels.ts';
import type { KindName } from './delivery-rules.ts';
import { type NotifyDeps, notify, type Recipient } from './notify.ts';
import { buyerOf, nameOfEntry } from './order-book.ts';

/** What workflows need besides the engine's deps: link tokens and where links go. */
export interface WorkflowDeps extends NotifyDeps {
  /** Opens the tokens identity, orders and billing sealed; one that does not open fails the event. */
  links: LinkTokenSeal;
  /** Account links (verify, reset, invitation): PUBLIC_WEB_URL or the gateway's `/account` (linkBaseOf). */
  accountLinks: string;
  /** PUBLIC_GATEWAY_URL: the files (tickets, receipts). */
  gateway: string;
  /** PUBLIC_WEB_URL, or the gateway: event pages (`/events/{id}`). */
  site: string;
}

/**
 * One kind of notification, declared: which event starts it, whom it tells (in batches), with what
 * data, on which channels. `workflowConsumer` runs it as a durable consumer through `notify`.
 */
export interface Workflow<S extends z.ZodType, K extends KindName> {
  /** The durable consumer's name (converted consumers keep theirs: their inbox rows still count). */
  name: string;
  kind: K;
  event: EventDefinition<S>;
  channels: readonly Channel[];
  recipients(
    event: DomainEvent<z.output<S>>,
    tx: Transaction,
    deps: WorkflowDeps,
  ): AsyncIterable<Recipient[]>;
  /** Null: nothing to send for this event (an unlisted event's publication). */
  data(event: DomainEvent<z.output<S>>, tx: Transaction, deps: WorkflowDeps): Promise<TemplateData[K] | null>;
  /**
   * The organization and event the notice is about: stats, and whether its deliveries are captured
   * (a test-mode organization's, test-messages.ts) rather than sent.
   */
  about?(event: DomainEvent<z.output<S>>, tx: Transaction): Promise<About> | About;
}

interface About {
  organizationId?: string | null;
  eventId?: string | null;
}

/** Declares a workflow with its types inferred (S from the event, K from the kind). */
export const defineWorkflow = <S extends z.ZodType, K extends KindName>(workflow: Workflow<S, K>) => workflow;

/**
 * The workflow as a consumer: data once, then `notify` per batch of recipients, all in the
 * consumer's transaction (nothing calls out: sending is the delivery worker's), so events share
 * transactions (group commit) and a redelivery stores and enqueues nothing twice.
 */
export function workflowConsumer<S extends z.ZodType, K extends KindName>(
  workflow: Workflow<S, K>,
  deps: WorkflowDeps,
): EventConsumer<S> {
  return {
    name: workflow.name,
    event: workflow.event,
    async handle(event, tx) {
      const data = await workflow.data(event, tx, deps);
      if (!data) return;
      const notice = {
        kind: workflow.kind,
        sourceEventId: event.id,
        data,
        channels: workflow.channels,
        ...(await workflow.about?.(event, tx)),
      };
      for await (const batch of workflow.recipients(event, tx, deps)) await notify(tx, deps, notice, batch);
    },
  };
}

/** `https://web.example/app` + `/verify-email` + the token, URL-encoded. */
const linkTo = (base: string, path: string, token: string) =>
  `${base.replace(/\/+$/, '')}${path}?token=${encodeURIComponent(token)}`;

/** The notice has one recipient, known from the event alone. */
async function* only(recipient: Recipient): AsyncIterable<Recipient[]> {
  yield [recipient];
}

const accountMail = ['EMAIL'] as const;

/** The account the event names, at the address it names (a new address is not in the book yet). */
const namedUser = ({ payload }: { payload: { userId: string; email: string; displayName: string } }) =>
  only({ userId: payload.userId, email: payload.email, name: payload.displayName });

/** A verification mail: after a registration (newAccount) or when asked again. */
const verificationWorkflow = (
  name: string,
  // Both carry the same payload (identity's verificationPayload).
  event: typeof emailVerificationRequested,
  newAccount: boolean,
) =>
  defineWorkflow({
    name,
    kind: 'emailVerification',
    event,
    channels: accountMail,
    recipients: namedUser,
    data: async ({ payload, occurredAt }, _tx, deps) => ({
      link: linkTo(deps.accountLinks, '/verify-email', deps.links.open(payload.sealedToken, payload.userId)),
      expiresAt: payload.expiresAt,
      issuedAt: occurredAt,
      newAccount,
    }),
  });

/** Identity's account mails, to the address the event names. */
export const accountWorkflows = [
  verificationWorkflow('registration-mail', userRegistered, true),
  verificationWorkflow('verification-mail', emailVerificationRequested, false),
  defineWorkflow({
    name: 'password-reset-mail',
    kind: 'passwordReset',
    event: passwordResetRequested,
    channels: accountMail,
    recipients: namedUser,
    data: async ({ payload, occurredAt }, _tx, deps) => ({
      link: linkTo(
        deps.accountLinks,
        '/reset-password',
        deps.links.open(payload.sealedToken, payload.userId),
      ),
      expiresAt: payload.expiresAt,
      issuedAt: occurredAt,
    }),
  }),
  defineWorkflow({
    name: 'invitation-mail',
    kind: 'invitation',
    event: invitationCreated,
    channels: accountMail,
    // The invitee may have no account yet: the invitation goes to the address, like a guest's mail.
    recipients: ({ payload }) => only({ userId: null, email: payload.email, name: '' }),
    data: async ({ payload, occurredAt }, _tx, deps) => ({
      link: linkTo(
        deps.accountLinks,
        '/accept-invitation',
        deps.links.open(payload.sealedToken, payload.invitationId),
      ),
      organizationName: payload.organizationName,
      inviterName: payload.inviterName,
      role: payload.role,
      expiresAt: payload.expiresAt,
      issuedAt: occurredAt,
    }),
    about: ({ payload }) => ({ organizationId: payload.organizationId }),
  }),
  defineWorkflow({
    name: 'address-in-use-mail',
    kind: 'addressInUse',
    event: addressClaimAttempted,
    channels: accountMail,
    recipients: namedUser,
    data: async ({ payload }) => ({ attempt: payload.attempt }),
  }),
];

/** `${PUBLIC_GATEWAY_URL}/tickets/{id}.pdf?token=…`: a ticket's PDF, opened by its link token alone. */
const ticketLink = (deps: WorkflowDeps, ticketId: string, sealedToken: string) =>
  linkTo(
    deps.gateway,
    `/tickets/${encodeURIComponent(ticketId)}.pdf`,
    deps.links.open(sealedToken, ticketId),
  );

/** The order's buyer from the order book; an order the book does not know has no one to tell. */
async function* buyer(tx: Transaction, deps: WorkflowDeps, orderId: string): AsyncIterable<Recipient[]> {
  const recipient = await buyerOf(tx, deps.keys, orderId);
  if (recipient) yield [recipient];
  else deps.log.warn({ orderId }, 'order not in the order book: nobody to tell');
}

/** What an order's notice is about, from the order book (billing's events name the order only). */
async function aboutOrder(tx: Transaction, orderId: string): Promise<About> {
  const order = await orderBookEntry(tx, orderId);
  return { organizationId: order?.organizationId ?? null, eventId: order?.eventId ?? null };
}

/** Whose event it is (orders' ticket events name the event only): its schedule, else its orders. */
async function aboutEvent(tx: Transaction, eventId: string): Promise<About> {
  const organizationId =
    (await eventScheduleById(tx, eventId))?.organizationId ??
    (await eventOfBook(tx, eventId))?.organizationId;
  return { organizationId: organizationId ?? null, eventId };
}

/** Orders' and billing's notices to buyers and holders. */
export const orderWorkflows = [
  defineWorkflow({
    name: 'order-tickets-mail',
    kind: 'orderConfirmed',
    event: orderPaid,
    channels: ['EMAIL', 'IN_APP', 'WEB_PUSH'],
    recipients: ({ payload }) =>
      only({ userId: payload.buyerId, email: payload.buyerEmail, name: payload.buyerName }),
    data: async ({ payload }, _tx, deps) => ({
      orderId: payload.orderId,
      event: { id: payload.eventId, title: payload.eventTitle },
      total: payload.total,
      tickets: payload.tickets.map(({ ticketId, sealedToken }) => ({
        ticketId,
        url: ticketLink(deps, ticketId, sealedToken),
      })),
    }),
    about: ({ payload }) => ({ organizationId: payload.organizationId, eventId: payload.eventId }),
  }),
  defineWorkflow({
    name: 'payment-failed-notice',
    kind: 'paymentFailed',
    event: paymentFailed,
    channels: ['EMAIL', 'IN_APP', 'WEB_PUSH'],
    recipients: ({ payload }, tx, deps) => buyer(tx, deps, payload.orderId),
    data: async ({ payload }, tx) => {
      const order = await orderBookEntry(tx, payload.orderId);
      return order
        ? {
            orderId: payload.orderId,
            event: { id: order.eventId, title: order.eventTitle },
            reason: payload.failureMessage,
          }
        : null;
    },
    about: ({ payload }, tx) => aboutOrder(tx, payload.orderId),
  }),
  defineWorkflow({
    name: 'refund-issued-notice',
    kind: 'refundIssued',
    event: refundSucceeded,
    channels: ['EMAIL', 'IN_APP'],
    recipients: ({ payload }, tx, deps) => buyer(tx, deps, payload.orderId),
    data: async ({ payload }, tx) => {
      const order = await orderBookEntry(tx, payload.orderId);
      return order
        ? {
            orderId: payload.orderId,
            event: { id: order.eventId, title: order.eventTitle },
            amount: payload.amount,
          }
        : null;
    },
    about: ({ payload }, tx) => aboutOrder(tx, payload.orderId),
  }),
  defineWorkflow({
    name: 'receipt-mail',
    kind: 'receipt',
    event: receiptIssued,
    channels: ['EMAIL'],
    // The receipt goes to the address billing names; the book says whose account it is, if known.
    async *recipients({ payload }, tx, deps) {
      const order = await orderBookEntry(tx, payload.orderId);
      const name = order ? await nameOfEntry(tx, deps.keys, order) : '';
      yield [{ userId: order?.userId ?? null, email: payload.buyerEmail, name }];
    },
    data: async ({ payload }, _tx, deps) => ({
      receiptId: payload.receiptId,
      kind: payload.kind,
      number: payload.number,
      sellerName: payload.sellerName,
      event: { title: payload.eventTitle },
      total: payload.total,
      url: linkTo(
        deps.gateway,
        `/receipts/${encodeURIComponent(payload.receiptId)}.pdf`,
        deps.links.open(payload.sealedLinkToken, payload.receiptId),
      ),
    }),
    about: ({ payload }) => ({ organizationId: payload.organizationId }),
  }),
  defineWorkflow({
    name: 'ticket-transfer-mail',
    kind: 'ticketTransfer',
    event: ticketTransferred,
    // The event names the new holder by address only: whether they have an account is unknown.
    channels: ['EMAIL'],
    recipients: ({ payload }) => only({ userId: null, email: payload.toEmail, name: payload.toName ?? '' }),
    data: async ({ payload }, _tx, deps) => ({
      fromEmail: payload.fromEmail,
      event: { id: payload.eventId, title: payload.eventTitle },
      ticketId: payload.toTicketId,
      url: ticketLink(deps, payload.toTicketId, payload.sealedToken),
    }),
    about: ({ payload }, tx) => aboutEvent(tx, payload.eventId),
  }),
  defineWorkflow({
    name: 'waiting-list-offer-mail',
    kind: 'waitingListOffer',
    event: waitingListOffered,
    channels: ['EMAIL', 'IN_APP', 'WEB_PUSH', 'SMS'],
    recipients: ({ payload }) => only({ userId: payload.userId, email: payload.email, name: '' }),
    data: async ({ payload, occurredAt }) => ({
      event: { id: payload.eventId, title: payload.eventTitle },
      quantity: payload.quantity,
      reservationId: payload.reservationId,
      expiresAt: payload.expiresAt,
      issuedAt: occurredAt,
    }),
    about: ({ payload }, tx) => aboutEvent(tx, payload.eventId),
  }),
];

/** Followers read per batch: bounded memory and statement size for organizations with many. */
export const FAN_OUT_BATCH = 1000;

/**
 * Event published → the organizer's followers, in-app, by email (with one-click opt-out, which the
 * worker adds to non-critical mails) and by push, each as their preferences say. Public events only:
 * an unlisted event is for those who have its link, and a test-mode organization's (a sandbox's)
 * for its own people alone (catalog shows it to nobody else). Keeps the in-app consumer's name,
 * whose inbox already holds the events it handled.
 */
export const eventPublishedWorkflow = defineWorkflow({
  name: 'event-published-followers',
  kind: 'eventPublished',
  event: eventPublished,
  channels: ['IN_APP', 'EMAIL', 'WEB_PUSH'],
  async *recipients({ payload }, tx) {
    let after: string | undefined;
    for (;;) {
      const followers = await followerIdsAfter(tx, payload.organizationId, FAN_OUT_BATCH, after);
      if (!followers.length) return;
      yield followers.map((userId) => ({ userId, email: null, name: '' }));
      after = followers.at(-1);
    }
  },
  data: async ({ payload }, tx, deps) =>
    payload.visibility === 'PUBLIC' && !(await isTestModeOrganization(tx, payload.organizationId))
      ? {
          event: {
            id: payload.eventId,
            title: payload.title,
            url: `${deps.site.replace(/\/+$/, '')}/events/${encodeURIComponent(payload.eventId)}`,
            starts: { at: payload.startsAt, timezone: payload.timezone },
          },
          organizer: { name: (await organizationNameOf(tx, payload.organizationId)) ?? '' },
        }
      : null,
  about: ({ payload }) => ({ organizationId: payload.organizationId, eventId: payload.eventId }),
});

/** Every workflow of this module as consumers. */
export const workflowConsumers = (deps: WorkflowDeps): EventConsumer[] =>
  [...accountWorkflows, ...orderWorkflows, eventPublishedWorkflow].map((workflow) =>
    workflowConsumer(workflow as Workflow<z.ZodType, KindName>, deps),
  ) as EventConsumer[];
