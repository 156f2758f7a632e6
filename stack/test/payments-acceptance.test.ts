/**
 * Issue 14's flow through the gateway: a buyer reserves, checks out and pays, and gets tickets and
 * a receipt (mail and PDF), then a refund the policy allows and its credit note; with the Sandbox
 * and with the real Stripe and Braintree SDKs against fakes of their APIs.
 */

import { freePort, type ReceivedMail, waitFor } from '@bilten/testkit';
import { expectNoCardNumbers, expectNoCardNumbersInTables } from '@bilten/testkit/checks';
import { type FakeBraintree, startFakeBraintree } from '@bilten/testkit/fakes/braintree';
import { fakeProvidersEnv } from '@bilten/testkit/fakes/providers';
import { type FakeStripe, startFakeStripe } from '@bilten/testkit/fakes/stripe';
import { pdfText } from '@bilten/testkit/pdf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let stripe: FakeStripe;
let braintree: FakeBraintree;
beforeAll(async () => {
  [stripe, braintree] = await Promise.all([startFakeStripe(), startFakeBraintree()]);
  // The mails' links must reach this gateway: its port is chosen first.
  const gatewayPort = await freePort();
  stack = await startTestStack('jetstream', {
    gatewayPort,
    env: {
      PUBLIC_GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
      ...fakeProvidersEnv(stripe, braintree, 'sk_test_acceptance'),
    },
  });
});
afterAll(async () => {
  await stack?.dispose();
  await stripe?.stop();
  await braintree?.close();
});

type Headers = Record<string, string>;
interface Payment {
  id: string;
  status: string;
  provider: string;
  amount: { amount: number; currency: string };
  failureCode: string | null;
  failureMessage: string | null;
  card: { brand: string; last4: string } | null;
}

const call = <T>(query: string, variables: Record<string, unknown>, headers: Headers) =>
  gatewayCall<T>(stack, query, variables, headers);

/**
 * A buyer's order of two 25.00 tickets, checked out and waiting for payment, for an event (June
 * 2027) that refunds in full until a week before it starts.
 */
