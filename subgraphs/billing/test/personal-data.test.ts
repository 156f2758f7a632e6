import { createHash } from 'node:crypto';
import { personalDataErased, personalDataExported } from '@bilten/contracts/billing';
import { orderCreated } from '@bilten/contracts/orders';
import { ERASED_EMAIL, ERASED_NAME, newEvent } from '@bilten/platform';
import {
  personalDataLeftIn,
  privacyRequests,
  startTestSubgraph,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingSubgraph } from '../src/server.ts';
import { announceOrganization, orderContents, orderTerms, payAnnouncedOrder } from './support.ts';

// Billing's step of a user's export and erasure (issue 18), driven as identity drives it: over the bus.

let subgraph: TestSubgraph;
let privacy: Awaited<ReturnType<typeof privacyRequests>>;
let world: Awaited<ReturnType<typeof adaAndBerina>>;

const ADA = { userId: uuidv7(), email: 'ada.privacy@example.com', name: 'Ada Privatna' };
const ADA_AS_GUEST = 'Ada Gostujuća';
const BERINA = { userId: uuidv7(), email: 'berina.other@example.org', name: 'Berina Druga' };

beforeAll(async () => {
  subgraph = await startTestSubgraph(billingSubgraph, 'jetstream');
  privacy = await privacyRequests(subgraph.testBus.bus, {
    exported: personalDataExported,
    erased: personalDataErased,
  });
  world = await adaAndBerina();
});

afterAll(async () => {
  await subgraph?.dispose();
});

/** orders announces an order of `buyer` (a guest without `userId`), which its buyer pays; resolves once its receipt is issued. */
async function paidOrder(
  organizationId: string,
  buyer: { userId: string | null; email: string; name: string },
) {
  const orderId = uuidv7();
  const guestToken = buyer.userId ? null : `guest-token-${uuidv7()}-0123456789`;
  await subgraph.testBus.bus.publish(
    newEvent(orderCreated, orderId, 1, {
      orderId,
      eventId: uuidv7(),
      organizationId,
      buyerId: buyer.userId,
      guestTokenHash: guestToken ? createHash('sha256').update(guestToken).digest('hex') : null,
      ...orderTerms(),
      buyerEmail: buyer.email,
      ...orderContents(4200),
      buyerName: buyer.name,
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    }),
  );
  await waitFor(
    async () => (await subgraph.sql`select 1 from billing.order_charges where order_id = ${orderId}`).length,
  );
  const payment = await payAnnouncedOrder(subgraph, {
    orderId,
    buyer: buyer.userId ? await subgraph.bearer({ sub: buyer.userId }) : {},
    guestToken,
  });
  expect(payment.status).toBe('SUCCEEDED');
  const [receipt] = await waitFor(async () => {
    const rows = await subgraph.sql<
      Array<{ id: string }>
    >`select id from billing.receipts where order_id = ${orderId}`;
    return rows.length > 0 && rows;
  });
  return { orderId, paymentId: payment.id, receiptId: receipt!.id };
}

/** Ada's paid order, her guest order under the same address (in other letters), and Berina's. */
async function adaAndBerina() {
  const organizationId = await announceOrganization(subgraph, { name: 'Sevdah Privacy Hall' });
  const hers = await paidOrder(organizationId, ADA);
  const asGuest = await paidOrder(organizationId, {
    userId: null,
    email: 'Ada.Privacy@Example.COM',
    name: ADA_AS_GUEST,
  });
  const theirs = await paidOrder(organizationId, BERINA);
  return { hers, asGuest, theirs };
}

