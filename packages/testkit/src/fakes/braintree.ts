import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// The part of Braintree's gateway API the adapter uses, for the real `braintree` SDK pointed at it
// (a custom Environment over http): transaction sale / find / refund / void / search. The SDK
// sends JSON with snake_case keys and reads XML answers, as the real gateway does.
// Test nonces, like Braintree's sandbox ones:
//   fake-valid-nonce                          → a Visa ending 1111, submitted for settlement
//   fake-processor-declined-visa-nonce        → processor declined 2000 (Do Not Honor)
//   fake-processor-declined-insufficient-nonce → processor declined 2001 (Insufficient Funds)
//   fake-gateway-rejected-nonce               → gateway rejected (three_d_secure)
//   anything else                             → a validation error (unknown nonce)

export interface FakeTransaction {
  id: string;
  type: 'sale' | 'credit';
  status: string;
  amount: string;
  currency: string;
  orderId: string | null;
  merchantAccountId: string | null;
  processorResponseCode: string;
  processorResponseText: string;
  gatewayRejectionReason: string | null;
  refundedTransactionId: string | null;
  refundIds: string[];
  /** ISO 8601, whole seconds, as Braintree shows it. */
  createdAt: string;
  card: { cardType: string; last4: string; expirationMonth: string; expirationYear: string } | null;
}

export type RequestKind = 'sale' | 'search' | 'find' | 'refund' | 'void' | 'any';

function kindOf(method: string, path: string): RequestKind {
  if (/\/advanced_search/.test(path)) return 'search';
  if (/\/refund$/.test(path)) return 'refund';
  if (/\/void$/.test(path)) return 'void';
  if (method === 'POST' && /\/transactions$/.test(path)) return 'sale';
  return 'find';
}

export interface FakeBraintree {
  /** `http://127.0.0.1:<port>`: BRAINTREE_ENVIRONMENT for the billing subgraph. */
  url: string;
  merchantId: string;
  publicKey: string;
  privateKey: string;
  transactions: Map<string, FakeTransaction>;
  /** Sales made per orderId (ours: the payment id). */
  salesFor(orderId: string): number;
  /** Every request's method and path, in order. */
  requests: string[];
  /**
   * The next `count` requests (of kind `on`, default any) answer `status`; with `afterProcessing`
   * the sale/refund/void is made first (the answer is lost, not the work).
   */
  failNext(
    count: number,
    status: 500 | 503 | 429,
    options?: { afterProcessing?: boolean; on?: RequestKind },
  ): void;
  /**
   * The next `count` requests never answer (until close). With options, as failNext: only requests
   * of kind `on`, and with `afterProcessing` the work is done first (an answer lost to a timeout).
   */
  hangNext(count: number, options?: { afterProcessing?: boolean; on?: RequestKind }): void;
  /**
   * A settled sale billing never asked for, as if made in Braintree's control panel (what
   * reconciliation calls MISSING_LOCALLY). Change any transaction through `transactions`.
   */
  insertSale(fields: { amount: string; createdAt?: Date }): FakeTransaction;
  /** Settles a transaction, as Braintree's nightly batch does. */
  settle(id: string): void;
  close(): Promise<void>;
}

/** What the SDK sends (JSON, snake_case keys), as far as the fake reads it. */
interface RequestBody {
  transaction?: {
    amount?: string;
    payment_method_nonce?: string;
    order_id?: string;
    merchant_account_id?: string;
    options?: { submit_for_settlement?: boolean };
  };
  search?: {
    order_id?: { is?: string };
    ids?: string[];
    created_at?: { min?: string; max?: string };
  };
}

const esc = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const tag = (name: string, value: string | null) =>
  value === null ? `<${name} nil="true"/>` : `<${name}>${esc(value)}</${name}>`;

function transactionXml(t: FakeTransaction): string {
  return `<transaction>${tag('id', t.id)}${tag('type', t.type)}${tag('status', t.status)}${tag('amount', t.amount)}${tag(
    'currency-iso-code',
    t.currency,
  )}${tag('order-id', t.orderId)}${tag('processor-response-code', t.processorResponseCode)}${tag(
    'processor-response-text',
    t.processorResponseText,
  )}${tag('gateway-rejection-reason', t.gatewayRejectionReason)}${tag(
    'refunded-transaction-id',
    t.refundedTransactionId,
  )}<created-at type="datetime">${t.createdAt}</created-at><refund-ids type="array">${t.refundIds.map((id) => tag('item', id)).join('')}</refund-ids>${
    t.card
      ? `<credit-card>${tag('card-type', t.card.cardType)}${tag('last-4', t.card.last4)}${tag(
          'expiration-month',
          t.card.expirationMonth,
        )}${tag('expiration-year', t.card.expirationYear)}</credit-card>`
      : '<credit-card></credit-card>'
  }</transaction>`;
}

