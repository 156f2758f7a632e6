import { orderCreated } from '@bilten/contracts/orders';
import { recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { charges } from '../src/domain/pricing.ts';
import { ordersSubgraph } from '../src/server.ts';
import { catalogOffers, offerPayload, reserve, ticketTypeOffer, type UserError } from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let created: Awaited<ReturnType<typeof recordEvents<typeof orderCreated.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  created = await recordEvents(subgraph.testBus.bus, orderCreated);
});

afterAll(async () => {
  await subgraph?.dispose();
});

interface Pricing {
  organizationId: string;
  feeBasisPoints: number;
  feePerTicket: Array<{ amount: number; currency: string }>;
  taxBasisPoints: number;
  updatedAt: string | null;
}

const PRICING_FIELDS =
  'organizationId feeBasisPoints feePerTicket { amount currency } taxBasisPoints updatedAt';

const member = (organizationId: string, role: string) =>
  subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: role } });

async function setPricing(input: Record<string, unknown>, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{
    setOrganizationPricing: { pricing: Pricing | null; errors: UserError[] };
  }>(
    `mutation($input: SetOrganizationPricingInput!) {
      setOrganizationPricing(input: $input) { pricing { ${PRICING_FIELDS} } errors { code message field } }
    }`,
    { input },
    headers,
  );
  return {
    payload: data?.setOrganizationPricing ?? null,
    codes: errors?.map((error) => error.extensions?.code),
  };
}

async function pricingSeenBy(organizationId: string, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{ organizationPricing: Pricing | null }>(
    `query($id: ID!) { organizationPricing(organizationId: $id) { ${PRICING_FIELDS} } }`,
    { id: organizationId },
    headers,
  );
  return {
    pricing: data?.organizationPricing ?? null,
    codes: errors?.map((error) => error.extensions?.code),
  };
}

const rules = (organizationId: string, overrides: Record<string, unknown> = {}) => ({
  organizationId,
  feeBasisPoints: 250,
  feePerTicket: [{ currency: 'EUR', amount: 30 }],
  taxBasisPoints: 1700,
  ...overrides,
});

const storedRules = (organizationId: string) =>
  subgraph.sql`select fee_basis_points, fee_per_ticket, tax_basis_points
    from orders.organization_pricing where organization_id = ${organizationId}`;

describe('charges (the rule)', () => {
  it('rounds each share half up to the minor unit', () => {
    const eur = { feeBasisPoints: 2500, feePerTicket: {}, taxBasisPoints: 0 };
    expect(charges(eur, { subtotal: 2, tickets: 1, currency: 'EUR' }).fees).toBe(1); // 0.5 → 1
    expect(charges(eur, { subtotal: 1, tickets: 1, currency: 'EUR' }).fees).toBe(0); // 0.25 → 0
    expect(charges(eur, { subtotal: 3, tickets: 1, currency: 'EUR' }).fees).toBe(1); // 0.75 → 1
  });

  it('is zero without rules, and charges a per-ticket fee only in its own currency', () => {
    expect(charges(undefined, { subtotal: 5000, tickets: 2, currency: 'EUR' })).toEqual({
      fees: 0,
      taxes: 0,
      total: 5000,
    });
    const perTicket = { feeBasisPoints: 0, feePerTicket: { EUR: 50 }, taxBasisPoints: 0 };
    expect(charges(perTicket, { subtotal: 5000, tickets: 2, currency: 'EUR' }).fees).toBe(100);
    expect(charges(perTicket, { subtotal: 5000, tickets: 2, currency: 'BAM' }).fees).toBe(0);
  });
});