describe("billing's step of a user's privacy requests", () => {
  it("exports her orders, payments and receipts, without tokens and without anyone else's", async () => {
    const part = (await privacy.exportOf(ADA.userId)) as {
      service: string;
      orders: Array<{ orderId: string; buyerEmail: string; buyerName: string; createdAt: string }>;
      payments: Array<{ id: string; status: string; card: unknown }>;
      receipts: Array<{ id: string; buyerEmail: string; number: string; total: number }>;
      refunds: unknown[];
    };
    expect(part.service).toBe('billing');
    expect(part.orders).toEqual([
      expect.objectContaining({ orderId: world.hers.orderId, buyerEmail: ADA.email, buyerName: ADA.name }),
    ]);
    expect(part.orders[0]!.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/);
    expect(part.payments).toEqual([
      expect.objectContaining({ id: world.hers.paymentId, status: 'SUCCEEDED' }),
    ]);
    expect(part.receipts).toEqual([
      expect.objectContaining({ id: world.hers.receiptId, buyerEmail: ADA.email, total: 4200 }),
    ]);
    const text = JSON.stringify(part);
    for (const notHers of [BERINA.email, BERINA.name, world.theirs.orderId, 'tok_visa', 'Sealed'])
      expect(text).not.toContain(notHers);
  });

  it('erases her: receipts and payments kept for the tax period, anonymized; tokens gone; others untouched; once', async () => {
    await waitFor(async () => {
      const [row] = await subgraph.sql<
        [{ n: number }]
      >`select count(*)::int as n from billing.outbox where sent_at is null`;
      return row.n === 0;
    });
    const request = privacy.erasureRequest({ userId: ADA.userId, email: 'ADA.privacy@example.com' });
    const summary = await privacy.erase(request);
    expect(summary).toMatchObject({
      'receipts.anonymized': 2,
      'payments.tokens_deleted': 2,
      'payments.tokens_kept_unsettled': 0,
      'order_charges.anonymized': 2,
      'person_keys.destroyed': 2,
    });
    expect(summary['outbox.purged']).toBeGreaterThan(0);

    expect(await personalDataLeftIn(subgraph.sql, ['billing'], [ADA.email, ADA.name, ADA_AS_GUEST])).toEqual(
      [],
    );

    // The accounting records stay, numbered and totalled as issued, made out to no one.
    const ids = [world.hers.receiptId, world.asGuest.receiptId];
    const receipts = await subgraph.sql`
      select buyer_name_sealed, buyer_email_sealed, buyer_email_index, total, number like '%-000%' as numbered
      from billing.receipts where id in ${subgraph.sql(ids)}`;
    const anonymized = {
      buyer_name_sealed: ERASED_NAME,
      buyer_email_sealed: ERASED_EMAIL,
      buyer_email_index: null,
      total: 4200,
      numbered: true,
    };
    expect(receipts).toEqual([anonymized, anonymized]);
    const payments = await subgraph.sql`
      select status, amount, payment_method_token_sealed is null as token_gone, card is not null as has_card
      from billing.payments where id in ${subgraph.sql([world.hers.paymentId, world.asGuest.paymentId])}`;
    expect(payments).toEqual([
      { status: 'SUCCEEDED', amount: 4200, token_gone: true, has_card: true },
      { status: 'SUCCEEDED', amount: 4200, token_gone: true, has_card: true },
    ]);
    // Berina's order, receipt and token are as they were (sealed under her key, which lives).
    const [theirs] = await subgraph.sql`
      select c.buyer_email_sealed like 'p1.%' as sealed, r.buyer_email_sealed like 'p1.%' as receipt_sealed,
        p.payment_method_token_sealed is not null as has_token,
        (select destroyed_at is null from billing.person_keys where person_id = ${BERINA.userId}) as key_alive
      from billing.order_charges c join billing.receipts r on r.order_id = c.order_id join billing.payments p on p.order_id = c.order_id
      where c.order_id = ${world.theirs.orderId}`;
    expect(theirs).toEqual({ sealed: true, receipt_sealed: true, has_token: true, key_alive: true });

    // A redelivery of the request answers nothing more; a second erasure finds nothing left.
    await subgraph.testBus.bus.publish(request);
    const again = await privacy.erase(privacy.erasureRequest({ userId: ADA.userId, email: ADA.email }));
    expect(privacy.answersTo(request.payload.requestId)).toHaveLength(1);
    expect(again).toMatchObject({
      'receipts.anonymized': 0,
      'payments.tokens_deleted': 0,
      'order_charges.anonymized': 0,
    });
  });
});
