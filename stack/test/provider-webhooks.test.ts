/** `POST /webhooks/{provider}` at the gateway's door: passed to billing byte for byte, verified there. */
import Stripe from 'stripe';
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

  it('refuses a body over 1 MB at the door', async () => {
    const response = await post(webhook('stripe'), `"${'x'.repeat(1024 * 1024 + 10)}"`, {
      'stripe-signature': 't=1,v1=0',
    });
    expect(response.status).toBe(413);
  });
});
