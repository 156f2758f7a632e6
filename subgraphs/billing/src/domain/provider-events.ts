import { paymentFailed } from '@bilten/contracts/billing';
import type { Database } from '@bilten/platform';
import { FAILURE_MESSAGES, type ProviderEvent } from '../adapters/provider.ts';
import {
  openRefundByProviderId,
  paymentByProviderId,
  recordWebhookEvent,
  updateOpenPayment,
  updateRefund,
} from '../db/queries.ts';
import type { ReceiptDeps } from './receipts.ts';
import { completePayment, completeRefund } from './settlements.ts';

export interface ProviderEventDeps extends ReceiptDeps {
  db: Database;
}

/**
 * Applies a verified provider notification once per (provider, eventId): the record and the effect
 * commit together, so a redelivery is a 'duplicate' that changes nothing. 'unknown' means billing
 * has no payment or refund it names (e.g. one made outside Bilten on the same account); it is
 * still recorded, so the provider's retries stop there.
 */
export function applyProviderEvent(
  deps: ProviderEventDeps,
  event: ProviderEvent,
): Promise<'applied' | 'duplicate' | 'unknown'> {
  const { outbox, log } = deps;
  return deps.db.transaction(async (tx) => {
    const fresh = await recordWebhookEvent(tx, {
      provider: event.provider,
      eventId: event.eventId,
      kind: event.kind,
    });
    if (!fresh) return 'duplicate';
    switch (event.kind) {
      case 'PAYMENT_SUCCEEDED':
      case 'PAYMENT_FAILED': {
        const where = { provider: event.provider, providerPaymentId: event.providerPaymentId };
        const succeeded = event.kind === 'PAYMENT_SUCCEEDED';
        const updated = await updateOpenPayment(
          tx,
          where,
          succeeded
            ? {
                status: 'SUCCEEDED',
                failureCode: null,
                failureMessage: null,
                nextAction: null,
                ...(event.card ? { card: event.card } : {}),
              }
            : {
                status: 'FAILED',
                failureCode: event.failureCode,
                failureMessage: FAILURE_MESSAGES[event.failureCode],
                nextAction: null,
              },
        );
        if (!updated) {
          // Already settled (a SUCCEEDED payment stays), or not ours.
          const known = await paymentByProviderId(tx, event.provider, event.providerPaymentId);
          if (!known) return 'unknown';
          log.info(
            { paymentId: known.id, status: known.status, kind: event.kind },
            'provider event on a settled payment',
          );
          return 'applied';
        }
        if (succeeded) await completePayment(tx, deps, updated);
        else {
          log.warn(
            { paymentId: updated.id, failureCode: event.failureCode, providerMessage: event.providerMessage },
            'payment failed (provider event)',
          );
          await outbox.publish(tx, paymentFailed, updated.id, {
            paymentId: updated.id,
            orderId: updated.orderId,
            failureCode: event.failureCode,
            failureMessage: FAILURE_MESSAGES[event.failureCode],
          });
        }
        return 'applied';
      }
      case 'REFUND_SUCCEEDED': {
        const refund = await openRefundByProviderId(tx, event.provider, event.providerRefundId);
        if (!refund) return 'unknown';
        if (refund.status === 'SUCCEEDED') return 'applied';
        await updateRefund(tx, refund.id, { status: 'SUCCEEDED', failureCode: null, failureMessage: null });
        await completeRefund(tx, deps, refund);
        return 'applied';
      }
      case 'REFUND_FAILED': {
        const refund = await openRefundByProviderId(tx, event.provider, event.providerRefundId);
        if (!refund) return 'unknown';
        log.error(
          { refundId: refund.id, providerMessage: event.providerMessage },
          'refund failed (provider event)',
        );
        if (refund.status === 'PENDING')
          await updateRefund(tx, refund.id, {
            status: 'FAILED',
            failureCode: 'REFUND_FAILED',
            failureMessage: FAILURE_MESSAGES.REFUND_FAILED,
          });
        return 'applied';
      }
      case 'DISPUTE_OPENED': {
        // Disputes are handled by hand for now: the log line is the alert.
        const payment = await paymentByProviderId(tx, event.provider, event.providerPaymentId);
        log.warn(
          { paymentId: payment?.id, provider: event.provider, amount: event.amount, reason: event.reason },
          'payment disputed',
        );
        return payment ? 'applied' : 'unknown';
      }
      case 'IGNORED':
        return 'applied';
    }
  });
}
