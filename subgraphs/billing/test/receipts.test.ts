import { receiptIssued } from '@bilten/contracts/billing';
import { organizationCreated, organizationUpdated } from '@bilten/contracts/identity';
import { refundRequested } from '@bilten/contracts/orders';
import { connectDatabase, createOutbox, type DomainEvent, linkTokenSeal, newEvent } from '@bilten/platform';
import { captureLogs, recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { type FakeStripe, startFakeStripe } from '@bilten/testkit/fakes/stripe';
import Stripe from 'stripe';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReceiptLinks } from '../src/adapters/receipt-links.ts';
import { paymentById, refundById } from '../src/db/queries.ts';
import { eventStore } from '../src/db/schema.ts';
import { issueCreditNote, issueReceipt } from '../src/domain/receipts.ts';
import { billingBuyerKeys, billingSubgraph } from '../src/server.ts';
import {
  type AnnouncedOrder,
  announceOrder,
  announceOrganization,
  type OrderToAnnounce,
  payAnnouncedOrder,
} from './support.ts';

let subgraph: TestSubgraph;
let issued: Awaited<ReturnType<typeof recordEvents<typeof receiptIssued.payload>>>;
let handle: ReturnType<typeof connectDatabase>;
/** As the subgraph makes them in tests (the development secrets). */
const receiptLinks = createReceiptLinks({ NODE_ENV: 'test' });
const YEAR = new Date().getUTCFullYear();

beforeAll(async () => {
  subgraph = await startTestSubgraph(billingSubgraph, 'jetstream');
  issued = await recordEvents(subgraph.testBus.bus, receiptIssued);
  handle = connectDatabase({
    url: subgraph.database.url,
    poolSize: 4,
    applicationName: 'receipts-test',
    log: captureLogs('receipts-test').log,
  });
});

