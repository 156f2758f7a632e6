import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { keyRingFromEnv, parseEnv } from '@bilten/platform';
import { startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import { type FakeBraintree, startFakeBraintree } from '@bilten/testkit/fakes/braintree';
import { fakeProvidersEnv } from '@bilten/testkit/fakes/providers';
import { type FakeStripe, startFakeStripe } from '@bilten/testkit/fakes/stripe';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealCredentials } from '../src/adapters/providers.ts';
import { billingEnv } from '../src/config.ts';
import { billingSubgraph } from '../src/server.ts';
import { payNewOrder, refundInFull } from './support.ts';

// Payments are made through the real SDKs against the fakes, then each test moves its records (ours
// and the provider's, by the same amount) to a day of its own, so every report holds exactly what
// that test made.

const SECRET_KEY = 'sk_test_reconciliation';
let stripe: FakeStripe;
let braintree: FakeBraintree;
let subgraph: TestSubgraph;
let providerEnv: Record<string, string>;

beforeAll(async () => {
  // Small pages, so every listing of more than 3 transactions takes several requests.
  stripe = await startFakeStripe({ maxListLimit: 3 });
  braintree = await startFakeBraintree({ pageSize: 3 });
  providerEnv = fakeProvidersEnv(stripe, braintree, SECRET_KEY);
  subgraph = await startTestSubgraph(billingSubgraph, 'in-process', { env: providerEnv });
});

afterAll(async () => {
  await subgraph?.dispose();
  await stripe?.stop();
  await braintree?.close();
});

type Provider = 'STRIPE' | 'BRAINTREE';
const TOKENS = { STRIPE: 'pm_card_visa', BRAINTREE: 'fake-valid-nonce' };

type Paid = Awaited<ReturnType<typeof payNewOrder>> & { providerPaymentId: string };

/** A payment through `provider` that reached it (it has the provider's id). */
async function pay(provider: Provider, amount = 4200, token = TOKENS[provider]): Promise<Paid> {
  const paid = await payNewOrder(subgraph, provider, token, amount);
  expect(paid.providerPaymentId).toBeTruthy();
  return paid as Paid;
}

/** A full refund that succeeded at once. */
async function refund(paid: Paid) {
  const refunded = await refundInFull(subgraph, paid);
  expect(refunded.status).toBe('SUCCEEDED');
  return refunded as typeof refunded & { providerRefundId: string };
}

/** `day` at `seconds` past midnight, UTC. */
const at = (day: string, seconds = 12 * 3600) => new Date(Date.parse(`${day}T00:00:00Z`) + seconds * 1000);
const braintreeTime = (when: Date) => when.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Moves billing's payment to `local` and the provider's charge to `remote` (default: the same instant). */
async function movePayment(provider: Provider, paid: Paid, local: Date, remote = local) {
  await subgraph.sql`update billing.payments set created_at = ${local} where id = ${paid.paymentId}`;
  if (provider === 'STRIPE')
    stripe.alter(paid.providerPaymentId, { created: Math.floor(remote.getTime() / 1000) });
  else braintree.transactions.get(paid.providerPaymentId)!.createdAt = braintreeTime(remote);
}

async function moveRefund(
  provider: Provider,
  refunded: { refundId: string; providerRefundId: string },
  when: Date,
) {
  await subgraph.sql`update billing.refunds set created_at = ${when} where id = ${refunded.refundId}`;
  // A Braintree void keeps the sale's own id (and time), moved with the payment.
  if (provider === 'STRIPE')
    stripe.alter(refunded.providerRefundId, { created: Math.floor(when.getTime() / 1000) });
}

interface Mismatch {
  kind: string;
  providerId: string | null;
  paymentId: string | null;
  refundId: string | null;
  providerAmount: { amount: number; currency: string } | null;
  localAmount: { amount: number; currency: string } | null;
  providerStatus: string | null;
  localStatus: string | null;
  detail: string;
}
interface Report {
  date: string;
  provider: Provider;
  account: string;
  providerTransactions: number;
  localRecords: number;
  matched: number;
  mismatches: Mismatch[];
  error: string | null;
}

