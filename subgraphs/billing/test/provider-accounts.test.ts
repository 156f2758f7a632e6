/** Organizations' own Stripe and Braintree accounts, and test-mode organizations (issue 14). */
import { randomBytes } from 'node:crypto';
import { columnAad, createKeyRing, rotateEncryptedColumns } from '@bilten/platform';
import { startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import { type FakeBraintree, startFakeBraintree } from '@bilten/testkit/fakes/braintree';
import { type FakeStripe, startFakeStripe } from '@bilten/testkit/fakes/stripe';
import Stripe from 'stripe';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_CREDENTIALS_COLUMN } from '../src/db/schema.ts';
import { billingSubgraph, encryptedColumns } from '../src/server.ts';
import { announceOrder, announceOrganization } from './support.ts';

const PLATFORM_KEY = 'sk_test_platform_account';
const PLATFORM_WEBHOOK_SECRET = 'whsec_platform_account';
const ORG_KEY = 'sk_test_organization_A1b2';
const ORG_KEY_2 = 'sk_test_organization_C3d4';
const ORG_WEBHOOK_SECRET = 'whsec_organization_account';
const K1 = randomBytes(32);

let fake: FakeStripe;
let braintree: FakeBraintree;
let subgraph: TestSubgraph;

beforeAll(async () => {
  fake = await startFakeStripe({ apiKeys: [PLATFORM_KEY, ORG_KEY, ORG_KEY_2] });
  braintree = await startFakeBraintree();
  subgraph = await startTestSubgraph(billingSubgraph, 'in-process', {
    env: {
      STRIPE_SECRET_KEY: PLATFORM_KEY,
      STRIPE_WEBHOOK_SECRET: PLATFORM_WEBHOOK_SECRET,
      STRIPE_API_HOST: fake.host,
      STRIPE_API_PORT: String(fake.port),
      STRIPE_API_PROTOCOL: fake.protocol,
      // No platform Braintree account: organizations' accounts reach the fake gateway.
      BRAINTREE_ENVIRONMENT: braintree.url,
      DATA_ENCRYPTION_KEYS: `k1:${K1.toString('base64')}`,
    },
  });
});

afterAll(async () => {
  await subgraph?.dispose();
  await fake?.stop();
  await braintree?.close();
});

// ---------------------------------------------------------------- helpers

interface UserError {
  code: string;
  message: string;
  field: string[] | null;
}
interface AccountView {
  provider: string;
  keyHint: string;
  webhookPath: string;
  updatedAt: string;
}

const member = (organizationId: string, role: 'STAFF' | 'ADMIN' | 'OWNER' = 'ADMIN') =>
  subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: role } });

/** An order of the organization billing can charge, and its buyer's headers. */
const orderOf = (organizationId: string) => announceOrder(subgraph, { organizationId, amount: 3000 });

