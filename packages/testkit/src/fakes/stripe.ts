import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake of the part of Stripe's REST API billing uses (PaymentIntents, Refunds), for the real
 * `stripe` SDK pointed at it (host/port/protocol). It keeps Stripe's behaviours that matter to us:
 * form-encoded bodies, idempotency keys (the same key answers the stored response and charges
 * nothing again), Stripe's test payment methods, its error shape and HTTP statuses (which decide
 * the SDK's error classes), and 3-D Secure that completes when the test says so. Knobs make the
 * next requests fail with a 5xx or hang, to exercise retries and timeouts.
 */

interface Card {
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
}

interface StripeErrorBody {
  type: string;
  code?: string;
  decline_code?: string;
  message: string;
  param?: string;
  payment_intent?: unknown;
}

interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: 'requires_payment_method' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';
  client_secret: string;
  payment_method: string;
  metadata: Record<string, string>;
  latest_charge: string | null;
  next_action: { type: string; redirect_to_url?: { url: string; return_url: string | null } } | null;
  last_payment_error: StripeErrorBody | null;
  created: number;
  livemode: false;
}

interface Charge {
  id: string;
  object: 'charge';
  amount: number;
  amount_refunded: number;
  currency: string;
  payment_intent: string;
  status: 'succeeded';
  paid: true;
  refunded: boolean;
  payment_method_details: { type: 'card'; card: Card };
}

export interface Refund {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  charge: string;
  payment_intent: string;
  status: 'succeeded' | 'pending' | 'failed';
  metadata: Record<string, string>;
  created: number;
}

/** Stripe's test payment methods (https://docs.stripe.com/testing), the ones the tests use. */
type TestMethod =
  | { outcome: 'succeed'; card: Card }
  | { outcome: 'three_d_secure'; card: Card }
  | { outcome: 'decline'; code: string; decline_code?: string; message: string };

