import { refundSucceeded } from '@bilten/contracts/billing';
import { refundRequested } from '@bilten/contracts/orders';
import type { EventConsumer, Logger, Outbox } from '@bilten/platform';
import { FAILURE_MESSAGES } from '../adapters/provider.ts';
import type { PaymentProviders } from '../adapters/providers.ts';
import { addRefunded, insertRefundIfNew, refundablePayment, updateRefund } from '../db/queries.ts';
import { withRetries } from './provider-calls.ts';

/**
 * Refunds orders asks for (a cancelled event, a refund by policy, a payment that came too late or
 * twice), once per refundId. The contract names no payment: the refund is of the order's latest
 * SUCCEEDED payment not yet refunded in full, which for PAID_AFTER_EXPIRY and DUPLICATE_PAYMENT is
 * the payment that caused it (it is the latest).
 *
 * The provider is called inside the consumer's transaction (the kit gives the handler one): it
 * holds a connection and the payment's row lock for the call's duration (PAYMENT_DEADLINE_MS at
 * most). Safe on redelivery: the call's idempotency key is the refundId, so a transaction that
 * rolls back after the provider acted is answered the same refund when the event comes again.
 */
export function refundConsumer(
  log: Logger,
  outbox: Outbox,
  deps: { providers: () => PaymentProviders; deadlineMs: number },
): EventConsumer<typeof refundRequested.payload> {
  return {
    name: 'refunds',
    event: refundRequested,
    async handle({ payload }, tx) {
      const { orderId, refundId, amount, reason } = payload;
      const payment = await refundablePayment(tx, orderId);
      if (!payment || amount.amount <= 0)
        return void log.error({ ...payload }, 'refund asked for an order with nothing to refund');
      const refund = await insertRefundIfNew(tx, {
        id: refundId,
        paymentId: payment.id,
        orderId,
        amount: amount.amount,
        currency: amount.currency,
        reason,
      });
      if (!refund) return;
      const fail = async (providerMessage: string) => {
        log.error({ refundId, paymentId: payment.id, providerMessage }, 'REFUND_FAILED');
        await updateRefund(tx, refundId, {
          status: 'FAILED',
          failureCode: 'REFUND_FAILED',
          failureMessage: FAILURE_MESSAGES.REFUND_FAILED,
        });
      };
      if (amount.currency !== payment.currency || amount.amount > payment.amount - payment.refundedAmount)
        return fail(
          `asked ${amount.amount} ${amount.currency}, ${payment.amount - payment.refundedAmount} left`,
        );
      const adapter = deps.providers().get(payment.provider);
      if (!adapter || !payment.providerPaymentId) return fail(`${payment.provider} is not configured`);
      const providerPaymentId = payment.providerPaymentId;
      const result = await withRetries(deps.deadlineMs, (signal) =>
        adapter.refund({ refundId, providerPaymentId, amount }, signal),
      );
      // Unreachable: the event is retried later (same refundId, same provider key).
      if (!result.ok) throw result.error;
      const outcome = result.value;
      if (outcome.status === 'FAILED') return fail(outcome.providerMessage);
      await updateRefund(tx, refundId, {
        status: outcome.status,
        providerRefundId: outcome.providerRefundId,
      });
      // PENDING: the provider's webhook finishes it (provider-events.ts).
      if (outcome.status !== 'SUCCEEDED') return;
      await addRefunded(tx, payment.id, amount.amount);
      await outbox.publish(tx, refundSucceeded, payment.id, { refundId, orderId, amount });
    },
  };
}