const SET = `mutation($input: SetPaymentProviderAccountInput!) {
  setPaymentProviderAccount(input: $input) {
    account { provider keyHint webhookPath updatedAt }
    errors { code message field }
  }
}`;
const REMOVE = `mutation($input: RemovePaymentProviderAccountInput!) {
  removePaymentProviderAccount(input: $input) { removed errors { code message field } }
}`;
const SETTINGS = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Organization { paymentSettings { testMode availableProviders accounts { provider keyHint webhookPath } } }
  }
}`;
const PAY = `mutation($input: PayOrderInput!) {
  payOrder(input: $input) { payment { id status } errors { code message field } }
}`;

const stripeAccount = (secretKey = ORG_KEY, webhookSecret = ORG_WEBHOOK_SECRET) => ({
  secretKey,
  webhookSecret,
});

async function setAccount(input: Record<string, unknown>, headers: Record<string, string>) {
  return subgraph.gql<{
    setPaymentProviderAccount: { account: AccountView | null; errors: UserError[] } | null;
  }>(SET, { input }, headers);
}

/** Connects ORG_KEY (or `secretKey`) as the organization's Stripe account; its row id. */
async function connectStripe(organizationId: string, secretKey = ORG_KEY) {
  const { data, errors } = await setAccount(
    { organizationId, stripe: stripeAccount(secretKey) },
    await member(organizationId, 'OWNER'),
  );
  expect(errors).toBeUndefined();
  expect(data!.setPaymentProviderAccount!.errors).toEqual([]);
  return data!.setPaymentProviderAccount!.account!.webhookPath.split('/').at(-1)!;
}

async function settings(organizationId: string, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{
    _entities: Array<{
      paymentSettings: {
        testMode: boolean;
        availableProviders: string[];
        accounts: Array<Omit<AccountView, 'updatedAt'>>;
      } | null;
    }>;
  }>(SETTINGS, { representations: [{ __typename: 'Organization', id: organizationId }] }, headers);
  expect(errors).toBeUndefined();
  return data!._entities[0]!.paymentSettings;
}

async function pay(
  order: { orderId: string; buyer: Record<string, string> },
  provider: string,
  paymentMethodToken: string,
) {
  const { data, errors } = await subgraph.gql<{
    payOrder: { payment: { id: string; status: string } | null; errors: UserError[] };
  }>(
    PAY,
    { input: { orderId: order.orderId, provider, paymentMethodToken, idempotencyKey: uuidv7() } },
    order.buyer,
  );
  expect(errors).toBeUndefined();
  return data!.payOrder;
}

/** The API key the fake Stripe saw on this payment's charge. */
const chargeKeyOf = (paymentId: string) =>
  fake.requests.find(
    (request) =>
      request.path === '/v1/payment_intents' && request.idempotencyKey === `bilten-payment-${paymentId}`,
  )?.apiKey;

const storedPayment = async (id: string) =>
  (
    await subgraph.sql<
      Array<{ provider_account_id: string | null; provider_payment_id: string; status: string }>
    >`
      select provider_account_id, provider_payment_id, status from billing.payments where id = ${id}`
  )[0]!;

const liveAccounts = (organizationId: string) =>
  subgraph.sql<Array<{ id: string; key_hint: string }>>`
    select id, key_hint from billing.provider_accounts where organization_id = ${organizationId} and removed_at is null`;

/** Every row of every billing table, as text: where a stored secret would show. */
async function billingTablesText(): Promise<string> {
  const tables = await subgraph.sql<Array<{ table_name: string }>>`
    select table_name from information_schema.tables where table_schema = 'billing'`;
  const texts = await Promise.all(
    tables.map(
      async ({ table_name }) =>
        (
          await subgraph.sql.unsafe(
            `select coalesce(string_agg(t::text, ' '), '') as text from billing."${table_name}" t`,
          )
        )[0]!.text as string,
    ),
  );
  return texts.join('\n');
}

// ---------------------------------------------------------------- tests

describe('an organization’s own Stripe account', () => {
  it('is connected by its admin: settings show it by key hint and webhook path; its secrets are in no table and no log', async () => {
    const organizationId = await announceOrganization(subgraph);
    const admin = await member(organizationId, 'ADMIN');
    const { data, errors } = await setAccount({ organizationId, stripe: stripeAccount() }, admin);
    expect(errors).toBeUndefined();
    const [live] = await liveAccounts(organizationId);
    expect(data!.setPaymentProviderAccount).toEqual({
      account: {
        provider: 'STRIPE',
        keyHint: 'A1b2',
        webhookPath: `/webhooks/stripe/${live!.id}`,
        updatedAt: expect.any(String),
      },
      errors: [],
    });
    // The provider was asked first, with the organization's key.
    expect(fake.requests).toContainEqual(expect.objectContaining({ path: '/v1/balance', apiKey: ORG_KEY }));

    expect(await settings(organizationId, admin)).toEqual({
      testMode: false,
      availableProviders: ['STRIPE', 'SANDBOX'],
      accounts: [{ provider: 'STRIPE', keyHint: 'A1b2', webhookPath: `/webhooks/stripe/${live!.id}` }],
    });
    // Its staff and strangers see no settings.
    expect(await settings(organizationId, await member(organizationId, 'STAFF'))).toBeNull();
    expect(await settings(organizationId, await subgraph.bearer({ sub: uuidv7() }))).toBeNull();

    const stored = await billingTablesText();
    const logs = JSON.stringify(subgraph.logs);
    for (const secret of [ORG_KEY, ORG_WEBHOOK_SECRET]) {
      expect(stored).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
    expect(subgraph.logs).toContainEqual(
      expect.objectContaining({ msg: 'payment provider account set', organizationId, accountId: live!.id }),
    );
  });

  it('takes that organization’s payments with its key (recorded on the payment); another organization’s go to the platform', async () => {
    const organizationId = await announceOrganization(subgraph);
    const accountId = await connectStripe(organizationId);
    const own = await pay(await orderOf(organizationId), 'STRIPE', 'pm_card_visa');
    expect(own).toMatchObject({ payment: { status: 'SUCCEEDED' }, errors: [] });
    expect(chargeKeyOf(own.payment!.id)).toBe(ORG_KEY);
    expect((await storedPayment(own.payment!.id)).provider_account_id).toBe(accountId);

    const other = await pay(await orderOf(await announceOrganization(subgraph)), 'STRIPE', 'pm_card_visa');
    expect(other.payment!.status).toBe('SUCCEEDED');
    expect(chargeKeyOf(other.payment!.id)).toBe(PLATFORM_KEY);
    expect((await storedPayment(other.payment!.id)).provider_account_id).toBeNull();
  });

  it('refuses credentials Stripe refuses, malformed input, and callers who are not the organization’s admins; stores nothing', async () => {
    const organizationId = await announceOrganization(subgraph);
    const admin = await member(organizationId, 'ADMIN');
    const refused = await setAccount(
      { organizationId, stripe: stripeAccount('sk_live_unknownToStripe99') },
      admin,
    );
    expect(refused.data!.setPaymentProviderAccount).toEqual({
      account: null,
      errors: [
        { code: 'INVALID_INPUT', message: 'Stripe refused these credentials', field: ['input', 'stripe'] },
      ],
    });

    const malformed = await setAccount(
      {
        organizationId,
        stripe: { secretKey: 'pk_live_publishable123', webhookSecret: `whsec_${'x'.repeat(300)}` },
      },
      admin,
    );
    expect(malformed.data!.setPaymentProviderAccount!.errors).toEqual([
      expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'stripe', 'secretKey'] }),
      expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'stripe', 'webhookSecret'] }),
    ]);
    const both = await setAccount(
      {
        organizationId,
        stripe: stripeAccount(),
        braintree: { merchantId: braintree.merchantId, publicKey: 'p', privateKey: 'k' },
      },
      admin,
    );
    expect(both.data!.setPaymentProviderAccount!.errors).toEqual([
      expect.objectContaining({ code: 'INVALID_INPUT', message: 'give exactly one of stripe and braintree' }),
    ]);
    const neither = await setAccount({ organizationId }, admin);
    expect(neither.data!.setPaymentProviderAccount!.errors[0]!.code).toBe('INVALID_INPUT');
    const badId = await setAccount({ organizationId: 'not-a-uuid', stripe: stripeAccount() }, admin);
    expect(badId.data!.setPaymentProviderAccount!.errors[0]!.field).toEqual(['input', 'organizationId']);

    // Another organization's admin and a buyer learn nothing; its STAFF are told they may not.
    for (const stranger of [
      await member(await announceOrganization(subgraph)),
      await subgraph.bearer({ sub: uuidv7() }),
    ]) {
      const attempt = await setAccount({ organizationId, stripe: stripeAccount() }, stranger);
      expect(attempt.data!.setPaymentProviderAccount!.errors).toEqual([
        { code: 'NOT_FOUND', message: 'No organization with this id.', field: ['input', 'organizationId'] },
      ]);
      const removal = await subgraph.gql<{ removePaymentProviderAccount: { errors: UserError[] } }>(
        REMOVE,
        { input: { organizationId, provider: 'STRIPE' } },
        stranger,
      );
      expect(removal.data!.removePaymentProviderAccount.errors[0]!.code).toBe('NOT_FOUND');
    }
    const staff = await setAccount(
      { organizationId, stripe: stripeAccount() },
      await member(organizationId, 'STAFF'),
    );
    expect(staff.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const rows =
      await subgraph.sql`select 1 from billing.provider_accounts where organization_id = ${organizationId}`;
    expect(rows).toHaveLength(0);
  });

  it('may be set by a platform admin; concurrent sets leave exactly one live account', async () => {
    const organizationId = await announceOrganization(subgraph);
    const platformAdmin = await subgraph.bearer({ sub: uuidv7(), roles: ['ADMIN'] });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        setAccount({ organizationId, stripe: stripeAccount(i % 2 ? ORG_KEY : ORG_KEY_2) }, platformAdmin),
      ),
    );
    for (const result of results) expect(result.data!.setPaymentProviderAccount!.errors).toEqual([]);
    expect(await liveAccounts(organizationId)).toHaveLength(1);
    const all =
      await subgraph.sql`select 1 from billing.provider_accounts where organization_id = ${organizationId}`;
    expect(all).toHaveLength(8);
    expect((await settings(organizationId, platformAdmin))!.accounts).toHaveLength(1);
  });

  it('once removed: new payments go to the platform, an earlier payment is still refunded through the organization’s account', async () => {
    const organizationId = await announceOrganization(subgraph);
    const admin = await member(organizationId, 'OWNER');
    const accountId = await connectStripe(organizationId);
    const earlier = await orderOf(organizationId);
    const paid = await pay(earlier, 'STRIPE', 'pm_card_visa');
    expect(chargeKeyOf(paid.payment!.id)).toBe(ORG_KEY);

    const remove = () =>
      subgraph.gql<{ removePaymentProviderAccount: { removed: boolean; errors: UserError[] } }>(
        REMOVE,
        { input: { organizationId, provider: 'STRIPE' } },
        admin,
      );
    expect((await remove()).data!.removePaymentProviderAccount).toEqual({ removed: true, errors: [] });
    expect((await remove()).data!.removePaymentProviderAccount).toEqual({ removed: false, errors: [] });
    expect((await settings(organizationId, admin))!.accounts).toEqual([]);
    const sandbox = await subgraph.gql<{ removePaymentProviderAccount: { errors: UserError[] } }>(
      REMOVE,
      { input: { organizationId, provider: 'SANDBOX' } },
      admin,
    );
    expect(sandbox.data!.removePaymentProviderAccount.errors[0]).toMatchObject({
      code: 'INVALID_INPUT',
      field: ['input', 'provider'],
    });

    const later = await pay(await orderOf(organizationId), 'STRIPE', 'pm_card_visa');
    expect(chargeKeyOf(later.payment!.id)).toBe(PLATFORM_KEY);
    expect((await storedPayment(later.payment!.id)).provider_account_id).toBeNull();

    const refund = await subgraph.gql<{
      refundOrder: { refund: { status: string } | null; errors: UserError[] };
    }>(
      `mutation($input: RefundOrderInput!) { refundOrder(input: $input) { refund { status } errors { code message } } }`,
      { input: { orderId: earlier.orderId, reason: 'Changed plans' } },
      admin,
    );
    expect(refund.data!.refundOrder).toEqual({ refund: { status: 'SUCCEEDED' }, errors: [] });
    const refundCall = fake.requests.filter((request) => request.path === '/v1/refunds').at(-1);
    expect(refundCall?.apiKey).toBe(ORG_KEY);
    expect((await storedPayment(paid.payment!.id)).provider_account_id).toBe(accountId);

    // Its webhook endpoint is gone with it.
    const payload = fake.eventPayload('balance.available', {});
    const response = await fetch(new URL(`/webhooks/stripe/${accountId}`, subgraph.service.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: ORG_WEBHOOK_SECRET }),
      },
      body: payload,
    });
    expect(response.status).toBe(404);
  });

  it('has its own webhook endpoint, verified with its own secret only; unknown accounts are 404 with a security log line', async () => {
    const organizationId = await announceOrganization(subgraph);
    const accountId = await connectStripe(organizationId);
    const order = await orderOf(organizationId);
    const started = await pay(order, 'STRIPE', 'pm_card_threeDSecureRequired');
    expect(started.payment!.status).toBe('REQUIRES_ACTION');
    const { provider_payment_id: intentId } = await storedPayment(started.payment!.id);
    const payload = fake.eventPayload('payment_intent.succeeded', fake.completeAction(intentId));
    const post = (path: string, secret: string) =>
      fetch(new URL(path, subgraph.service.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }),
        },
        body: payload,
      });

    const platformSigned = await post(`/webhooks/stripe/${accountId}`, PLATFORM_WEBHOOK_SECRET);
    expect(platformSigned.status).toBe(400);
    expect((await storedPayment(started.payment!.id)).status).toBe('REQUIRES_ACTION');
    const accountSigned = await post(`/webhooks/stripe/${accountId}`, ORG_WEBHOOK_SECRET);
    expect(accountSigned.status).toBe(200);
    expect(await accountSigned.json()).toMatchObject({ result: 'applied' });
    expect((await storedPayment(started.payment!.id)).status).toBe('SUCCEEDED');
    // The platform's endpoint does not take the organization's signature.
    expect((await post('/webhooks/stripe', ORG_WEBHOOK_SECRET)).status).toBe(400);

    for (const unknown of [uuidv7(), 'not-an-account']) {
      const response = await post(`/webhooks/stripe/${unknown}`, ORG_WEBHOOK_SECRET);
      expect(response.status).toBe(404);
      expect(subgraph.logs).toContainEqual(
        expect.objectContaining({ security: true, event: 'webhook_unknown_account', accountId: unknown }),
      );
    }
  });

  it('confirms a 3-D Secure payment through the account it was charged on', async () => {
    const organizationId = await announceOrganization(subgraph);
    await connectStripe(organizationId);
    const order = await orderOf(organizationId);
    const started = await pay(order, 'STRIPE', 'pm_card_threeDSecureRequired');
    const { provider_payment_id: intentId } = await storedPayment(started.payment!.id);
    fake.completeAction(intentId);
    const { data } = await subgraph.gql<{ confirmPayment: { payment: { status: string } } }>(
      `mutation($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { payment { status } } }`,
      { input: { paymentId: started.payment!.id } },
      order.buyer,
    );
    expect(data!.confirmPayment.payment.status).toBe('SUCCEEDED');
    const read = fake.requests.filter((request) => request.path === `/v1/payment_intents/${intentId}`).at(-1);
    expect(read?.apiKey).toBe(ORG_KEY);
  });

  it('keeps its credentials readable through `npm run keys:rotate`', async () => {
    const organizationId = await announceOrganization(subgraph);
    const accountId = await connectStripe(organizationId);
    const k2 = randomBytes(32);
    const results = await rotateEncryptedColumns(
      subgraph.sql,
      createKeyRing([
        ['k2', k2],
        ['k1', K1],
      ]),
      encryptedColumns,
    );
    expect(results).toContainEqual(
      expect.objectContaining({ column: 'billing.provider_accounts.credentials_sealed', failed: [] }),
    );
    const [row] = await subgraph.sql<Array<{ credentials_sealed: string }>>`
      select credentials_sealed from billing.provider_accounts where id = ${accountId}`;
    const opened = createKeyRing([['k2', k2]]).decrypt(
      row!.credentials_sealed,
      columnAad(PROVIDER_CREDENTIALS_COLUMN, accountId),
    );
    expect(JSON.parse(opened)).toEqual({
      provider: 'STRIPE',
      secretKey: ORG_KEY,
      webhookSecret: ORG_WEBHOOK_SECRET,
    });
  });
});

describe('an organization’s own Braintree account', () => {
  it('is checked with Braintree first: good keys are stored (hint of the private key), others refused', async () => {
    const organizationId = await announceOrganization(subgraph);
    const admin = await member(organizationId);
    const keys = { merchantId: braintree.merchantId, publicKey: braintree.publicKey, environment: 'SANDBOX' };
    const refused = await setAccount(
      { organizationId, braintree: { ...keys, privateKey: 'not-the-key' } },
      admin,
    );
    expect(refused.data!.setPaymentProviderAccount!.errors).toEqual([
      {
        code: 'INVALID_INPUT',
        message: 'Braintree refused these credentials',
        field: ['input', 'braintree'],
      },
    ]);
    const malformed = await setAccount(
      { organizationId, braintree: { ...keys, privateKey: '<script>' } },
      admin,
    );
    expect(malformed.data!.setPaymentProviderAccount!.errors[0]!.field).toEqual([
      'input',
      'braintree',
      'privateKey',
    ]);
    const accepted = await setAccount(
      { organizationId, braintree: { ...keys, privateKey: braintree.privateKey } },
      admin,
    );
    expect(accepted.data!.setPaymentProviderAccount!.account).toMatchObject({
      provider: 'BRAINTREE',
      keyHint: braintree.privateKey.slice(-4),
      webhookPath: expect.stringMatching(/^\/webhooks\/braintree\/[0-9a-f-]{36}$/),
    });
    expect((await settings(organizationId, admin))!.availableProviders).toEqual([
      'STRIPE',
      'BRAINTREE',
      'SANDBOX',
    ]);
    // Its webhook endpoint parses with its keys: a forged notification is refused.
    const path = accepted.data!.setPaymentProviderAccount!.account!.webhookPath;
    const forged = await fetch(new URL(path, subgraph.service.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ bt_signature: 'forged|sig', bt_payload: 'PHg+PC94Pg==' }).toString(),
    });
    expect(forged.status).toBe(400);
  });
});

describe('a test-mode organization', () => {
  it('takes Sandbox payments only and cannot connect a live account', async () => {
    const organizationId = await announceOrganization(subgraph, { testMode: true });
    const admin = await member(organizationId, 'OWNER');
    const stripe = await pay(await orderOf(organizationId), 'STRIPE', 'pm_card_visa');
    expect(stripe).toEqual({
      payment: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: 'test-mode organizations take Sandbox payments only',
          field: ['input', 'provider'],
        },
      ],
    });
    const sandbox = await pay(await orderOf(organizationId), 'SANDBOX', 'tok_visa');
    expect(sandbox).toMatchObject({ payment: { status: 'SUCCEEDED' }, errors: [] });

    const set = await setAccount({ organizationId, stripe: stripeAccount() }, admin);
    expect(set.data!.setPaymentProviderAccount!.errors).toEqual([
      {
        code: 'INVALID_INPUT',
        message: 'test-mode organizations take Sandbox payments only',
        field: ['input', 'organizationId'],
      },
    ]);
    expect(await settings(organizationId, admin)).toEqual({
      testMode: true,
      availableProviders: ['SANDBOX'],
      accounts: [],
    });
    const rows =
      await subgraph.sql`select 1 from billing.provider_accounts where organization_id = ${organizationId}`;
    expect(rows).toHaveLength(0);
  });
});
