/**
 * One purchase as a client makes it through the gateway, and a run of them `concurrency` at a time:
 * reserveTickets → checkout → payOrder (Sandbox) → order read until PAID with its tickets.
 */
import { graphql } from '@bilten/testkit';
import { type LatencySummary, now, sleep, summarize } from '../stats.ts';
import type { Buyer } from './setup.ts';

export const RESERVE = `mutation($input: ReserveTicketsInput!) {
  reserveTickets(input: $input) { reservation { id } errors { code message } }
}`;
export const CHECKOUT = `mutation($input: CheckoutInput!) {
  checkout(input: $input) { order { id status } errors { code message } }
}`;
export const PAY = `mutation($input: PayOrderInput!) {
  payOrder(input: $input) { payment { id status failureCode } errors { code message } }
}`;
export const ORDER = `query($id: ID!) { order(id: $id) { status tickets { id } } }`;

export interface PurchaseOptions {
  url: string;
  eventId: string;
  ticketTypeId: string;
  /** Pause between two reads of the order while it is not PAID yet. */
  pollMs: number;
  /** Pause before asking payOrder again when billing does not know the order yet. */
  payRetryMs: number;
  /** A purchase that is not PAID by then counts as an error. */
  timeoutMs: number;
}

/** The stamps of one purchase (ms on the monotonic clock) and what it took. */
export interface Purchase {
  orderId?: string;
  began: number;
  reserved?: number;
  checkedOut?: number;
  /** When payOrder answered with a payment. */
  paid?: number;
  /** When the order read PAID with its tickets. */
  done?: number;
  /** payOrder answers NOT_FOUND (orders' orderCreated not in billing yet), asked again. */
  payRetries: number;
  /** Reads of the order before it read PAID with tickets (the last one included). */
  polls: number;
  paymentStatus?: string;
  error?: string;
}

type Payload<K extends string, T> = Record<
  K,
  (T & { errors: Array<{ code: string; message: string }> }) | null
>;

async function call<K extends string, T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
  field: K,
) {
  const { status, body } = await graphql<Payload<K, T>, unknown>(url, query, variables, headers);
  const payload = body.data?.[field];
  if (!payload) throw new Error(`${field}: ${body.errors?.[0]?.message ?? `HTTP ${status}`}`);
  return payload;
}

export async function purchase(options: PurchaseOptions, buyer: Buyer, key: string): Promise<Purchase> {
  const p: Purchase = { began: now(), payRetries: 0, polls: 0 };
  try {
    const { reservation, errors: reserveErrors } = await call<
      'reserveTickets',
      { reservation: { id: string } | null }
    >(
      options.url,
      RESERVE,
      { input: { eventId: options.eventId, items: [{ ticketTypeId: options.ticketTypeId, quantity: 1 }] } },
      buyer.headers,
      'reserveTickets',
    );
    if (!reservation) throw new Error(`reserveTickets: ${reserveErrors[0]?.code}`);
    p.reserved = now();
    const { order, errors: checkoutErrors } = await call<'checkout', { order: { id: string } | null }>(
      options.url,
      CHECKOUT,
      { input: { reservationId: reservation.id, buyer: { name: 'Checkout Buyer', email: buyer.email } } },
      buyer.headers,
      'checkout',
    );
    if (!order) throw new Error(`checkout: ${checkoutErrors[0]?.code}`);
    p.orderId = order.id;
    p.checkedOut = now();
    for (;;) {
      const { payment, errors } = await call<'payOrder', { payment: { status: string } | null }>(
        options.url,
        PAY,
        {
          input: {
            orderId: order.id,
            provider: 'SANDBOX',
            paymentMethodToken: 'tok_visa',
            idempotencyKey: key,
          },
        },
        buyer.headers,
        'payOrder',
      );
      if (payment) {
        p.paymentStatus = payment.status;
        if (payment.status !== 'SUCCEEDED') throw new Error(`payOrder: payment ${payment.status}`);
        break;
      }
      // Billing learns of the order from orders' orderCreated: until then it is NOT_FOUND.
      if (errors[0]?.code !== 'NOT_FOUND') throw new Error(`payOrder: ${errors[0]?.code}`);
      if (now() - p.began > options.timeoutMs) throw new Error('payOrder: NOT_FOUND until the timeout');
      p.payRetries++;
      await sleep(options.payRetryMs);
    }
    p.paid = now();
    for (;;) {
      p.polls++;
      const read = await graphql<
        { order: { status: string; tickets: Array<{ id: string }> } | null },
        unknown
      >(options.url, ORDER, { id: order.id }, buyer.headers);
      const state = read.body.data?.order;
      if (!state) throw new Error(`order: ${read.body.errors?.[0]?.message ?? `HTTP ${read.status}`}`);
      if (state.status === 'PAID' && state.tickets.length > 0) break;
      if (state.status !== 'PENDING_PAYMENT') throw new Error(`order: ${state.status}`);
      if (now() - p.began > options.timeoutMs) throw new Error('order: not PAID until the timeout');
      await sleep(options.pollMs);
    }
    p.done = now();
  } catch (err) {
    p.error = (err as Error).message;
  }
  return p;
}

