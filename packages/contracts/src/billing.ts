import { z } from 'zod';
import { defineEvent } from './define.ts';

// Billing's events as orders needs them. Billing itself is issue 14: until it lands, tests publish
// these to drive orders' state machine.

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