describe('setOrganizationPricing and organizationPricing', () => {
  it("lets the organization's ADMIN and OWNER set the rules, and its members read them", async () => {
    const organizationId = uuidv7();
    const staff = await member(organizationId, 'STAFF');
    expect((await pricingSeenBy(organizationId, staff)).pricing).toEqual({
      organizationId,
      feeBasisPoints: 0,
      feePerTicket: [],
      taxBasisPoints: 0,
      updatedAt: null,
    });
    const admin = await member(organizationId, 'ADMIN');
    const { payload } = await setPricing(rules(organizationId), admin);
    expect(payload!.errors).toEqual([]);
    expect(payload!.pricing).toMatchObject({
      organizationId,
      feeBasisPoints: 250,
      feePerTicket: [{ currency: 'EUR', amount: 30 }],
      taxBasisPoints: 1700,
    });
    const owner = await member(organizationId, 'OWNER');
    const replaced = await setPricing(rules(organizationId, { feePerTicket: [], taxBasisPoints: 0 }), owner);
    expect(replaced.payload!.errors).toEqual([]);
    expect((await pricingSeenBy(organizationId, staff)).pricing).toMatchObject({
      feeBasisPoints: 250,
      feePerTicket: [],
      taxBasisPoints: 0,
      updatedAt: expect.any(String),
    });
  });

  it('refuses STAFF, another organization’s ADMIN and anonymous callers, and changes nothing', async () => {
    const organizationId = uuidv7();
    const staff = await member(organizationId, 'STAFF');
    const foreignAdmin = await member(uuidv7(), 'ADMIN');
    expect((await setPricing(rules(organizationId), staff)).codes).toEqual(['FORBIDDEN']);
    expect((await setPricing(rules(organizationId), foreignAdmin)).codes).toEqual(['FORBIDDEN']);
    expect((await setPricing(rules(organizationId), {})).codes).toEqual(['UNAUTHENTICATED']);
    // Outsiders learn nothing about their input either.
    expect((await setPricing(rules(organizationId, { feeBasisPoints: -1 }), staff)).codes).toEqual([
      'FORBIDDEN',
    ]);
    expect(await storedRules(organizationId)).toEqual([]);
    expect((await pricingSeenBy(organizationId, foreignAdmin)).codes).toEqual(['FORBIDDEN']);
    expect((await pricingSeenBy('not-an-id', staff)).codes).toEqual(['FORBIDDEN']);
  });

  it.each([
    ['a negative fee share', { feeBasisPoints: -1 }, ['input', 'feeBasisPoints']],
    ['a fee share above 100 %', { feeBasisPoints: 10_001 }, ['input', 'feeBasisPoints']],
    ['a tax share above 100 %', { taxBasisPoints: 10_001 }, ['input', 'taxBasisPoints']],
    [
      'a code that is no ISO 4217 currency',
      { feePerTicket: [{ currency: 'ABC', amount: 1 }] },
      ['input', 'feePerTicket', '0', 'currency'],
    ],
    [
      'a currency twice',
      {
        feePerTicket: [
          { currency: 'EUR', amount: 1 },
          { currency: 'EUR', amount: 2 },
        ],
      },
      ['input', 'feePerTicket', '1', 'currency'],
    ],
    [
      'a per-ticket fee above 100000',
      { feePerTicket: [{ currency: 'EUR', amount: 100_001 }] },
      ['input', 'feePerTicket', '0', 'amount'],
    ],
    [
      'a negative per-ticket fee',
      { feePerTicket: [{ currency: 'EUR', amount: -1 }] },
      ['input', 'feePerTicket', '0', 'amount'],
    ],
    [
      '21 currencies',
      {
        feePerTicket: [
          'EUR',
          'USD',
          'GBP',
          'CHF',
          'BAM',
          'RSD',
          'HRK',
          'PLN',
          'CZK',
          'HUF',
          'SEK',
          'NOK',
          'DKK',
          'JPY',
          'CAD',
          'AUD',
          'NZD',
          'TRY',
          'MKD',
          'ALL',
          'RON',
        ].map((currency) => ({ currency, amount: 1 })),
      },
      ['input', 'feePerTicket'],
    ],
  ])('refuses %s with a field error', async (_, overrides, field) => {
    const organizationId = uuidv7();
    const { payload } = await setPricing(
      rules(organizationId, overrides),
      await member(organizationId, 'ADMIN'),
    );
    expect(payload).toEqual({
      pricing: null,
      errors: [{ code: 'INVALID_INPUT', message: expect.any(String), field }],
    });
    expect(await storedRules(organizationId)).toEqual([]);
  });
});

describe('checkout with the rules', () => {
  it('adds the fees and taxes, rounded half up: 3 × 9.99 with 2.5 % + 0.30 a ticket and 17 % tax', async () => {
    const offer = await catalog.announce(
      offerPayload({ ticketTypes: [ticketTypeOffer({ name: 'Regular', priceAmount: 999 })] }),
    );
    const admin = await member(offer.organizationId, 'ADMIN');
    expect((await setPricing(rules(offer.organizationId), admin)).payload!.errors).toEqual([]);
    const buyer = await subgraph.bearer({ sub: uuidv7() });
    const { reservation } = await reserve(
      subgraph,
      { eventId: offer.eventId, items: [{ ticketTypeId: offer.ticketTypes[0]!.ticketTypeId, quantity: 3 }] },
      buyer,
    );
    const { data, errors } = await subgraph.gql<{
      checkout: { order: { id: string; fees: unknown; taxes: unknown; total: unknown; status: string } };
    }>(
      `mutation($input: CheckoutInput!) {
        checkout(input: $input) { order { id status fees { amount currency } taxes { amount currency } total { amount currency } } errors { code } }
      }`,
      { input: { reservationId: reservation!.id, buyer: { name: 'Ana', email: 'ana@example.com' } } },
      buyer,
    );
    expect(errors).toBeUndefined();
    const order = data!.checkout.order;
    // subtotal 2997; fees round(74.925) = 75 + 3 × 30 = 165; taxes round(3162 × 0.17 = 537.54) = 538.
    expect(order).toMatchObject({
      status: 'PENDING_PAYMENT',
      fees: { amount: 165, currency: 'EUR' },
      taxes: { amount: 538, currency: 'EUR' },
      total: { amount: 3700, currency: 'EUR' },
    });
    const announced = await waitFor(async () => created.find((event) => event.payload.orderId === order.id));
    // Billing's receipt shows the same split, and the rate the taxes were computed at.
    expect(announced.payload).toMatchObject({
      subtotal: { amount: 2997, currency: 'EUR' },
      fees: { amount: 165, currency: 'EUR' },
      taxes: { amount: 538, currency: 'EUR' },
      taxBasisPoints: 1700,
      total: { amount: 3700, currency: 'EUR' },
    });
    const [stored] = await subgraph.sql`select subtotal_amount, fees_amount, taxes_amount, total_amount
      from orders.orders where id = ${order.id}`;
    expect(stored).toEqual({
      subtotal_amount: 2997,
      fees_amount: 165,
      taxes_amount: 538,
      total_amount: 3700,
    });
  });
});