afterAll(async () => {
  await handle?.close();
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

/** What issueReceipt needs, as the subgraph's own outbox and links. */
const deps = () => ({
  outbox: createOutbox(eventStore, 'billing'),
  log: captureLogs('receipts-test').log,
  receiptLinks,
  buyerKeys: billingBuyerKeys({ NODE_ENV: 'test' }, handle.db),
});

const money = (amount: number) => ({ amount, currency: 'EUR' });

interface OrganizationCopy {
  name: string;
  slug: string;
  test_mode: boolean;
}

/** identity publishes an organization event; resolves with billing's copy once `until` holds. */
async function deliverOrganizationEvent(
  event: DomainEvent<{ organizationId: string }>,
  until: (copy: OrganizationCopy) => boolean = () => true,
): Promise<OrganizationCopy> {
  await subgraph.testBus.bus.publish(event);
  return waitFor(async () => {
    const [copy] = await subgraph.sql<OrganizationCopy[]>`
      select name, slug, test_mode from billing.organizations where id = ${event.payload.organizationId}`;
    return copy && until(copy) ? copy : undefined;
  });
}

/** identity renames the organization (organizationUpdated); resolves with billing's copy once it has the name. */
const rename = (organizationId: string, name: string, slug: string) =>
  deliverOrganizationEvent(
    newEvent(organizationUpdated, organizationId, 2, { organizationId, name, slug }),
    (copy) => copy.name === name,
  );

/**
 * identity's organizationCreated, in test mode, arriving after its update; resolves with billing's
 * copy once it is in test mode.
 */
const createdLate = (organizationId: string, name: string, slug: string) =>
  deliverOrganizationEvent(
    newEvent(organizationCreated, organizationId, 1, { organizationId, name, slug, testMode: true }),
    (copy) => copy.test_mode,
  );

/** orders announces an order of the organization, bought by Ada (orderContents(4000) unless given). */
const orderOf = (organizationId: string, contents?: OrderToAnnounce['contents']) =>
  announceOrder(subgraph, { organizationId, amount: 4000, contents, buyerEmail: 'ada@example.com' });

const pay = (order: AnnouncedOrder, token = 'tok_visa') => payAnnouncedOrder(subgraph, order, token);

const RECEIPT_FIELDS = `id kind number issuedAt eventTitle
  seller { organizationId name } buyer { name email }
  lines { description quantity unitPrice { amount currency } amount { amount currency } }
  subtotal { amount } fees { amount } taxes { name rateBasisPoints amount { amount } } total { amount currency }
  creditedReceipt { id } payments { id } refunds { id } pdfUrl`;

interface Receipt {
  id: string;
  kind: string;
  number: string;
  seller: { organizationId: string; name: string };
  lines: Array<{
    description: string;
    quantity: number;
    unitPrice: { amount: number };
    amount: { amount: number };
  }>;
  subtotal: { amount: number };
  fees: { amount: number };
  taxes: Array<{ name: string; rateBasisPoints: number; amount: { amount: number } }>;
  total: { amount: number; currency: string };
  creditedReceipt: { id: string } | null;
  payments: Array<{ id: string }>;
  refunds: Array<{ id: string }>;
}

/** `Order.receipt` and `Order.creditNotes` as the gateway asks for them. */
async function orderReceipts(orderId: string, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{
    _entities: Array<{ receipt: Receipt | null; creditNotes: Receipt[] | null }>;
  }>(
    `query($reps: [_Any!]!) { _entities(representations: $reps) {
      ... on Order { receipt { ${RECEIPT_FIELDS} } creditNotes { ${RECEIPT_FIELDS} } } } }`,
    { reps: [{ __typename: 'Order', id: orderId }] },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!._entities[0]!;
}

async function receiptById(id: string, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{ receipt: Receipt | null }>(
    `query($id: ID!) { receipt(id: $id) { ${RECEIPT_FIELDS} } }`,
    { id },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.receipt;
}

const numbersOf = async (organizationId: string, kind = 'RECEIPT') =>
  (
    await subgraph.sql<Array<{ sequence: number; number: string }>>`
      select sequence, number from billing.receipts
      where organization_id = ${organizationId} and kind = ${kind} order by sequence`
  ).map((row) => row.sequence);

/** An order with fees and taxes, written by hand: 2 × 20.00 + 1 × 50.00, 5.00 fees, 19 % tax. */
const taxedContents = () => ({
  buyerName: 'Ada Lovelace',
  eventTitle: 'Sevdah Night',
  lines: [
    { ticketTypeId: uuidv7(), name: 'General admission', quantity: 2, unitPrice: money(2000) },
    { ticketTypeId: uuidv7(), name: 'VIP', quantity: 1, unitPrice: money(5000) },
  ],
  subtotal: money(9000),
  fees: money(500),
  taxes: money(1805),
  taxBasisPoints: 1900,
  total: money(11305),
});

const REFUND_ORDER = `mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { refund { id status creditNote { id number } } errors { code message } }
}`;

// ---------------------------------------------------------------- issuing and reading

describe('receipts', () => {
  it('issues the receipt of a paid order: number, contents, fees, taxes and total, announced once', async () => {
    const organizationId = await announceOrganization(subgraph, { name: 'Sevdah Bar', slug: 'sevdah-bar' });
    const order = await orderOf(organizationId, taxedContents());
    const payment = await pay(order);
    expect(payment.status).toBe('SUCCEEDED');

    const { receipt, creditNotes } = await orderReceipts(order.orderId, order.buyer);
    expect(creditNotes).toEqual([]);
    expect(receipt).toMatchObject({
      kind: 'RECEIPT',
      number: `SEVDAH-BAR-${YEAR}-000001`,
      eventTitle: 'Sevdah Night',
      seller: { organizationId, name: 'Sevdah Bar' },
      buyer: { name: 'Ada Lovelace', email: 'ada@example.com' },
      lines: [
        {
          description: 'General admission',
          quantity: 2,
          unitPrice: { amount: 2000, currency: 'EUR' },
          amount: { amount: 4000, currency: 'EUR' },
        },
        { description: 'VIP', quantity: 1, unitPrice: { amount: 5000 }, amount: { amount: 5000 } },
      ],
      subtotal: { amount: 9000 },
      fees: { amount: 500 },
      taxes: [{ name: 'Tax', rateBasisPoints: 1900, amount: { amount: 1805 } }],
      total: { amount: 11305, currency: 'EUR' },
      creditedReceipt: null,
      payments: [{ id: payment.id }],
      refunds: [],
    });
    expect(await receiptById(receipt!.id, order.buyer)).toEqual(receipt);

    // receiptIssued once, with a link token only messaging can open, for this receipt alone.
    const events = await waitFor(async () => {
      const mine = issued.filter((event) => event.payload.orderId === order.orderId);
      return mine.length ? mine : undefined;
    });
    expect(events.map((event) => event.payload)).toEqual([
      {
        receiptId: receipt!.id,
        orderId: order.orderId,
        organizationId,
        kind: 'RECEIPT',
        number: `SEVDAH-BAR-${YEAR}-000001`,
        sellerName: 'Sevdah Bar',
        buyerEmail: 'ada@example.com',
        eventTitle: 'Sevdah Night',
        total: { amount: 11305, currency: 'EUR' },
        sealedLinkToken: expect.any(String),
      },
    ]);
    const sealed = events[0]!.payload.sealedLinkToken;
    expect(linkTokenSeal({ NODE_ENV: 'test' }).open(sealed, receipt!.id)).toBe(
      receiptLinks.token(receipt!.id),
    );
    expect(() => linkTokenSeal({ NODE_ENV: 'test' }).open(sealed, order.orderId)).toThrow();
    const outboxed = await subgraph.sql`
      select 1 from billing.outbox where type = ${receiptIssued.type} and payload->>'orderId' = ${order.orderId}`;
    expect(outboxed).toHaveLength(1);
  });

  it('shows a receipt to its buyer and organization only; unknown and malformed ids are null, not errors', async () => {
    const organizationId = await announceOrganization(subgraph, { name: 'Kafana', slug: 'kafana' });
    const order = await orderOf(organizationId);
    await pay(order);
    const { receipt } = await orderReceipts(order.orderId, order.buyer);
    expect(receipt).not.toBeNull();

    const admin = await subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: 'ADMIN' } });
    expect((await receiptById(receipt!.id, admin))?.id).toBe(receipt!.id);
    expect((await orderReceipts(order.orderId, admin)).receipt?.id).toBe(receipt!.id);

    const strangers = [
      await subgraph.bearer({ sub: uuidv7() }),
      await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'OWNER' } }),
      await subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: 'STAFF' } }),
      {},
    ];
    for (const stranger of strangers) {
      expect(await receiptById(receipt!.id, stranger)).toBeNull();
      expect(await orderReceipts(order.orderId, stranger)).toEqual({ receipt: null, creditNotes: [] });
    }
    for (const id of ['not-a-uuid', "1' or '1'='1", uuidv7(), receipt!.id.toUpperCase().replace(/-/g, '')])
      expect(await receiptById(id, order.buyer)).toBeNull();
    // The upper-case form of a real id is the same id.
    expect((await receiptById(receipt!.id.toUpperCase(), order.buyer))?.id).toBe(receipt!.id);
  });

  it('an organization billing has not heard of yet: ORG prefix and its id as the seller', async () => {
    const organizationId = uuidv7();
    const order = await orderOf(organizationId);
    await pay(order);
    const { receipt } = await orderReceipts(order.orderId, order.buyer);
    expect(receipt).toMatchObject({
      number: `ORG-${YEAR}-000001`,
      seller: { organizationId, name: organizationId },
    });
  });

  it('a rename shows on later receipts, not earlier ones; the number series keeps its prefix', async () => {
    const organizationId = await announceOrganization(subgraph, { name: 'Old Name', slug: 'old-name' });
    const first = await orderOf(organizationId);
    await pay(first);

    await rename(organizationId, 'New Name', 'new-name');
    // A late (redelivered) organizationCreated neither brings the old name back nor drops testMode.
    const copy = await createdLate(organizationId, 'Old Name', 'old-name');
    expect(copy).toEqual({ name: 'New Name', slug: 'new-name', test_mode: true });

    const second = await orderOf(organizationId);
    await pay(second);
    expect((await orderReceipts(first.orderId, first.buyer)).receipt).toMatchObject({
      number: `OLD-NAME-${YEAR}-000001`,
      seller: { name: 'Old Name' },
    });
    expect((await orderReceipts(second.orderId, second.buyer)).receipt).toMatchObject({
      number: `OLD-NAME-${YEAR}-000002`,
      seller: { name: 'New Name' },
    });
  });

  it('an update before its organizationCreated: the name stays the update’s, testMode comes from created', async () => {
    const organizationId = uuidv7();
    await rename(organizationId, 'Renamed', 'renamed');
    const copy = await createdLate(organizationId, 'First', 'first');
    expect(copy).toEqual({ name: 'Renamed', slug: 'renamed', test_mode: true });
  });
});

