import { receiptIssued } from '@bilten/contracts/billing';
import { linkTokenSeal } from '@bilten/platform';
import {
  type CallerHeaders,
  recordEvents,
  startTestSubgraph,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { pdfText } from '@bilten/testkit/pdf';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReceiptLinks } from '../src/adapters/receipt-links.ts';
import { billingSubgraph } from '../src/server.ts';
import { announceOrder, announceOrganization, payAnnouncedOrder } from './support.ts';

let subgraph: TestSubgraph;
let issued: Awaited<ReturnType<typeof recordEvents<typeof receiptIssued.payload>>>;
// The subgraph runs without RECEIPT_LINK_SECRET and MAIL_LINK_SECRET outside production: the development keys.
const links = createReceiptLinks({ NODE_ENV: 'development' });
const mailLinks = linkTokenSeal({ NODE_ENV: 'development' });

const ORGANIZATION = uuidv7();

beforeAll(async () => {
  subgraph = await startTestSubgraph(billingSubgraph, 'jetstream');
  issued = await recordEvents(subgraph.testBus.bus, receiptIssued);
  await announceOrganization(subgraph, {
    organizationId: ORGANIZATION,
    name: 'Sevdah Večeri',
    slug: 'sevdah',
  });
});

afterAll(async () => {
  await subgraph?.dispose();
});

const eur = (amount: number) => ({ amount, currency: 'EUR' });

interface PaidOrder {
  orderId: string;
  buyer: CallerHeaders;
  receiptId: string;
  number: string;
}

/**
 * Orders announces two 25.00 tickets and a 2.50 cloakroom ticket, 3.00 fees and 11.02 taxes at
 * 19 %: 66.52 in all. The buyer pays with tok_visa, and billing issues the receipt.
 */
async function paidOrder(): Promise<PaidOrder> {
  const order = await announceOrder(subgraph, {
    organizationId: ORGANIZATION,
    buyerEmail: 'emina@example.com',
    contents: {
      buyerName: 'Emina Hadžić',
      eventTitle: 'Sevdah Night',
      lines: [
        { ticketTypeId: uuidv7(), name: 'General admission', quantity: 2, unitPrice: eur(2500) },
        { ticketTypeId: uuidv7(), name: 'Cloakroom', quantity: 1, unitPrice: eur(250) },
      ],
      subtotal: eur(5250),
      fees: eur(300),
      taxes: eur(1102),
      taxBasisPoints: 1900,
      total: eur(6652),
    },
  });
  expect((await payAnnouncedOrder(subgraph, order)).status).toBe('SUCCEEDED');
  const [receipt] = await subgraph.sql<Array<{ id: string; number: string }>>`
    select id, number from billing.receipts where order_id = ${order.orderId} and kind = 'RECEIPT'`;
  return { orderId: order.orderId, buyer: order.buyer, receiptId: receipt!.id, number: receipt!.number };
}

const getFile = (path: string, headers: CallerHeaders = {}) =>
  fetch(new URL(path, subgraph.service.url), { headers });

async function pdfOf(response: Response): Promise<string[]> {
  expect(response.status).toBe(200);
  const body = Buffer.from(await response.arrayBuffer());
  expect(body.subarray(0, 5).toString()).toBe('%PDF-');
  return pdfText(body);
}