const VISA: Card = { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 };
const TEST_METHODS: Record<string, TestMethod> = {
  pm_card_visa: { outcome: 'succeed', card: VISA },
  pm_card_mastercard: {
    outcome: 'succeed',
    card: { brand: 'mastercard', last4: '4444', exp_month: 12, exp_year: 2034 },
  },
  pm_card_threeDSecureRequired: {
    outcome: 'three_d_secure',
    card: { brand: 'visa', last4: '3220', exp_month: 12, exp_year: 2034 },
  },
  pm_card_chargeDeclined: {
    outcome: 'decline',
    code: 'card_declined',
    decline_code: 'generic_decline',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    outcome: 'decline',
    code: 'card_declined',
    decline_code: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
  pm_card_chargeDeclinedExpiredCard: {
    outcome: 'decline',
    code: 'expired_card',
    message: 'Your card has expired.',
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    outcome: 'decline',
    code: 'incorrect_cvc',
    message: "Your card's security code is incorrect.",
  },
};

interface Answer {
  status: number;
  body: unknown;
}

export interface FakeStripe {
  /** Where the SDK goes: `{ host, port, protocol }` for `createStripeAdapter`. */
  host: string;
  port: number;
  protocol: 'http';
  /** Every request received, in order (method, path, the API key it carried), failed and hung ones included. */
  requests: Array<{ method: string; path: string; idempotencyKey: string | undefined; apiKey: string }>;
  /** Charges made per PaymentIntent id: never more than 1 when idempotency holds. */
  chargesFor(paymentIntentId: string): number;
  /** All charges made, whatever the intent. */
  totalCharges(): number;
  paymentIntent(id: string): PaymentIntent | undefined;
  /** The intent made with this metadata paymentId, if any. */
  paymentIntentFor(paymentId: string): PaymentIntent | undefined;
  /** The next `count` requests answer this 5xx (or 429) without acting. */
  failNext(count: number, status?: number): void;
  /** The next `count` requests are never answered (until `stop`). */
  hangNext(count: number): void;
  /** The buyer passed (or failed) 3-D Secure for this intent: it succeeds (or asks for a new method). */
  completeAction(id: string, outcome?: 'succeeded' | 'failed'): PaymentIntent;
  /** The next `count` refunds stay `pending` until `settleRefund` (as bank refunds do). */
  pendNextRefunds(count: number): void;
  /** A pending refund settles: its new state, for the `refund.updated` webhook. */
  settleRefund(id: string, outcome?: 'succeeded' | 'failed'): Refund;
  /** The refunds made against this PaymentIntent, oldest first. */
  refundsOf(paymentIntentId: string): Refund[];
  /**
   * A succeeded PaymentIntent (charged) billing never asked for, as if made in Stripe's dashboard:
   * what reconciliation calls MISSING_LOCALLY.
   */
  insertPaymentIntent(fields: { amount: number; currency?: string; created?: number }): PaymentIntent;
  /** Changes what the API shows of an intent or a refund (amount, status, created), to provoke mismatches. */
  alter(id: string, changes: Partial<Pick<PaymentIntent, 'amount' | 'created'>> & { status?: string }): void;
  /** A Stripe event as its webhook would carry it (JSON text, to be signed by the test). */
  eventPayload(type: string, object: unknown, id?: string): string;
  stop(): Promise<void>;
}

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

async function readBody(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** `metadata[paymentId]=…` → `{ paymentId: … }`. */
function bracketed(params: URLSearchParams, name: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of params) {
    const match = new RegExp(`^${name}\\[([^\\]]+)\\]$`).exec(key);
    if (match) result[match[1]!] = value;
  }
  return result;
}

/** `expand[0]=latest_charge` (body) or `expand[]=latest_charge` (query). */
const expansions = (params: URLSearchParams) =>
  [...params].filter(([key]) => /^expand\[\d*\]$/.test(key)).map(([, value]) => value);

export interface FakeStripeOptions {
  /** The secret keys this fake knows (others are refused with 401, as Stripe does); unset: any `sk_…`. */
  apiKeys?: string[];
  /** The most items one list page holds, whatever `limit` asks (Stripe's is 100): to see paging. */
  maxListLimit?: number;
}

/** The bearer key of a request, as Stripe's SDK sends it. */
const apiKeyOf = (request: IncomingMessage) =>
  String(request.headers.authorization ?? '').replace(/^Bearer /, '');

export async function startFakeStripe(options: FakeStripeOptions = {}): Promise<FakeStripe> {
  const intents = new Map<string, PaymentIntent>();
  const charges = new Map<string, Charge>();
  const refunds = new Map<string, Refund>();
  const chargeCounts = new Map<string, number>();
  const cardsByIntent = new Map<string, Card>();
  /** Idempotency key → the answer first given for it. */
  const stored = new Map<string, Answer>();
  const requests: FakeStripe['requests'] = [];
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  let hangs = 0;
  let pendingRefunds = 0;
  let port = 0;

  const error = (status: number, body: StripeErrorBody): Answer => ({ status, body: { error: body } });

  function charge(intent: PaymentIntent) {
    const card = cardsByIntent.get(intent.id) ?? VISA;
    const created: Charge = {
      id: newId('ch'),
      object: 'charge',
      amount: intent.amount,
      amount_refunded: 0,
      currency: intent.currency,
      payment_intent: intent.id,
      status: 'succeeded',
      paid: true,
      refunded: false,
      payment_method_details: { type: 'card', card },
    };
    charges.set(created.id, created);
    chargeCounts.set(intent.id, (chargeCounts.get(intent.id) ?? 0) + 1);
    intent.status = 'succeeded';
    intent.amount_received = intent.amount;
    intent.latest_charge = created.id;
    intent.next_action = null;
    intent.last_payment_error = null;
  }

  /** The intent as the API shows it, with `latest_charge` expanded when asked. */
  function show(intent: PaymentIntent, expand: string[]): unknown {
    const copy: Omit<PaymentIntent, 'latest_charge'> & { latest_charge: unknown } = structuredClone(intent);
    if (expand.includes('latest_charge') && intent.latest_charge) {
      copy.latest_charge = structuredClone(charges.get(intent.latest_charge));
    }
    return copy;
  }

  function confirmIntent(intent: PaymentIntent, expand: string[], returnUrl: string | undefined): Answer {
    const method = TEST_METHODS[intent.payment_method];
    if (!method) {
      return error(400, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'payment_method',
        message: `No such PaymentMethod: '${intent.payment_method}'`,
      });
    }
    if (method.outcome === 'decline') {
      const failure: StripeErrorBody = {
        type: 'card_error',
        code: method.code,
        ...(method.decline_code ? { decline_code: method.decline_code } : {}),
        message: method.message,
      };
      intent.status = 'requires_payment_method';
      intent.last_payment_error = failure;
      return error(402, { ...failure, payment_intent: show(intent, []) });
    }
    cardsByIntent.set(intent.id, method.card);
    if (method.outcome === 'three_d_secure') {
      intent.status = 'requires_action';
      intent.next_action = {
        type: 'redirect_to_url',
        redirect_to_url: {
          url: `http://127.0.0.1:${port}/3ds/${intent.id}`,
          return_url: returnUrl ?? null,
        },
      };
      return { status: 200, body: show(intent, expand) };
    }
    charge(intent);
    return { status: 200, body: show(intent, expand) };
  }

  /** A new intent waiting for its payment method (`created`: now unless given). */
  function addIntent(
    fields: Pick<PaymentIntent, 'amount' | 'currency' | 'payment_method' | 'metadata'> & { created?: number },
  ): PaymentIntent {
    const id = newId('pi');
    const intent: PaymentIntent = {
      id,
      object: 'payment_intent',
      amount_received: 0,
      status: 'requires_payment_method',
      client_secret: `${id}_secret_${randomBytes(8).toString('hex')}`,
      latest_charge: null,
      next_action: null,
      last_payment_error: null,
      created: now(),
      livemode: false,
      ...fields,
    };
    intents.set(id, intent);
    return intent;
  }

  function createIntent(params: URLSearchParams): Answer {
    const amount = Number(params.get('amount'));
    const currency = params.get('currency');
    if (!Number.isInteger(amount) || amount < 1 || !currency) {
      return error(400, {
        type: 'invalid_request_error',
        code: 'parameter_invalid_integer',
        param: 'amount',
        message: 'Invalid amount or currency.',
      });
    }
    const intent = addIntent({
      amount,
      currency,
      payment_method: params.get('payment_method') ?? '',
      metadata: bracketed(params, 'metadata'),
    });
    if (params.get('confirm') !== 'true') return { status: 200, body: show(intent, expansions(params)) };
    return confirmIntent(intent, expansions(params), params.get('return_url') ?? undefined);
  }

  function createRefund(params: URLSearchParams): Answer {
    const intent = intents.get(params.get('payment_intent') ?? '');
    if (!intent) {
      return error(400, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'payment_intent',
        message: 'No such payment_intent',
      });
    }
    const paid = intent.latest_charge ? charges.get(intent.latest_charge) : undefined;
    if (!paid) {
      return error(400, {
        type: 'invalid_request_error',
        code: 'charge_not_refundable',
        message: 'This PaymentIntent has no successful charge to refund.',
      });
    }
    const left = paid.amount - paid.amount_refunded;
    if (left === 0) {
      return error(400, {
        type: 'invalid_request_error',
        code: 'charge_already_refunded',
        message: `Charge ${paid.id} has already been refunded.`,
      });
    }
    const amount = params.has('amount') ? Number(params.get('amount')) : left;
    if (!Number.isInteger(amount) || amount < 1 || amount > left) {
      return error(400, {
        type: 'invalid_request_error',
        code: 'amount_too_large',
        param: 'amount',
        message: `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`,
      });
    }
    paid.amount_refunded += amount;
    paid.refunded = paid.amount_refunded === paid.amount;
    const refund: Refund = {
      id: newId('re'),
      object: 'refund',
      amount,
      currency: paid.currency,
      charge: paid.id,
      payment_intent: intent.id,
      status: pendingRefunds > 0 ? 'pending' : 'succeeded',
      metadata: bracketed(params, 'metadata'),
      created: now(),
    };
    if (pendingRefunds > 0) pendingRefunds -= 1;
    refunds.set(refund.id, refund);
    return { status: 200, body: refund };
  }

  /**
   * A list endpoint as Stripe answers it: newest first, `created[gte|gt|lte|lt]` filters, at most
   * `limit` (default 10, up to 100) items after the `starting_after` id, and `has_more`.
   */
  function list<T extends { id: string; created: number }>(
    items: Map<string, T>,
    path: string,
    params: URLSearchParams,
  ): Answer {
    const bound = (name: string) =>
      params.has(`created[${name}]`) ? Number(params.get(`created[${name}]`)) : undefined;
    const [gte, gt, lte, lt] = [bound('gte'), bound('gt'), bound('lte'), bound('lt')];
    const limit = Math.min(options.maxListLimit ?? 100, Math.max(1, Number(params.get('limit') ?? 10)));
    // Insertion order breaks ties of the same second, so pages never skip or repeat an item.
    const all = [...items.values()]
      .map((item, index) => ({ item, index }))
      .filter(
        ({ item }) =>
          (gte === undefined || item.created >= gte) &&
          (gt === undefined || item.created > gt) &&
          (lte === undefined || item.created <= lte) &&
          (lt === undefined || item.created < lt),
      )
      .sort((a, b) => b.item.created - a.item.created || b.index - a.index)
      .map(({ item }) => item);
    const after = params.get('starting_after');
    const start = after ? all.findIndex((item) => item.id === after) + 1 : 0;
    if (after && start === 0)
      return error(400, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'starting_after',
        message: `No such object: '${after}'`,
      });
    const data = all.slice(start, start + limit);
    return {
      status: 200,
      body: { object: 'list', url: path, has_more: start + limit < all.length, data: structuredClone(data) },
    };
  }

  async function route(request: IncomingMessage, url: URL): Promise<Answer> {
    const method = request.method ?? 'GET';
    const params = method === 'GET' ? url.searchParams : await readBody(request);
    const apiKey = apiKeyOf(request);
    if (!apiKey.startsWith('sk_') || (options.apiKeys && !options.apiKeys.includes(apiKey))) {
      return error(401, { type: 'invalid_request_error', message: 'Invalid API Key provided.' });
    }
    const key = request.headers['idempotency-key'] as string | undefined;
    const storedKey = key && method === 'POST' ? `${url.pathname} ${key}` : undefined;
    if (storedKey) {
      const first = stored.get(storedKey);
      if (first) return first;
    }
    const answer = act(method, url.pathname, params);
    // Stripe keeps the first answer of a key, errors included, once the endpoint began executing.
    if (storedKey) stored.set(storedKey, structuredClone(answer));
    return answer;
  }

  function act(method: string, path: string, params: URLSearchParams): Answer {
    // What the key's account holds: enough for a credentials check.
    if (method === 'GET' && path === '/v1/balance')
      return {
        status: 200,
        body: { object: 'balance', available: [], pending: [], livemode: false },
      };
    if (method === 'POST' && path === '/v1/payment_intents') return createIntent(params);
    if (method === 'POST' && path === '/v1/refunds') return createRefund(params);
    if (method === 'GET' && path === '/v1/payment_intents') return list(intents, path, params);
    if (method === 'GET' && path === '/v1/refunds') return list(refunds, path, params);
    const intentPath = /^\/v1\/payment_intents\/([^/]+)(\/confirm)?$/.exec(path);
    const intent = intentPath ? intents.get(intentPath[1]!) : undefined;
    if (intentPath && !intent) {
      return error(404, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'intent',
        message: `No such payment_intent: '${intentPath[1]}'`,
      });
    }
    if (intent && method === 'GET' && !intentPath![2])
      return { status: 200, body: show(intent, expansions(params)) };
    if (intent && method === 'POST' && intentPath![2]) {
      const paymentMethod = params.get('payment_method');
      if (paymentMethod) intent.payment_method = paymentMethod;
      // Confirming again after success or while the buyer must act changes nothing.
      if (intent.status === 'succeeded' || intent.status === 'requires_action') {
        return { status: 200, body: show(intent, expansions(params)) };
      }
      return confirmIntent(intent, expansions(params), params.get('return_url') ?? undefined);
    }
    return error(404, {
      type: 'invalid_request_error',
      message: `Unrecognized request URL (${method}: ${path})`,
    });
  }

  const server = createServer((request, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    requests.push({
      method: request.method ?? 'GET',
      path: url.pathname,
      idempotencyKey: request.headers['idempotency-key'] as string | undefined,
      apiKey: apiKeyOf(request),
    });
    if (hangs > 0) {
      hangs -= 1;
      return; // never answered: the client's timeout decides
    }
    const send = ({ status, body }: Answer) => {
      response.writeHead(status, { 'content-type': 'application/json', 'request-id': newId('req') });
      response.end(JSON.stringify(body));
    };
    if (failures.count > 0) {
      failures.count -= 1;
      request.resume();
      return send(
        failures.status === 429
          ? {
              status: 429,
              body: {
                error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests' },
              },
            }
          : {
              status: failures.status,
              body: { error: { type: 'api_error', message: 'Something went wrong on our end.' } },
            },
      );
    }
    route(request, url).then(send, (err: Error) =>
      send({ status: 500, body: { error: { type: 'api_error', message: err.message } } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    protocol: 'http',
    requests,
    chargesFor: (id) => chargeCounts.get(id) ?? 0,
    totalCharges: () => [...chargeCounts.values()].reduce((sum, count) => sum + count, 0),
    paymentIntent: (id) => intents.get(id),
    paymentIntentFor: (paymentId) =>
      [...intents.values()].find((intent) => intent.metadata.paymentId === paymentId),
    failNext(count, status = 500) {
      failures = { count, status };
    },
    hangNext(count) {
      hangs = count;
    },
    completeAction(id, outcome = 'succeeded') {
      const intent = intents.get(id);
      if (intent?.status !== 'requires_action') throw new Error(`${id} is not waiting for the buyer`);
      if (outcome === 'succeeded') charge(intent);
      else {
        intent.status = 'requires_payment_method';
        intent.next_action = null;
        intent.last_payment_error = {
          type: 'card_error',
          code: 'payment_intent_authentication_failure',
          message: 'The provided PaymentMethod has failed authentication.',
        };
      }
      return structuredClone(intent);
    },
    pendNextRefunds(count) {
      pendingRefunds = count;
    },
    settleRefund(id, outcome = 'succeeded') {
      const refund = refunds.get(id);
      if (refund?.status !== 'pending') throw new Error(`${id} is not pending`);
      refund.status = outcome;
      if (outcome === 'failed') {
        const paid = charges.get(refund.charge)!;
        paid.amount_refunded -= refund.amount;
        paid.refunded = false;
      }
      return structuredClone(refund);
    },
    refundsOf: (id) => [...refunds.values()].filter((refund) => refund.payment_intent === id),
    insertPaymentIntent({ amount, currency = 'eur', created = now() }) {
      const intent = addIntent({ amount, currency, created, payment_method: 'pm_card_visa', metadata: {} });
      charge(intent);
      return structuredClone(intent);
    },
    alter(id, changes) {
      const target = intents.get(id) ?? refunds.get(id);
      if (!target) throw new Error(`no payment intent or refund ${id}`);
      Object.assign(target, changes);
    },
    eventPayload(type, object, id = newId('evt')) {
      return JSON.stringify({
        id,
        object: 'event',
        api_version: '2026-11-18.endive',
        created: now(),
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type,
        data: { object },
      });
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