// ---------------------------------------------------------------- numbers

describe('receipt numbers', () => {
  it('stay gapless under concurrency: 30 orders paid at once, and a rolled-back issue in the middle', async () => {
    const organizationId = await announceOrganization(subgraph, { name: 'Busy Club', slug: 'busy' });
    const orders = await Promise.all(Array.from({ length: 30 }, () => orderOf(organizationId)));
    // An order whose receipt is issued in a transaction that then fails, holding its number meanwhile.
    const doomed = await orderOf(organizationId);
    const waiting = await pay(doomed, 'tok_threeDSecureRequired');
    expect(waiting.status).toBe('REQUIRES_ACTION');
    const doomedPayment = (await paymentById(handle.db, waiting.id))!;
    let tookNumber = false;
    const rolledBack = handle.db
      .transaction(async (tx) => {
        const receipt = await issueReceipt(tx, deps(), doomedPayment);
        tookNumber = receipt !== null;
        await new Promise((resolve) => setTimeout(resolve, 150));
        throw new Error('forced rollback');
      })
      .catch((error: Error) => error.message);

    const payments = await Promise.all(orders.map((order) => pay(order)));
    expect(payments.every((payment) => payment.status === 'SUCCEEDED')).toBe(true);
    expect(await rolledBack).toBe('forced rollback');
    expect(tookNumber).toBe(true);

    expect(await numbersOf(organizationId)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const [counter] = await subgraph.sql`
      select last_number from billing.receipt_counters where organization_id = ${organizationId}`;
    expect(counter).toEqual({ last_number: 30 });
    expect(
      await subgraph.sql`select 1 from billing.receipts where order_id = ${doomed.orderId}`,
    ).toHaveLength(0);
    const announced = await subgraph.sql`
      select 1 from billing.outbox where type = ${receiptIssued.type} and payload->>'organizationId' = ${organizationId}`;
    expect(announced).toHaveLength(30);
  });

  it('a second payment of an order gets no receipt and takes no number, even when both succeed at once', async () => {
    const organizationId = await announceOrganization(subgraph, { name: 'Twice Paid', slug: 'twice' });
    const order = await orderOf(organizationId);
    const live = await pay(order, 'tok_threeDSecureRequired');
    // The other attempt (a FAILED row may coexist with the live one: payments_one_live_per_order).
    const otherId = uuidv7();
    await subgraph.sql`
      insert into billing.payments (id, order_id, provider, status, amount, currency, idempotency_key)
      values (${otherId}, ${order.orderId}, 'SANDBOX', 'FAILED', 4000, 'EUR', ${uuidv7()})`;
    const rows = [(await paymentById(handle.db, live.id))!, (await paymentById(handle.db, otherId))!];

    // The first issue stays uncommitted a while; the second starts meanwhile and must wait for it.
    let firstIssued = false;
    const first = handle.db.transaction(async (tx) => {
      const receipt = await issueReceipt(tx, deps(), rows[0]!);
      firstIssued = true;
      await new Promise((resolve) => setTimeout(resolve, 200));
      return receipt;
    });
    await waitFor(async () => firstIssued || undefined);
    const second = handle.db.transaction((tx) => issueReceipt(tx, deps(), rows[1]!));
    const [receipt, none] = await Promise.all([first, second]);
    expect(receipt?.paymentId).toBe(live.id);
    expect(none).toBeNull();
    // Again, afterwards: nothing more.
    for (const row of rows)
      expect(await handle.db.transaction((tx) => issueReceipt(tx, deps(), row))).toBeNull();

    const next = await orderOf(organizationId);
    await pay(next);
    expect(await numbersOf(organizationId)).toEqual([1, 2]);
  });
});

// ---------------------------------------------------------------- credit notes

describe('credit notes', () => {
  it('partial then full refund: CN 1 and 2, split like the receipt, adding up exactly', async () => {
    const organizationId = await announceOrganization(subgraph, { name: 'Sevdah Bar', slug: 'sevdah' });
    const order = await orderOf(organizationId, taxedContents());
    await pay(order);
    const admin = await subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: 'ADMIN' } });

    const partial = await subgraph.gql<{
      refundOrder: { refund: { id: string; status: string; creditNote: { number: string } | null } };
    }>(
      REFUND_ORDER,
      { input: { orderId: order.orderId, amount: money(3000), reason: 'Seat was broken' } },
      admin,
    );
    expect(partial.data!.refundOrder.refund).toMatchObject({
      status: 'SUCCEEDED',
      creditNote: { number: `SEVDAH-CN-${YEAR}-000001` },
    });
    const rest = await subgraph.gql<{
      refundOrder: { refund: { id: string; status: string; creditNote: { number: string } | null } };
    }>(REFUND_ORDER, { input: { orderId: order.orderId, reason: 'Goodwill' } }, admin);
    expect(rest.data!.refundOrder.refund).toMatchObject({
      status: 'SUCCEEDED',
      creditNote: { number: `SEVDAH-CN-${YEAR}-000002` },
    });

    const { receipt, creditNotes } = await orderReceipts(order.orderId, order.buyer);
    expect(receipt!.refunds.map((refund) => refund.id)).toEqual([
      partial.data!.refundOrder.refund.id,
      rest.data!.refundOrder.refund.id,
    ]);
    // 3000 × 1805 / 11305 = 478.99 → 479 taxes, × 500 / 11305 = 132.69 → 133 fees, the rest subtotal.
    expect(creditNotes).toMatchObject([
      {
        kind: 'CREDIT_NOTE',
        number: `SEVDAH-CN-${YEAR}-000001`,
        creditedReceipt: { id: receipt!.id },
        lines: [{ description: 'Refund: Seat was broken', quantity: 1, amount: { amount: 3000 } }],
        subtotal: { amount: 2388 },
        fees: { amount: 133 },
        taxes: [{ rateBasisPoints: 1900, amount: { amount: 479 } }],
        total: { amount: 3000 },
      },
      {
        number: `SEVDAH-CN-${YEAR}-000002`,
        creditedReceipt: { id: receipt!.id },
        lines: [{ description: 'Refund: Goodwill', amount: { amount: 8305 } }],
        subtotal: { amount: 6612 },
        fees: { amount: 367 },
        taxes: [{ amount: { amount: 1326 } }],
        total: { amount: 8305 },
      },
    ]);
    for (const note of creditNotes!)
      expect(note.subtotal.amount + note.fees.amount + note.taxes[0]!.amount.amount).toBe(note.total.amount);
    // Receipts keep their own series.
    expect(await numbersOf(organizationId)).toEqual([1]);
    const announced = await subgraph.sql<Array<{ kind: string; number: string }>>`
      select payload->>'kind' as kind, payload->>'number' as number from billing.outbox
      where type = ${receiptIssued.type} and payload->>'orderId' = ${order.orderId}`;
    expect(
      [...announced].sort((a, b) => a.kind.localeCompare(b.kind) || a.number.localeCompare(b.number)),
    ).toEqual([
      { kind: 'CREDIT_NOTE', number: `SEVDAH-CN-${YEAR}-000001` },
      { kind: 'CREDIT_NOTE', number: `SEVDAH-CN-${YEAR}-000002` },
      { kind: 'RECEIPT', number: `SEVDAH-${YEAR}-000001` },
    ]);
  });

  it("orders' refund of a cancelled event gets a credit note in words; a refund of an unreceipted payment none", async () => {
    const organizationId = await announceOrganization(subgraph, { name: 'Cancelled Club', slug: 'gone' });
    const order = await orderOf(organizationId);
    const payment = await pay(order);
    const refundId = uuidv7();
    await subgraph.testBus.bus.publish(
      newEvent(refundRequested, order.orderId, 2, {
        orderId: order.orderId,
        refundId,
        amount: money(4000),
        reason: 'EVENT_CANCELLED',
      }),
    );
    const [note] = await waitFor(async () => {
      const rows = await subgraph.sql`
        select number, lines, payment_id, total from billing.receipts where refund_id = ${refundId}`;
      return rows.length ? rows : undefined;
    });
    expect(note).toEqual({
      number: `GONE-CN-${YEAR}-000001`,
      lines: [{ description: 'Refund: event cancelled', quantity: 1, unitAmount: 4000, amount: 4000 }],
      payment_id: payment.id,
      total: 4000,
    });

    // A payment of the order without its receipt (a duplicate orders refunds): its refund has no note.
    const duplicateId = uuidv7();
    await subgraph.sql`
      insert into billing.payments (id, order_id, provider, status, amount, currency, idempotency_key,
        provider_payment_id)
      values (${duplicateId}, ${order.orderId}, 'SANDBOX', 'FAILED', 4000, 'EUR', ${uuidv7()}, ${`sbx_${uuidv7()}`})`;
    const refundOfDuplicate = uuidv7();
    await subgraph.sql`
      insert into billing.refunds (id, payment_id, order_id, amount, currency, reason, status)
      values (${refundOfDuplicate}, ${duplicateId}, ${order.orderId}, 4000, 'EUR', 'DUPLICATE_PAYMENT', 'SUCCEEDED')`;
    const stored = (await refundById(handle.db, refundOfDuplicate))!;
    expect(await handle.db.transaction((tx) => issueCreditNote(tx, deps(), stored))).toBeNull();
    expect(await numbersOf(organizationId, 'CREDIT_NOTE')).toEqual([1]);
  });
});