describe('GET /receipts/{id}.pdf', () => {
  it("gives the buyer, the organization's ADMIN and OWNER and platform ADMINs the receipt, never cached", async () => {
    const order = await paidOrder();
    expect(order.number).toMatch(/^SEVDAH-\d{4}-\d{6}$/);
    const callers = [
      order.buyer,
      await subgraph.bearer({ sub: uuidv7(), orgs: { [ORGANIZATION]: 'ADMIN' } }),
      await subgraph.bearer({ sub: uuidv7(), orgs: { [ORGANIZATION]: 'OWNER' } }),
      await subgraph.bearer({ sub: uuidv7(), roles: ['ADMIN'] }),
    ];
    const bodies: string[] = [];
    for (const headers of callers) {
      const response = await getFile(`/receipts/${order.receiptId}.pdf`, headers);
      expect(response.headers.get('content-type')).toBe('application/pdf');
      expect(response.headers.get('cache-control')).toBe('private, no-store');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-disposition')).toBe(
        `inline; filename="receipt-${order.number}.pdf"`,
      );
      const text = await pdfOf(response);
      bodies.push(text.join('\n'));
      for (const line of [
        'Receipt',
        `No. ${order.number}`,
        // Letters the standard fonts lack lose their accents rather than print as garbage.
        'Sevdah Veceri',
        'Emina Hadzic <emina@example.com>',
        'Sevdah Night',
        'General admission',
        '€25.00',
        '€50.00',
        'Cloakroom',
        '€2.50',
        '€52.50',
        'Fees',
        '€3.00',
        'Taxes (19 %)',
        '€11.02',
        'Total paid',
        '€66.52',
        'Sandbox (test), Visa ending 4242',
      ])
        expect(text).toContain(line);
    }
    // Printed from the frozen row alone: whoever asks, the same document.
    expect(new Set(bodies).size).toBe(1);
  });

  it('opens with the link token the receipt mail carries, and only for its own receipt', async () => {
    const order = await paidOrder();
    const other = await paidOrder();
    const event = await waitFor(async () =>
      issued.find((issuedEvent) => issuedEvent.payload.receiptId === order.receiptId),
    );
    // What messaging opens from the event is the link's token.
    const token = mailLinks.open(event.payload.sealedLinkToken, order.receiptId);
    expect(token).toBe(links.token(order.receiptId));
    expect(await pdfOf(await getFile(`/receipts/${order.receiptId}.pdf?token=${token}`))).toContain('€66.52');
    for (const wrong of [
      links.token(other.receiptId),
      'nope',
      token.slice(1),
      `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
      'x'.repeat(5000),
    ])
      expect(
        (await getFile(`/receipts/${order.receiptId}.pdf?token=${encodeURIComponent(wrong)}`)).status,
      ).toBe(404);
  });

  it('answers anyone else as for an unknown receipt, malformed ids too, and a bad token 401', async () => {
    const order = await paidOrder();
    const strangers = [
      {},
      // Another customer, with a receipt of their own.
      (await paidOrder()).buyer,
      // Staff sell and scan tickets; money is for ADMIN and OWNER.
      await subgraph.bearer({ sub: uuidv7(), orgs: { [ORGANIZATION]: 'STAFF' } }),
      await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'OWNER' } }),
      await subgraph.bearer({
        sub: uuidv7(),
        kind: 'api_key',
        org: ORGANIZATION,
        scopes: ['checkin'],
        mode: 'LIVE',
      }),
    ];
    for (const headers of strangers) {
      const response = await getFile(`/receipts/${order.receiptId}.pdf`, headers);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(response.headers.get('cache-control')).toBe('private, no-store');
      expect(await response.text()).toBe('no such receipt');
    }
    for (const path of [
      `/receipts/${uuidv7()}.pdf`,
      `/receipts/${order.receiptId}`,
      `/receipts/${order.receiptId}.pdf.pdf`,
      `/receipts/${order.receiptId.slice(1)}.pdf`,
      '/receipts/..%2F..%2Fetc%2Fpasswd.pdf',
      '/receipts/%00.pdf',
      `/receipts/${order.number}.pdf`,
    ])
      expect((await getFile(path, order.buyer)).status).toBe(404);
    expect(
      (await getFile(`/receipts/${order.receiptId}.pdf`, { authorization: 'Bearer not.a.token' })).status,
    ).toBe(401);
  });

  it("prints a refund's credit note with the receipt it corrects", async () => {
    const order = await paidOrder();
    const admin = await subgraph.bearer({ sub: uuidv7(), orgs: { [ORGANIZATION]: 'ADMIN' } });
    const { data, errors } = await subgraph.gql<{ refundOrder: { refund: { status: string } | null } }>(
      `mutation($input: RefundOrderInput!) { refundOrder(input: $input) { refund { status } errors { code } } }`,
      { input: { orderId: order.orderId, amount: eur(2500), reason: 'One guest could not come' } },
      admin,
    );
    expect(errors).toBeUndefined();
    expect(data!.refundOrder.refund?.status).toBe('SUCCEEDED');
    const note = await waitFor(
      async () =>
        (
          await subgraph.sql<Array<{ id: string; number: string }>>`
            select id, number from billing.receipts where order_id = ${order.orderId} and kind = 'CREDIT_NOTE'`
        )[0],
    );
    expect(note.number).toMatch(/^SEVDAH-CN-\d{4}-\d{6}$/);
    const response = await getFile(`/receipts/${note.id}.pdf`, order.buyer);
    expect(response.headers.get('content-disposition')).toBe(`inline; filename="receipt-${note.number}.pdf"`);
    const text = await pdfOf(response);
    for (const line of [
      'Credit note',
      `No. ${note.number}`,
      `Corrects receipt ${order.number}`,
      'Total refunded',
      '€25.00',
    ])
      expect(text).toContain(line);
    expect(text).not.toContain('Total paid');
    // Its own link token; the receipt's opens no credit note.
    expect((await getFile(`/receipts/${note.id}.pdf?token=${links.token(note.id)}`)).status).toBe(200);
    expect((await getFile(`/receipts/${note.id}.pdf?token=${links.token(order.receiptId)}`)).status).toBe(
      404,
    );
  });
});