const errorXml = (message: string, transaction?: FakeTransaction, code = '91565', attribute = 'base') =>
  `<api-error-response>${tag('message', message)}<errors><transaction><errors type="array">${
    transaction
      ? ''
      : `<error>${tag('code', code)}${tag('attribute', attribute)}${tag('message', message)}</error>`
  }</errors></transaction></errors>${transaction ? transactionXml(transaction) : ''}</api-error-response>`;

const VISA = { cardType: 'Visa', last4: '1111', expirationMonth: '12', expirationYear: '2030' };
const NONCES: Record<
  string,
  Pick<
    FakeTransaction,
    'status' | 'processorResponseCode' | 'processorResponseText' | 'gatewayRejectionReason'
  >
> = {
  'fake-valid-nonce': {
    status: 'submitted_for_settlement',
    processorResponseCode: '1000',
    processorResponseText: 'Approved',
    gatewayRejectionReason: null,
  },
  'fake-processor-declined-visa-nonce': {
    status: 'processor_declined',
    processorResponseCode: '2000',
    processorResponseText: 'Do Not Honor',
    gatewayRejectionReason: null,
  },
  'fake-processor-declined-insufficient-nonce': {
    status: 'processor_declined',
    processorResponseCode: '2001',
    processorResponseText: 'Insufficient Funds',
    gatewayRejectionReason: null,
  },
  'fake-gateway-rejected-nonce': {
    status: 'gateway_rejected',
    processorResponseCode: '',
    processorResponseText: '',
    gatewayRejectionReason: 'three_d_secure',
  },
};

const toCents = (decimal: string) => Math.round(Number(decimal) * 100);
const toDecimal = (cents: number) => (cents / 100).toFixed(2);

/** Braintree's times: ISO 8601 in whole seconds. */
const timestamp = (date = new Date()) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A search criterion, as the SDK sends it: equality on order_id, an inclusive created_at range. */
function matches(t: FakeTransaction, search: NonNullable<RequestBody['search']>): boolean {
  if (search.order_id?.is !== undefined && t.orderId !== search.order_id.is) return false;
  const created = Date.parse(t.createdAt);
  const { min, max } = search.created_at ?? {};
  if (min && created < Date.parse(min)) return false;
  if (max && created > Date.parse(max)) return false;
  return true;
}