// ---------------------------------------------------------------- the webhook path

const WEBHOOK_SECRET = 'whsec_test_bilten_receipts';

describe('a payment completed by Stripe webhook', () => {
  let fake: FakeStripe;
  let stripeSubgraph: TestSubgraph;

  beforeAll(async () => {
    fake = await startFakeStripe();
    stripeSubgraph = await startTestSubgraph(billingSubgraph, 'in-process', {
      env: {
        STRIPE_SECRET_KEY: 'sk_test_fake_stripe',
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        STRIPE_API_HOST: fake.host,
        STRIPE_API_PORT: String(fake.port),
        STRIPE_API_PROTOCOL: fake.protocol,
      },
    });
  });

  afterAll(async () => {
    await stripeSubgraph?.dispose();
    await fake?.stop();
  });

  it('issues the receipt once, however often Stripe delivers', async () => {
    const organizationId = await announceOrganization(stripeSubgraph, { name: 'Webhook Hall', slug: 'hall' });
    const order = await announceOrder(stripeSubgraph, {
      organizationId,
      amount: 4200,
      buyerEmail: 'ada@example.com',
    });
    const { orderId, buyer: headers } = order;
    const payment = await payAnnouncedOrder(stripeSubgraph, order, 'pm_card_threeDSecureRequired', 'STRIPE');
    expect(payment.status).toBe('REQUIRES_ACTION');
    const [{ provider_payment_id: intentId }] = await stripeSubgraph.sql<[{ provider_payment_id: string }]>`
      select provider_payment_id from billing.payments where id = ${payment.id}`;
    expect(await stripeSubgraph.sql`select 1 from billing.receipts where order_id = ${orderId}`).toHaveLength(
      0,
    );

    const payload = fake.eventPayload('payment_intent.succeeded', fake.completeAction(intentId));
    const deliver = () =>
      fetch(new URL('/webhooks/stripe', stripeSubgraph.service.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }),
        },
        body: payload,
      });
    expect((await deliver()).status).toBe(200);
    expect((await deliver()).status).toBe(200);

    const receipts = await stripeSubgraph.sql`
      select number, seller_name, payment_id, total from billing.receipts where order_id = ${orderId}`;
    expect(receipts).toEqual([
      {
        number: `HALL-${YEAR}-000001`,
        seller_name: 'Webhook Hall',
        payment_id: payment.id,
        total: 4200,
      },
    ]);
    const announced = await stripeSubgraph.sql`
      select 1 from billing.outbox where type = ${receiptIssued.type} and payload->>'orderId' = ${orderId}`;
    expect(announced).toHaveLength(1);
    const { data: seen } = await stripeSubgraph.gql<{
      _entities: Array<{ receipt: { number: string } | null }>;
    }>(
      `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Order { receipt { number } } } }`,
      { reps: [{ __typename: 'Order', id: orderId }] },
      headers,
    );
    expect(seen!._entities[0]!.receipt).toEqual({ number: `HALL-${YEAR}-000001` });
  });
});
