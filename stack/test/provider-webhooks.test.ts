/** `POST /webhooks/{provider}` at the gateway's door: passed to billing byte for byte, verified there. */
import { encryptedColumns } from '@bilten/billing';
import { columnAad, keyRingFromEnv } from '@bilten/platform';
import Stripe from 'stripe';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './support.ts';

const WEBHOOK_SECRET = 'whsec_stack_test_stripe';
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('in-process', { env: { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET } });
});
afterAll(async () => {
  await stack?.dispose();
});

const webhook = (provider: string) => new URL(`/webhooks/${provider}`, stack.url).toString();
const post = (url: string, body: string, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('provider webhooks through the gateway', () => {
  it('passes a signed Stripe event through unchanged: billing verifies and answers it', async () => {
    // Spaces and key order kept as sent: one re-serialized byte and the signature would fail.
    const payload = `{ "id": "evt_gateway_1", "object": "event", "type": "payment_intent.succeeded",
      "data": { "object": { "id": "pi_not_ours", "object": "payment_intent", "status": "succeeded", "latest_charge": null } } }`;
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
    const response = await post(webhook('stripe'), payload, { 'stripe-signature': signature });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ received: true, result: 'unknown' });
  });

  it('answers billing’s 400 to a bad signature, and 404 for a provider billing has no webhook for', async () => {
    const payload = JSON.stringify({
      id: 'evt_gateway_2',
      object: 'event',
      type: 'charge.refunded',
      data: { object: {} },
    });
    const forged = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_someone_else' });
    expect((await post(webhook('stripe'), payload, { 'stripe-signature': forged })).status).toBe(400);
    expect((await post(webhook('stripe'), payload, {})).status).toBe(400);
    expect((await post(webhook('paypal'), payload, {})).status).toBe(404);
    expect(
      stack.logs.some((line) => line.event === 'webhook_bad_signature' && line.provider === 'STRIPE'),
    ).toBe(true);
  });

  it('passes an organization account’s webhook to billing, verified with that account’s own secret', async () => {
    // The account as setPaymentProviderAccount stores it: credentials sealed under the stack's key ring.
    const accountId = uuidv7();
    const accountSecret = 'whsec_stack_org_account';
    const column = encryptedColumns.find((encrypted) => encrypted.table === 'provider_accounts')!;
    const sealed = keyRingFromEnv({ NODE_ENV: 'test', ...stack.env }).encrypt(
      JSON.stringify({
        provider: 'STRIPE',
        secretKey: 'sk_test_stack_org_account',
        webhookSecret: accountSecret,
      }),
      columnAad(column, accountId),
    );
    await stack.sql`
      insert into billing.provider_accounts (id, organization_id, provider, credentials_sealed, key_hint)
      values (${accountId}, ${uuidv7()}, 'STRIPE', ${sealed}, 'ount')`;
    const payload = JSON.stringify({
      id: 'evt_gateway_org_1',
      object: 'event',
      type: 'balance.available',
      data: { object: {} },
    });
    const signedWith = (secret: string) => ({
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }),
    });
    const accountHook = new URL(`/webhooks/stripe/${accountId}`, stack.url).toString();

    const ok = await post(accountHook, payload, signedWith(accountSecret));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ received: true, result: 'applied' });
    expect((await post(accountHook, payload, signedWith(WEBHOOK_SECRET))).status).toBe(400);
    // An unknown account: billing's 404; a path that is no account id: the gateway's, without a trip.
    const unknown = await post(webhook(`stripe/${uuidv7()}`), payload, signedWith(accountSecret));
    expect([unknown.status, await unknown.text()]).toEqual([404, 'no such webhook endpoint']);
    const traversal = await post(webhook('stripe/..%2F..%2Fgraphql'), payload, signedWith(accountSecret));
    expect([traversal.status, await traversal.text()]).toEqual([404, 'no such webhook']);
  });

  it('refuses a body over 1 MB at the door', async () => {
    const response = await post(webhook('stripe'), `"${'x'.repeat(1024 * 1024 + 10)}"`, {
      'stripe-signature': 't=1,v1=0',
    });
    expect(response.status).toBe(413);
  });
});
