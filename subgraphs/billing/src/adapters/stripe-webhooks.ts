import { ANONYMOUS, clientAddress, reportSecurityEvent } from '@bilten/platform';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Stripe from 'stripe';
import { applyProviderEvent, type ProviderEventDeps } from '../domain/provider-events.ts';
import { securityEventsRecorded } from '../events.ts';
import type { ProviderEvent } from './provider.ts';
import { cardOf, failureCodeOf } from './stripe.ts';

// `POST /webhooks/stripe`: the signature (`Stripe-Signature`, HMAC-SHA256 of the exact bytes with
// our endpoint secret, 5 minutes' tolerance) is checked by the SDK on the raw body before anything
// is read; only a verified event becomes a ProviderEvent, applied once per Stripe event id
// (domain/provider-events.ts).
// `POST /webhooks/stripe/:accountId` is the same for an organization's own account, checked with
// that account's secret only; an unknown or removed account is 404.

export interface StripeWebhookDeps extends ProviderEventDeps {
  /** The platform endpoint's signing secret (`whsec_…`); unset: only organizations' endpoints are served. */
  secret?: string;
  /** The signing secret of an organization's live account (`/webhooks/stripe/:accountId`); else undefined. */
  accountSecret(accountId: string): Promise<string | undefined>;
}

/** Stripe's own tolerance for a signature's timestamp: replays older than this are refused. */
const TOLERANCE_SECONDS = 300;
/** Stripe events are a few kilobytes; nothing else posts here. */
const BODY_LIMIT_BYTES = 1024 * 1024;

const text = (reply: FastifyReply, status: number, message: string) =>
  reply.status(status).header('content-type', 'text/plain; charset=utf-8').send(message);

const money = (amount: number, currency: string) => ({ amount, currency: currency.toUpperCase() });
const idOf = (value: string | { id: string } | null | undefined) =>
  typeof value === 'string' ? value : (value?.id ?? null);

/** What billing acts on; every other type is recorded as IGNORED. */
export function providerEventOf(event: Stripe.Event): ProviderEvent {
  const base = { provider: 'STRIPE' as const, eventId: event.id };
  const ignored: ProviderEvent = { ...base, kind: 'IGNORED', type: event.type };
  switch (event.type) {
    case 'payment_intent.succeeded': {
      const intent = event.data.object;
      return { ...base, kind: 'PAYMENT_SUCCEEDED', providerPaymentId: intent.id, card: cardOf(intent) };
    }
    case 'payment_intent.payment_failed': {
      const intent = event.data.object;
      const error = intent.last_payment_error;
      return {
        ...base,
        kind: 'PAYMENT_FAILED',
        providerPaymentId: intent.id,
        failureCode: error ? failureCodeOf(error) : 'PROCESSING_ERROR',
        providerMessage: error
          ? `${error.type}/${error.code ?? '-'}/${error.decline_code ?? '-'}: ${error.message ?? ''}`
          : 'payment failed',
      };
    }
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
      return refundEvent(base, event.data.object) ?? ignored;
    case 'charge.refunded': {
      // The refunds list is only there when expanded; `refund.updated` carries the same news.
      const charge = event.data.object;
      const latest = charge.refunds?.data?.[0];
      return (
        (latest &&
          refundEvent(base, { ...latest, payment_intent: latest.payment_intent ?? charge.payment_intent })) ??
        ignored
      );
    }
    case 'charge.dispute.created': {
      const dispute = event.data.object;
      const paymentId = idOf(dispute.payment_intent);
      if (!paymentId) return ignored;
      return {
        ...base,
        kind: 'DISPUTE_OPENED',
        providerPaymentId: paymentId,
        amount: money(dispute.amount, dispute.currency),
        reason: dispute.reason,
      };
    }
    default:
      return ignored;
  }
}

function refundEvent(
  base: { provider: 'STRIPE'; eventId: string },
  refund: Pick<Stripe.Refund, 'id' | 'amount' | 'currency' | 'status' | 'payment_intent' | 'failure_reason'>,
): ProviderEvent | null {
  const paymentId = idOf(refund.payment_intent);
  if (!paymentId) return null;
  if (refund.status === 'succeeded') {
    return {
      ...base,
      kind: 'REFUND_SUCCEEDED',
      providerPaymentId: paymentId,
      providerRefundId: refund.id,
      amount: money(refund.amount, refund.currency),
    };
  }
  if (refund.status === 'failed' || refund.status === 'canceled') {
    return {
      ...base,
      kind: 'REFUND_FAILED',
      providerPaymentId: paymentId,
      providerRefundId: refund.id,
      providerMessage: `refund ${refund.status}: ${refund.failure_reason ?? 'no reason'}`,
    };
  }
  return null; // still pending: a later refund.updated settles it
}

export function registerStripeWebhooks(app: FastifyInstance, deps: StripeWebhookDeps): void {
  app.register(async (scope) => {
    // The signature covers the exact bytes: keep them, JSON only, parsed after verification.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, body),
    );
    scope.setErrorHandler((error: FastifyError, request, reply) => {
      const status =
        error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      if (status === 500) request.log.error({ err: error }, 'stripe webhook failed');
      // A 5xx makes Stripe deliver again later: right when our database was the trouble.
      return text(reply, status, status === 500 ? 'try again later' : 'this is not a Stripe event');
    });

    const receive = async (request: FastifyRequest, reply: FastifyReply, secret: string) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const signature = request.headers['stripe-signature'];
      let event: Stripe.Event;
      try {
        if (typeof signature !== 'string' || signature === '') throw new Error('no Stripe-Signature header');
        event = Stripe.webhooks.constructEvent(body, signature, secret, TOLERANCE_SECONDS);
      } catch (error) {
        // Never the body: an unsigned payload is anyone's words. The SDK's reason names no secret.
        deps.log.warn(
          {
            security: true,
            event: 'webhook_bad_signature',
            provider: 'STRIPE',
            ip: clientAddress(request),
            reason: (error as Error).message.slice(0, 200),
          },
          'stripe webhook refused: bad signature',
        );
        await reportSecurityEvent(
          { ...deps, viewer: ANONYMOUS, requestId: request.id, clientIp: clientAddress(request) },
          securityEventsRecorded,
          {
            type: 'webhook_signature_invalid',
            target: 'stripe',
            details: { reason: (error as Error).message.slice(0, 200) },
          },
        );
        return text(reply, 400, 'bad signature');
      }
      const providerEvent = providerEventOf(event);
      const result = await applyProviderEvent(deps, providerEvent);
      deps.log.info({ provider: 'STRIPE', eventId: event.id, type: event.type, result }, 'stripe webhook');
      return reply.status(200).send({ received: true, result });
    };

    const platformSecret = deps.secret;
    if (platformSecret)
      scope.post('/webhooks/stripe', (request, reply) => receive(request, reply, platformSecret));
    // An organization's own account: verified with that account's secret only.
    scope.post<{ Params: { accountId: string } }>('/webhooks/stripe/:accountId', async (request, reply) => {
      const secret = await deps.accountSecret(request.params.accountId);
      if (secret) return receive(request, reply, secret);
      deps.log.warn(
        {
          security: true,
          event: 'webhook_unknown_account',
          provider: 'STRIPE',
          ip: clientAddress(request),
          accountId: request.params.accountId.slice(0, 64),
        },
        'stripe webhook refused: no such account',
      );
      return text(reply, 404, 'no such webhook endpoint');
    });
  });
}