/** `pageSize`: how many transactions one `advanced_search` page holds (Braintree's is 50). */
export async function startFakeBraintree({ pageSize = 50 } = {}): Promise<FakeBraintree> {
  const merchantId = 'bilten-merchant';
  const publicKey = 'fake-public-key';
  const privateKey = 'fake-private-key';
  const authorization = `Basic ${Buffer.from(`${publicKey}:${privateKey}`).toString('base64')}`;
  const transactions = new Map<string, FakeTransaction>();
  const sales = new Map<string, number>();
  const requests: string[] = [];
  const hanging = new Set<ServerResponse>();
  let failures: Array<{ status: number | 'hang'; afterProcessing: boolean; on: RequestKind }> = [];
  let hangs = 0;
  let next = 0;

  const newId = () => `bt${(++next).toString(36).padStart(6, '0')}`;

  const send = (response: ServerResponse, status: number, xml: string) => {
    response.writeHead(status, { 'content-type': 'application/xml; charset=utf-8' });
    response.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
  };

  /** Does the work of one request; answers [status, xml]. */
  function handle(method: string, path: string, body: RequestBody): [number, string] {
    const base = `/merchants/${merchantId}/transactions`;
    if (method === 'POST' && path === base) {
      const input = body.transaction ?? {};
      const outcome = NONCES[input.payment_method_nonce ?? ''];
      if (!outcome)
        return [
          422,
          errorXml('Unknown or expired payment_method_nonce.', undefined, '91565', 'payment_method_nonce'),
        ];
      const transaction: FakeTransaction = {
        id: newId(),
        type: 'sale',
        amount: toDecimal(toCents(input.amount ?? '0')),
        currency: 'EUR',
        orderId: input.order_id ?? null,
        merchantAccountId: input.merchant_account_id ?? null,
        refundedTransactionId: null,
        refundIds: [],
        createdAt: timestamp(),
        card: VISA,
        ...outcome,
      };
      if (transaction.status === 'submitted_for_settlement' && !input.options?.submit_for_settlement)
        transaction.status = 'authorized';
      transactions.set(transaction.id, transaction);
      if (transaction.orderId) sales.set(transaction.orderId, (sales.get(transaction.orderId) ?? 0) + 1);
      return transaction.status === 'submitted_for_settlement' || transaction.status === 'authorized'
        ? [201, transactionXml(transaction)]
        : [422, errorXml(outcome.processorResponseText || 'Gateway Rejected', transaction)];
    }
    // Another merchant id under these keys is not found, as at Braintree.
    if (method === 'POST' && path === `/merchants/${merchantId}/client_token`)
      return [201, `<client-token>${tag('value', 'fake-client-token')}</client-token>`];
    if (method === 'POST' && path === `${base}/advanced_search_ids`) {
      const search = body.search ?? {};
      const ids = [...transactions.values()].filter((t) => matches(t, search)).map((t) => t.id);
      return [
        200,
        `<search-results><page-size type="integer">${pageSize}</page-size><ids type="array">${ids
          .map((id) => tag('item', id))
          .join('')}</ids></search-results>`,
      ];
    }
    if (method === 'POST' && path === `${base}/advanced_search`) {
      const ids = body.search?.ids ?? [];
      const found = ids.flatMap((id) => transactions.get(id) ?? []);
      return [
        200,
        `<credit-card-transactions type="collection">${found.map(transactionXml).join('')}</credit-card-transactions>`,
      ];
    }
    const match = /^\/merchants\/[^/]+\/transactions\/([^/]+)(?:\/(refund|void))?$/.exec(path);
    const transaction = match ? transactions.get(match[1]!) : undefined;
    if (!match || !transaction) return [404, ''];
    if (method === 'GET' && !match[2]) return [200, transactionXml(transaction)];
    if (method === 'PUT' && match[2] === 'void') {
      if (!['authorized', 'submitted_for_settlement', 'settlement_pending'].includes(transaction.status))
        return [
          422,
          errorXml(
            'Transaction can only be voided if status is authorized, submitted_for_settlement.',
            undefined,
            '91504',
          ),
        ];
      transaction.status = 'voided';
      return [200, transactionXml(transaction)];
    }
    if (method === 'POST' && match[2] === 'refund') {
      if (!['settled', 'settling'].includes(transaction.status))
        return [422, errorXml('Cannot refund a transaction unless it is settled.', undefined, '91506')];
      const refunded = transaction.refundIds.reduce(
        (sum, id) => sum + toCents(transactions.get(id)?.amount ?? '0'),
        0,
      );
      const cents = body.transaction?.amount
        ? toCents(body.transaction.amount)
        : toCents(transaction.amount) - refunded;
      if (cents + refunded > toCents(transaction.amount))
        return [422, errorXml('Refund amount is too large.', undefined, '91521', 'amount')];
      const credit: FakeTransaction = {
        ...transaction,
        id: newId(),
        type: 'credit',
        status: 'submitted_for_settlement',
        amount: toDecimal(cents),
        orderId: body.transaction?.order_id ?? null,
        refundedTransactionId: transaction.id,
        refundIds: [],
        createdAt: timestamp(),
      };
      transactions.set(credit.id, credit);
      transaction.refundIds.push(credit.id);
      return [201, transactionXml(credit)];
    }
    return [404, ''];
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      requests.push(`${request.method} ${path}`);
      if (hangs > 0) {
        hangs -= 1;
        hanging.add(response);
        return;
      }
      if (request.headers.authorization !== authorization) return send(response, 401, '');
      const kind = kindOf(request.method ?? 'GET', path);
      const at = failures.findIndex((f) => f.on === 'any' || f.on === kind);
      const failure = at >= 0 ? failures.splice(at, 1)[0] : undefined;
      const fail = (status: number | 'hang') =>
        status === 'hang' ? void hanging.add(response) : send(response, status, '');
      if (failure && !failure.afterProcessing) return fail(failure.status);
      let body: RequestBody = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        return send(response, 400, '');
      }
      const [status, xml] = handle(request.method ?? 'GET', path, body);
      if (failure) return fail(failure.status);
      send(response, status, xml);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    merchantId,
    publicKey,
    privateKey,
    transactions,
    requests,
    salesFor: (orderId) => sales.get(orderId) ?? 0,
    failNext(count, status, { afterProcessing = false, on = 'any' } = {}) {
      failures = Array.from({ length: count }, () => ({ status, afterProcessing, on }));
    },
    hangNext(count, options) {
      if (!options) {
        hangs = count;
        return;
      }
      const { afterProcessing = false, on = 'any' } = options;
      failures = Array.from({ length: count }, () => ({ status: 'hang' as const, afterProcessing, on }));
    },
    insertSale({ amount, createdAt = new Date() }) {
      const sale: FakeTransaction = {
        id: newId(),
        type: 'sale',
        amount,
        currency: 'EUR',
        orderId: null,
        merchantAccountId: null,
        refundedTransactionId: null,
        refundIds: [],
        createdAt: timestamp(createdAt),
        card: VISA,
        ...NONCES['fake-valid-nonce']!,
        status: 'settled',
      };
      transactions.set(sale.id, sale);
      return sale;
    },
    settle(id) {
      const transaction = transactions.get(id);
      if (transaction) transaction.status = 'settled';
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
