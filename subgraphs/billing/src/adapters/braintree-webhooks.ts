import { createHash } from 'node:crypto';
import { ANONYMOUS, clientAddress, reportSecurityEvent } from '@bilten/platform';
import type braintree from 'braintree';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { applyProviderEvent, type ProviderEventDeps } from '../domain/provider-events.ts';
import { securityEventsRecorded } from '../events.ts';
import { type BraintreeTransaction, cardOf, toMinor } from './braintree.ts';
import type { ProviderEvent } from './provider.ts';

// `POST /webhooks/braintree`: Braintree posts a form with `bt_signature` and `bt_payload` (base64
// XML). The SDK checks the signature (HMAC with our private key) before anything is read; only a
// verified notification becomes a ProviderEvent, applied once (domain/provider-events.ts).
// `POST /webhooks/braintree/:accountId` is the same for an organization's own account, parsed with
// that account's keys only; an unknown or removed account is 404.
//
// Braintree notifications carry no id of their own, so the event id is the SHA-256 of `bt_payload`:
// a redelivery sends the same payload (same timestamp), hence the same id, and is a duplicate.

export interface BraintreeWebhookDeps extends ProviderEventDeps {
  /** The platform account's gateway; unset: only organizations' endpoints are served. */
  gateway?: braintree.BraintreeGateway;
  /** The gateway of an organization's live account (`/webhooks/braintree/:accountId`); else undefined. */
  accountGateway(accountId: string): Promise<braintree.BraintreeGateway | undefined>;
}

/** Big enough for any notification (disbursements list transaction ids); nothing else posts here. */
const BODY_LIMIT_BYTES = 1024 * 1024;

const text = (reply: FastifyReply, status: number, message: string) =>
  reply.status(status).header('content-type', 'text/plain; charset=utf-8').send(message);

interface BraintreeNotification {
  kind: string;
  transaction?: BraintreeTransaction;
  dispute?: {
    id?: string;
    amountDisputed?: string | null;
    amount?: string | null;
    currencyIsoCode?: string | null;
    reason?: string | null;
    transaction?: { id?: string | null } | null;
  };
}

/** What billing acts on; every other kind is recorded as IGNORED. */
export function providerEventOf(notification: BraintreeNotification, eventId: string): ProviderEvent {
  const base = { provider: 'BRAINTREE' as const, eventId };
  const ignored: ProviderEvent = { ...base, kind: 'IGNORED', type: notification.kind };
  const transaction = notification.transaction;
  switch (notification.kind) {
    case 'transaction_settled':
    case 'transaction_settlement_declined': {
      if (!transaction?.id) return ignored;
      const settled = notification.kind === 'transaction_settled';
      if (transaction.type === 'credit') {
        // A refund's own transaction: it names the sale it gave money back on.
        if (!transaction.refundedTransactionId) return ignored;
        return settled
          ? {
              ...base,
              kind: 'REFUND_SUCCEEDED',
              providerPaymentId: transaction.refundedTransactionId,
              providerRefundId: transaction.id,
              amount: moneyOf(transaction.amount, transaction.currencyIsoCode),
            }
          : {
              ...base,
              kind: 'REFUND_FAILED',
              providerPaymentId: transaction.refundedTransactionId,
              providerRefundId: transaction.id,
              providerMessage: 'refund settlement declined',
            };
      }
      return settled
        ? { ...base, kind: 'PAYMENT_SUCCEEDED', providerPaymentId: transaction.id, card: cardOf(transaction) }
        : {
            ...base,
            kind: 'PAYMENT_FAILED',
            providerPaymentId: transaction.id,
            failureCode: 'CARD_DECLINED',
            providerMessage: 'settlement declined',
          };
    }
    case 'refund_failed':
      if (!transaction?.id || !transaction.refundedTransactionId) return ignored;
      return {
        ...base,
        kind: 'REFUND_FAILED',
        providerPaymentId: transaction.refundedTransactionId,
        providerRefundId: transaction.id,
        providerMessage: `refund ${transaction.status ?? 'failed'}`,
      };
    case 'dispute_opened': {
      const dispute = notification.dispute;
      const paymentId = dispute?.transaction?.id;
      if (!dispute || !paymentId) return ignored;
      return {
        ...base,
        kind: 'DISPUTE_OPENED',
        providerPaymentId: paymentId,
        amount: moneyOf(dispute.amountDisputed ?? dispute.amount ?? '0', dispute.currencyIsoCode),
        reason: dispute.reason ?? 'unknown',
      };
    }
    default:
      return ignored;
  }
}

function moneyOf(decimal: string, currency: string | null | undefined) {
  const code = (currency ?? 'USD').toUpperCase();
  return { amount: toMinor(String(decimal), code), currency: code };
}

export function registerBraintreeWebhooks(app: FastifyInstance, deps: BraintreeWebhookDeps): void {
  app.register(async (scope) => {
    // Braintree's form only: no JSON, no text.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, new URLSearchParams(body as string)),
    );
    scope.setErrorHandler((error: FastifyError, request, reply) => {
      const status =
        error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      if (status === 500) request.log.error({ err: error }, 'braintree webhook failed');
      // A 5xx makes Braintree deliver again later: right when our database was the trouble.
      return text(reply, status, status === 500 ? 'try again later' : 'this is not a Braintree notification');
    });

    const receive = async (
      request: FastifyRequest,
      reply: FastifyReply,
      gateway: braintree.BraintreeGateway,
    ) => {
      const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
      const signature = form.get('bt_signature') ?? '';
      const payload = form.get('bt_payload') ?? '';
      let notification: BraintreeNotification;
      try {
        notification = (await gateway.webhookNotification.parse(signature, payload)) as BraintreeNotification;
      } catch (error) {
        // Never the body: an unsigned payload is anyone's words.
        deps.log.warn(
          {
            security: true,
            event: 'webhook_bad_signature',
            provider: 'BRAINTREE',
            ip: clientAddress(request),
            reason: (error as { type?: string }).type ?? 'unparsable',
          },
          'braintree webhook refused: bad signature',
        );
        await reportSecurityEvent(
          { ...deps, viewer: ANONYMOUS, requestId: request.id, clientIp: clientAddress(request) },
          securityEventsRecorded,
          {
            type: 'webhook_signature_invalid',
            target: 'braintree',
            details: { reason: (error as { type?: string }).type ?? 'unparsable' },
          },
        );
        return text(reply, 400, 'bad signature');
      }
      const eventId = createHash('sha256').update(payload).digest('hex');
      const event = providerEventOf(notification, eventId);
      const result = await applyProviderEvent(deps, event);
      deps.log.info({ provider: 'BRAINTREE', eventId, kind: notification.kind, result }, 'braintree webhook');
      return reply.status(200).send({ received: true, result });
    };

    const platformGateway = deps.gateway;
    if (platformGateway)
      scope.post('/webhooks/braintree', (request, reply) => receive(request, reply, platformGateway));
    // An organization's own account: parsed with that account's keys only.
    scope.post<{ Params: { accountId: string } }>(
      '/webhooks/braintree/:accountId',
      async (request, reply) => {
        const gateway = await deps.accountGateway(request.params.accountId);
        if (gateway) return receive(request, reply, gateway);
        deps.log.warn(
          {
            security: true,
            event: 'webhook_unknown_account',
            provider: 'BRAINTREE',
            ip: clientAddress(request),
            accountId: request.params.accountId.slice(0, 64),
          },
          'braintree webhook refused: no such account',
        );
        return text(reply, 404, 'no such webhook endpoint');
      },
    );
  });
}
