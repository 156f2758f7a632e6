import { z } from 'zod';
import {
  defineEvent,
  personalDataAccessesPayload,
  personalDataErasedPayload,
  personalDataExportedPayload,
  securityEventsPayload,
} from './define.ts';

// Billing's events: orders follows payments and refunds; messaging mails receipts.

const money = z.object({ amount: z.number().int().nonnegative(), currency: z.string().length(3) });

/** The order's payment went through: orders marks it PAID (or, if it had expired, asks a refund). */
export const paymentSucceeded = defineEvent({
  type: 'bilten.billing.payment.succeeded',
  aggregateType: 'payment',
  payload: z.object({ paymentId: z.uuid(), orderId: z.uuid(), amount: money }),
});

/** The payment was declined or failed for good; the order stays payable until it expires. */
export const paymentFailed = defineEvent({
  type: 'bilten.billing.payment.failed',
  aggregateType: 'payment',
  payload: z.object({
    paymentId: z.uuid(),
    orderId: z.uuid(),
    failureCode: z.string(),
    failureMessage: z.string(),
  }),
});

/**
 * A refund could not be made (the provider refused it, or it was more than is left): nothing
 * changes for the order; messaging and the organizer's views can tell.
 */
export const refundFailed = defineEvent({
  type: 'bilten.billing.refund.failed',
  aggregateType: 'payment',
  payload: z.object({
    refundId: z.uuid(),
    orderId: z.uuid(),
    amount: money,
    failureCode: z.string(),
  }),
});

/** Money went back to the buyer: orders marks the order PARTIALLY_REFUNDED or REFUNDED. */
export const refundSucceeded = defineEvent({
  type: 'bilten.billing.refund.succeeded',
  aggregateType: 'payment',
  payload: z.object({ refundId: z.uuid(), orderId: z.uuid(), amount: money }),
});

/**
 * A receipt (for a payment) or a credit note (for a refund) was issued: messaging mails it to the
 * buyer with a link to its PDF. The link's token travels sealed for `receiptId` under
 * MAIL_LINK_SECRET (linkTokenSeal), for messaging alone to open.
 */
export const receiptIssued = defineEvent({
  type: 'bilten.billing.receipt.issued',
  aggregateType: 'receipt',
  payload: z.object({
    receiptId: z.uuid(),
    orderId: z.uuid(),
    organizationId: z.uuid(),
    kind: z.enum(['RECEIPT', 'CREDIT_NOTE']),
    /** Gapless per organization and kind, e.g. SEVDAH-2026-000123 or SEVDAH-CN-2026-000007. */
    number: z.string(),
    sellerName: z.string(),
    buyerEmail: z.string().max(320),
    eventTitle: z.string(),
    total: money,
    sealedLinkToken: z.string().min(1),
  }),
});

/**
 * Someone read or changed another person's personal data that billing serves (issue 18): identity
 * appends it to the tamper-evident access log. Published in a transaction of its own (a read has none).
 */
export const personalDataAccessed = defineEvent({
  type: 'bilten.billing.personal_data.accessed',
  aggregateType: 'user',
  payload: personalDataAccessesPayload,
});

/** Security events this service saw (issue 18): identity's monitoring records them and runs its detection rules. */
export const securityEventsRecorded = defineEvent({
  type: 'bilten.billing.security_event.recorded',
  aggregateType: 'security_event',
  payload: securityEventsPayload,
});

/** This service's part of a user's data export (issue 18), answering identity's `dataExportRequested`. */
export const personalDataExported = defineEvent({
  type: 'bilten.billing.personal_data.exported',
  aggregateType: 'privacy_request',
  payload: personalDataExportedPayload,
});

/** This service erased or anonymized what it held about a user (issue 18), answering `accountErasureRequested`. */
export const personalDataErased = defineEvent({
  type: 'bilten.billing.personal_data.erased',
  aggregateType: 'privacy_request',
  payload: personalDataErasedPayload,
});