const RECONCILIATION = `query($date: String!) {
  reconciliation(date: $date) {
    date provider account providerTransactions localRecords matched error
    mismatches {
      kind providerId paymentId refundId detail providerStatus localStatus
      providerAmount { amount currency } localAmount { amount currency }
    }
  }
}`;

const admin = () => subgraph.bearer({ sub: uuidv7(), roles: ['ADMIN'] });

async function reconciliation(date: string): Promise<Record<Provider, Report>> {
  const { data, errors } = await subgraph.gql<{ reconciliation: Report[] }>(
    RECONCILIATION,
    { date },
    await admin(),
  );
  expect(errors).toBeUndefined();
  const reports = data!.reconciliation;
  expect(reports.map((report) => `${report.provider} ${report.account}`).sort()).toEqual([
    'BRAINTREE PLATFORM',
    'STRIPE PLATFORM',
  ]);
  return Object.fromEntries(reports.map((report) => [report.provider, report])) as Record<Provider, Report>;
}

describe('reconciliation(date:) against the Stripe and Braintree fakes', () => {
  it('a clean day: charges, a decline, a refund and a void all match', async () => {
    const day = '2026-10-01';
    const charged = await pay('STRIPE', 4200);
    const declined = await pay('STRIPE', 1500, 'pm_card_chargeDeclined');
    expect(declined.status).toBe('FAILED');
    const refunded = await pay('STRIPE', 3000);
    const stripeRefund = await refund(refunded);
    const sale = await pay('BRAINTREE', 2500);
    const voided = await pay('BRAINTREE', 1800);
    await refund(voided); // not settled yet: a void
    for (const paid of [charged, declined, refunded]) await movePayment('STRIPE', paid, at(day));
    await moveRefund('STRIPE', stripeRefund, at(day, 13 * 3600));
    for (const paid of [sale, voided]) await movePayment('BRAINTREE', paid, at(day));
    await subgraph.sql`update billing.refunds set created_at = ${at(day, 13 * 3600)} where payment_id = ${voided.paymentId}`;

    const reports = await reconciliation(day);
    expect(reports.STRIPE).toEqual({
      date: day,
      provider: 'STRIPE',
      account: 'PLATFORM',
      providerTransactions: 4,
      localRecords: 4,
      matched: 4,
      mismatches: [],
      error: null,
    });
    expect(reports.BRAINTREE).toMatchObject({
      providerTransactions: 3,
      localRecords: 3,
      matched: 3,
      mismatches: [],
    });
  });

  it('reports each kind of mismatch, with both sides', async () => {
    const day = '2026-10-02';
    // MISSING_LOCALLY: made at the provider, not through billing.
    const foreign = stripe.insertPaymentIntent({
      amount: 777,
      created: Math.floor(at(day).getTime() / 1000),
    });
    const foreignSale = braintree.insertSale({ amount: '7.77', createdAt: at(day) });
    // MISSING_AT_PROVIDER: billing has it on this day, the provider on none near it.
    const elsewhere = await pay('STRIPE', 1000);
    await movePayment('STRIPE', elsewhere, at(day), at('2026-10-05'));
    // AMOUNT_DIFFERS and STATUS_DIFFERS.
    const altered = await pay('STRIPE', 2000);
    await movePayment('STRIPE', altered, at(day));
    stripe.alter(altered.providerPaymentId, { amount: 2100 });
    const canceled = await pay('STRIPE', 3000);
    await movePayment('STRIPE', canceled, at(day));
    stripe.alter(canceled.providerPaymentId, { status: 'canceled' });
    const declinedLater = await pay('BRAINTREE', 4000);
    await movePayment('BRAINTREE', declinedLater, at(day));
    braintree.transactions.get(declinedLater.providerPaymentId)!.status = 'settlement_declined';

    const reports = await reconciliation(day);
    expect(reports.STRIPE).toMatchObject({
      providerTransactions: 3,
      localRecords: 3,
      matched: 0,
      error: null,
    });
    const byKind = (report: Report) =>
      Object.fromEntries(report.mismatches.map((mismatch) => [mismatch.kind, mismatch]));
    expect(reports.STRIPE.mismatches).toHaveLength(4);
    expect(byKind(reports.STRIPE)).toEqual({
      MISSING_LOCALLY: expect.objectContaining({
        providerId: foreign.id,
        paymentId: null,
        providerAmount: { amount: 777, currency: 'EUR' },
        providerStatus: 'SUCCEEDED',
      }),
      MISSING_AT_PROVIDER: expect.objectContaining({
        providerId: elsewhere.providerPaymentId,
        paymentId: elsewhere.paymentId,
        localAmount: { amount: 1000, currency: 'EUR' },
        localStatus: 'SUCCEEDED',
      }),
      AMOUNT_DIFFERS: expect.objectContaining({
        paymentId: altered.paymentId,
        providerAmount: { amount: 2100, currency: 'EUR' },
        localAmount: { amount: 2000, currency: 'EUR' },
      }),
      STATUS_DIFFERS: expect.objectContaining({
        paymentId: canceled.paymentId,
        providerStatus: 'FAILED',
        localStatus: 'SUCCEEDED',
      }),
    });
    expect(reports.BRAINTREE).toMatchObject({ providerTransactions: 2, localRecords: 1, matched: 0 });
    expect(byKind(reports.BRAINTREE)).toEqual({
      MISSING_LOCALLY: expect.objectContaining({
        providerId: foreignSale.id,
        providerAmount: { amount: 777, currency: 'EUR' },
      }),
      STATUS_DIFFERS: expect.objectContaining({
        paymentId: declinedLater.paymentId,
        providerStatus: 'FAILED',
        localStatus: 'SUCCEEDED',
      }),
    });
  });

  it('a payment either side of midnight matches on both days, not missing on either', async () => {
    const paid = await pay('STRIPE', 5100);
    // Billing stamped it at 23:59:59, Stripe at 00:00:01 the next day.
    await movePayment('STRIPE', paid, at('2026-10-06', 86_399), at('2026-10-07', 1));
    const before = await reconciliation('2026-10-06');
    expect(before.STRIPE).toMatchObject({
      providerTransactions: 0,
      localRecords: 1,
      matched: 1,
      mismatches: [],
    });
    const after = await reconciliation('2026-10-07');
    expect(after.STRIPE).toMatchObject({
      providerTransactions: 1,
      localRecords: 0,
      matched: 1,
      mismatches: [],
    });
  });

  it('reads every page of both providers’ lists', async () => {
    const day = '2026-10-08';
    const stripePaid = [];
    const braintreePaid = [];
    for (let i = 0; i < 7; i++) {
      stripePaid.push(await pay('STRIPE', 1000 + i * 2));
      braintreePaid.push(await pay('BRAINTREE', 2000 + i * 2));
    }
    for (const [i, paid] of stripePaid.entries()) await movePayment('STRIPE', paid, at(day, 60 * i));
    for (const [i, paid] of braintreePaid.entries()) await movePayment('BRAINTREE', paid, at(day, 60 * i));
    const listsBefore = stripe.requests.filter(
      (r) => r.method === 'GET' && r.path === '/v1/payment_intents',
    ).length;
    const pagesBefore = braintree.requests.filter((r) => r.endsWith('/transactions/advanced_search')).length;

    const reports = await reconciliation(day);
    expect(reports.STRIPE).toMatchObject({
      providerTransactions: 7,
      localRecords: 7,
      matched: 7,
      mismatches: [],
    });
    expect(reports.BRAINTREE).toMatchObject({
      providerTransactions: 7,
      localRecords: 7,
      matched: 7,
      mismatches: [],
    });
    // 7 of 3 a page: 3 pages each (the window around the day lists them all).
    expect(
      stripe.requests.filter((r) => r.method === 'GET' && r.path === '/v1/payment_intents').length -
        listsBefore,
    ).toBe(3);
    expect(
      braintree.requests.filter((r) => r.endsWith('/transactions/advanced_search')).length - pagesBefore,
    ).toBe(3);
  });

  it('a provider that cannot be reached is that account’s error; the other is still reconciled', async () => {
    const day = '2026-10-09';
    const sale = await pay('BRAINTREE', 2200);
    await movePayment('BRAINTREE', sale, at(day));
    stripe.failNext(1_000, 503);
    try {
      const reports = await reconciliation(day);
      expect(reports.STRIPE).toMatchObject({
        providerTransactions: 0,
        localRecords: 0,
        matched: 0,
        mismatches: [],
        error: expect.stringContaining('STRIPE could not be asked'),
      });
      expect(reports.BRAINTREE).toMatchObject({
        providerTransactions: 1,
        matched: 1,
        mismatches: [],
        error: null,
      });
    } finally {
      stripe.failNext(0);
    }
  });

  it('is for platform ADMINs only', async () => {
    const organizationId = uuidv7();
    for (const [headers, code] of [
      [{}, 'UNAUTHENTICATED'],
      [await subgraph.bearer({ sub: uuidv7() }), 'FORBIDDEN'],
      [await subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: 'OWNER' } }), 'FORBIDDEN'],
    ] as const) {
      const { data, errors } = await subgraph.gql(RECONCILIATION, { date: '2026-10-01' }, headers);
      expect(data).toBeNull();
      expect(errors?.[0]?.extensions?.code).toBe(code);
    }
  });

  it.each([
    ['2026-02-30', 'calendar day'],
    ['yesterday', 'calendar day'],
    ['2026-1-05', 'calendar day'],
    ['2026-10-01T00:00:00Z', 'calendar day'],
    [new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10), 'future'],
  ])('refuses the date %s: BAD_USER_INPUT', async (date, words) => {
    const { data, errors } = await subgraph.gql(RECONCILIATION, { date }, await admin());
    expect(data).toBeNull();
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.message).toContain(words);
  });
});