async function orderToPay(slug: string) {
  const { eventId, ticketTypeId } = await publishedEvent(stack, slug, {
    event: { refundPolicy: { kind: 'FULL_UNTIL', daysBeforeStart: 7 } },
    ticketType: { price: { amount: 2500, currency: 'EUR' }, capacity: 20 },
  });
  const buyer = await stack.signUp({ displayName: 'Lejla Buyer' });
  const reservationId = await waitFor(async () => {
    const { reserveTickets } = await call<{ reserveTickets: { reservation: { id: string } | null } }>(
      `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
      { input: { eventId, items: [{ ticketTypeId, quantity: 2 }] } },
      buyer.headers,
    );
    return reserveTickets.reservation?.id;
  });
  const { checkout } = await call<{ checkout: { order: { id: string } } }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } } }`,
    { input: { reservationId, buyer: { name: 'Lejla Buyer', email: buyer.email } } },
    buyer.headers,
  );
  return { orderId: checkout.order.id, buyer: buyer.headers, email: buyer.email };
}

/** payOrder once billing has orders' charge (it arrives by event). */
function pay(orderId: string, buyer: Headers, provider: string, token: string, key = `key-${token}`) {
  return waitFor(async () => {
    const { payOrder } = await call<{ payOrder: { payment: Payment | null } }>(
      `mutation($input: PayOrderInput!) {
        payOrder(input: $input) {
          payment { id status provider amount { amount currency } failureCode failureMessage card { brand last4 } }
        }
      }`,
      { input: { orderId, provider, paymentMethodToken: token, idempotencyKey: key } },
      buyer,
    );
    return payOrder.payment;
  });
}

/** The order as its buyer reads it, once orders has applied billing's event. */
const paidOrder = (orderId: string, buyer: Headers) =>
  waitFor(async () => {
    const { order } = await call<{
      order: { status: string; tickets: Array<{ status: string }>; payments: Payment[] } | null;
    }>(
      `query($id: ID!) { order(id: $id) { status tickets { status } payments { id status provider } } }`,
      { id: orderId },
      buyer,
    );
    return order?.status === 'PAID' && order;
  });

interface Receipt {
  id: string;
  number: string;
  total: { amount: number; currency: string };
  pdfUrl: string;
}
const RECEIPT_FIELDS = 'id number total { amount currency } pdfUrl';

/** The order's receipt as its buyer reads it, once billing has issued it. */
const receiptOf = (orderId: string, buyer: Headers) =>
  waitFor(async () => {
    const { order } = await call<{ order: { receipt: Receipt | null } | null }>(
      `query($id: ID!) { order(id: $id) { receipt { ${RECEIPT_FIELDS} } } }`,
      { id: orderId },
      buyer,
    );
    return order?.receipt ?? undefined;
  });

/** A PDF through the gateway's door: its text, once it answered 200 with a PDF. */
async function pdfAt(url: string, headers: Headers = {}): Promise<string[]> {
  const response = await fetch(new URL(url, stack.url), { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/pdf');
  expect(response.headers.get('cache-control')).toBe('private, no-store');
  return pdfText(Buffer.from(await response.arrayBuffer()));
}

/** The mail to `address` whose subject starts with `subject`, and the PDF link in it. */
async function mailWithPdf(address: string, subject: string): Promise<{ mail: ReceivedMail; link: string }> {
  const mail = await stack.smtp.waitForMessage(
    (received) =>
      received.envelope.to.includes(address) && (received.parsed.subject ?? '').startsWith(subject),
  );
  const link = (mail.parsed.text ?? '').match(/https?:\/\/\S+\/receipts\/\S+/)![0];
  expect(link.startsWith(new URL('/receipts/', stack.url).toString())).toBe(true);
  return { mail, link };
}

describe('pay through the gateway', () => {
  it('with the Sandbox: a decline gives a safe message, another card pays, tickets follow', async () => {
    const { orderId, buyer } = await orderToPay('pay-sandbox');
    const declined = await pay(orderId, buyer, 'SANDBOX', 'tok_chargeDeclined');
    expect(declined).toMatchObject({
      status: 'FAILED',
      failureCode: 'CARD_DECLINED',
      failureMessage: 'Your card was declined. Try another card.',
    });
    const paid = await pay(orderId, buyer, 'SANDBOX', 'tok_visa');
    expect(paid).toMatchObject({ status: 'SUCCEEDED', amount: { amount: 5000, currency: 'EUR' } });
    const order = await paidOrder(orderId, buyer);
    expect(order.tickets).toEqual([{ status: 'VALID' }, { status: 'VALID' }]);
    expect(order.payments.map((payment) => payment.status)).toEqual(['FAILED', 'SUCCEEDED']);
  });

  it('with the Sandbox: a receipt (PDF and mail), then a refund the policy allows and its credit note', async () => {
    const { orderId, buyer, email } = await orderToPay('receipt-sandbox');
    expect(await pay(orderId, buyer, 'SANDBOX', 'tok_visa')).toMatchObject({ status: 'SUCCEEDED' });
    await paidOrder(orderId, buyer);

    const receipt = await receiptOf(orderId, buyer);
    expect(receipt).toMatchObject({
      number: expect.stringMatching(/^RECEIPT-SANDBOX-\d{4}-000001$/),
      total: { amount: 5000, currency: 'EUR' },
      pdfUrl: `/receipts/${receipt.id}.pdf`,
    });
    // With the buyer's bearer through the gateway; the mail's link opens it without signing in.
    const signedIn = await pdfAt(receipt.pdfUrl, buyer);
    for (const line of ['Receipt', `No. ${receipt.number}`, 'Regular', '€25.00', '€50.00', 'Total paid'])
      expect(signedIn).toContain(line);
    const receiptMail = await mailWithPdf(email, `Your receipt ${receipt.number} from `);
    expect(receiptMail.mail.parsed.text).toContain('€50.00');
    expect(await pdfAt(receiptMail.link)).toEqual(signedIn);
    // Nobody else's bearer opens it; the link without its token opens nothing.
    const stranger = await stack.signUp({ displayName: 'Someone Else' });
    expect((await fetch(new URL(receipt.pdfUrl, stack.url), { headers: stranger.headers })).status).toBe(404);
    expect((await fetch(new URL(receipt.pdfUrl, stack.url))).status).toBe(404);

    const { requestRefund } = await call<{
      requestRefund: { refund: { status: string; amount: { amount: number } } | null; errors: unknown[] };
    }>(
      `mutation($input: RequestRefundInput!) {
        requestRefund(input: $input) { refund { status amount { amount } } errors { code message } }
      }`,
      { input: { orderId } },
      buyer,
    );
    expect(requestRefund).toEqual({ refund: { status: 'SUCCEEDED', amount: { amount: 5000 } }, errors: [] });
    const [creditNote] = await waitFor(async () => {
      const { order } = await call<{ order: { creditNotes: Receipt[] | null } | null }>(
        `query($id: ID!) { order(id: $id) { creditNotes { ${RECEIPT_FIELDS} } } }`,
        { id: orderId },
        buyer,
      );
      return order?.creditNotes?.length ? order.creditNotes : undefined;
    });
    expect(creditNote).toMatchObject({
      number: expect.stringMatching(/^RECEIPT-SANDBOX-CN-\d{4}-000001$/),
      total: { amount: 5000, currency: 'EUR' },
    });
    const noteMail = await mailWithPdf(email, `Your credit note ${creditNote!.number} from `);
    const note = await pdfAt(noteMail.link);
    for (const line of [
      'Credit note',
      `No. ${creditNote!.number}`,
      `Corrects receipt ${receipt.number}`,
      '€50.00',
    ])
      expect(note).toContain(line);
  });

  it('with Stripe (the real SDK against a fake API): one charge, tickets', async () => {
    const { orderId, buyer } = await orderToPay('pay-stripe');
    const paid = await pay(orderId, buyer, 'STRIPE', 'pm_card_visa');
    expect(paid).toMatchObject({ status: 'SUCCEEDED', provider: 'STRIPE', card: { last4: '4242' } });
    expect((await paidOrder(orderId, buyer)).tickets).toHaveLength(2);
    expect(stripe.paymentIntentFor(paid.id)?.amount).toBe(5000);
    expect(stripe.totalCharges()).toBe(1);
    expect(await receiptOf(orderId, buyer)).toMatchObject({ total: { amount: 5000, currency: 'EUR' } });
  });

  it('with Braintree (the real SDK against a fake gateway): one sale, tickets', async () => {
    const { orderId, buyer } = await orderToPay('pay-braintree');
    const paid = await pay(orderId, buyer, 'BRAINTREE', 'fake-valid-nonce');
    expect(paid).toMatchObject({ status: 'SUCCEEDED', provider: 'BRAINTREE', card: { last4: '1111' } });
    expect((await paidOrder(orderId, buyer)).tickets).toHaveLength(2);
    expect(braintree.salesFor(paid.id)).toBe(1);
    expect(await receiptOf(orderId, buyer)).toMatchObject({ total: { amount: 5000, currency: 'EUR' } });
  });

  it('leaves no card number in any log line or table of the flows above', async () => {
    expectNoCardNumbers(stack.logs, 'the stack logs');
    await expectNoCardNumbersInTables(stack.sql, ['identity', 'catalog', 'orders', 'billing', 'messaging']);
  });
});