export interface CheckoutRun {
  purchases: number;
  completed: number;
  /** Failed purchases, by what failed: must be none. */
  errors: Record<string, number>;
  /** Completed purchases per second, from the first call to the last PAID read. */
  perSecond: number;
  /** First call → PAID with tickets. */
  latencyMs: LatencySummary;
  /** The stages of a completed purchase. */
  stagesMs: {
    reserve: LatencySummary;
    checkout: LatencySummary;
    /** checkout answered → payOrder answered with a payment (NOT_FOUND retries included). */
    pay: LatencySummary;
    /** payOrder answered → the order read PAID with tickets (billing → orders' event, polls). */
    untilPaid: LatencySummary;
  };
  payRetries: { total: number; purchasesThatRetried: number; max: number };
  polls: { total: number; perPurchase: number };
  /** Gateway requests the completed purchases sent, per purchase (3 + pay retries + polls). */
  requestsPerPurchase: number;
  orderIds: string[];
  elapsedMs: number;
}

const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1_000 * 10) / 10;

/** Purchase `i` for i = 0..count-1 by buyer i mod buyers, `concurrency` at a time. */
export async function checkoutRun(
  options: PurchaseOptions,
  buyers: Buyer[],
  count: number,
  concurrency: number,
  keyPrefix: string,
): Promise<CheckoutRun> {
  const results: Purchase[] = [];
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results.push(await purchase(options, buyers[i % buyers.length]!, `${keyPrefix}-${i}`));
      }
    }),
  );
  const elapsedMs = now() - start;
  const done = results.filter((p) => p.done !== undefined);
  const errors: Record<string, number> = {};
  for (const p of results) if (p.error) errors[p.error] = (errors[p.error] ?? 0) + 1;
  const lastDone = Math.max(start, ...done.map((p) => p.done!));
  const retries = results.map((p) => p.payRetries);
  const polls = done.reduce((sum, p) => sum + p.polls, 0);
  const retriesOfDone = done.reduce((sum, p) => sum + p.payRetries, 0);
  return {
    purchases: count,
    completed: done.length,
    errors,
    perSecond: done.length ? perSecond(done.length, lastDone - start) : 0,
    latencyMs: summarize(done.map((p) => p.done! - p.began)),
    stagesMs: {
      reserve: summarize(done.map((p) => p.reserved! - p.began)),
      checkout: summarize(done.map((p) => p.checkedOut! - p.reserved!)),
      pay: summarize(done.map((p) => p.paid! - p.checkedOut!)),
      untilPaid: summarize(done.map((p) => p.done! - p.paid!)),
    },
    payRetries: {
      total: retries.reduce((sum, n) => sum + n, 0),
      purchasesThatRetried: retries.filter((n) => n > 0).length,
      max: Math.max(0, ...retries),
    },
    polls: { total: polls, perPurchase: done.length ? Math.round((polls / done.length) * 100) / 100 : 0 },
    requestsPerPurchase: done.length
      ? Math.round(((3 * done.length + retriesOfDone + polls) / done.length) * 100) / 100
      : 0,
    orderIds: results.flatMap((p) => (p.orderId ? [p.orderId] : [])),
    elapsedMs: Math.round(elapsedMs),
  };
}