describe('npm run billing:reconcile', () => {
  const cli = fileURLToPath(new URL('../src/cli/reconcile.ts', import.meta.url));

  async function run(args: string[], env: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', cli, ...args],
        {
          env: { ...process.env, DATABASE_URL: subgraph.database.url, ...providerEnv, ...env },
        },
      );
      return { code: 0, stdout, stderr };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  it('exits 0 on a clean day, 1 with a table of mismatches, 2 for a bad date', async () => {
    const clean = await run(['--date', '2026-10-01']);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain(
      'STRIPE PLATFORM 2026-10-01: 4 at the provider, 4 in billing, 4 matched, 0 mismatches',
    );
    expect(clean.stdout).toContain(
      'BRAINTREE PLATFORM 2026-10-01: 3 at the provider, 3 in billing, 3 matched',
    );

    const mismatched = await run(['--date', '2026-10-02']);
    expect(mismatched.code).toBe(1);
    expect(mismatched.stdout).toMatch(/KIND +PROVIDER ID +PAYMENT +REFUND +PROVIDER +BILLING +DETAIL/);
    for (const kind of ['MISSING_LOCALLY', 'MISSING_AT_PROVIDER', 'AMOUNT_DIFFERS', 'STATUS_DIFFERS'])
      expect(mismatched.stdout).toContain(kind);
    expect(mismatched.stdout).toMatch(/AMOUNT_DIFFERS .* 2100 EUR SUCCEEDED +2000 EUR SUCCEEDED/);

    for (const date of ['2026-02-30', 'soon']) {
      const bad = await run(['--date', date]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('calendar day');
      expect(bad.stdout).toBe('');
    }
    expect((await run(['--when', 'now'])).code).toBe(2);
  }, 60_000);

  it('exits 1 when a provider cannot be asked, naming it', async () => {
    braintree.failNext(1_000, 503);
    try {
      const down = await run(['--date', '2026-10-01']);
      expect(down.code).toBe(1);
      expect(down.stdout).toContain('BRAINTREE PLATFORM 2026-10-01: ERROR BRAINTREE could not be asked');
      expect(down.stdout).toContain('STRIPE PLATFORM 2026-10-01: 4 at the provider');
    } finally {
      braintree.failNext(0, 503);
    }
  }, 60_000);
});

describe('organizations’ own provider accounts', () => {
  it('each live account gets its own report; one whose credentials do not open is that report’s error', async () => {
    const config = parseEnv(billingEnv, providerEnv);
    const ring = keyRingFromEnv(config);
    const [own, broken, removed, later] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    const [ownOrg, brokenOrg, removedOrg, laterOrg] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    const before = at('2026-07-01');
    const credentials = {
      provider: 'STRIPE',
      secretKey: 'sk_test_organization',
      webhookSecret: 'whsec_org',
    } as const;
    await subgraph.sql`
      insert into billing.provider_accounts
        (id, organization_id, provider, credentials_sealed, key_hint, created_at, removed_at)
      values
        (${own}, ${ownOrg}, 'STRIPE', ${sealCredentials(ring, own, credentials)}, 'tion', ${before}, null),
        -- sealed for another row: it does not open for this one
        (${broken}, ${brokenOrg}, 'BRAINTREE', ${sealCredentials(ring, own, credentials)}, 'tion', ${before}, null),
        (${removed}, ${removedOrg}, 'STRIPE', ${sealCredentials(ring, removed, credentials)}, 'tion', ${before}, ${at('2026-08-01')}),
        (${later}, ${laterOrg}, 'STRIPE', ${sealCredentials(ring, later, credentials)}, 'tion', ${at('2026-09-02')}, null)`;
    // A payment through the organization's account is its report's, not the platform's.
    const paid = await pay('STRIPE', 6400);
    await subgraph.sql`update billing.payments set provider_account_id = ${own} where id = ${paid.paymentId}`;
    await movePayment('STRIPE', paid, at('2026-09-01'));

    const { data, errors } = await subgraph.gql<{ reconciliation: Report[] }>(
      RECONCILIATION,
      { date: '2026-09-01' },
      await admin(),
    );
    expect(errors).toBeUndefined();
    const reports = Object.fromEntries(
      data!.reconciliation.map((report) => [`${report.provider} ${report.account}`, report]),
    );
    expect(Object.keys(reports).sort()).toEqual(
      ['BRAINTREE PLATFORM', 'STRIPE PLATFORM', `STRIPE ${ownOrg}`, `BRAINTREE ${brokenOrg}`].sort(),
    );
    // The fake serves both keys from one ledger, so each Stripe account lists the charge; only the
    // organization's matches it.
    expect(reports[`STRIPE ${ownOrg}`]).toMatchObject({
      localRecords: 1,
      matched: 1,
      mismatches: [],
      error: null,
    });
    expect(reports['STRIPE PLATFORM']).toMatchObject({
      localRecords: 0,
      mismatches: [expect.objectContaining({ kind: 'MISSING_LOCALLY', providerId: paid.providerPaymentId })],
    });
    expect(reports[`BRAINTREE ${brokenOrg}`]).toMatchObject({
      error: expect.stringContaining('could not be asked'),
    });
    expect(reports['BRAINTREE PLATFORM']).toMatchObject({ error: null, mismatches: [] });
  });
});
