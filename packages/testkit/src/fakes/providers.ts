/** The environment that points billing at both fakes (stack tests and billing's own). */
import type { FakeBraintree } from './braintree.ts';
import type { FakeStripe } from './stripe.ts';

/** Billing's variables for the platform's Stripe and Braintree accounts at the tests' fake servers. */
export const fakeProvidersEnv = (
  stripe: Pick<FakeStripe, 'host' | 'port' | 'protocol'>,
  braintree: Pick<FakeBraintree, 'merchantId' | 'publicKey' | 'privateKey' | 'url'>,
  stripeSecretKey = 'sk_test_bilten_fake',
) => ({
  STRIPE_SECRET_KEY: stripeSecretKey,
  STRIPE_API_HOST: stripe.host,
  STRIPE_API_PORT: String(stripe.port),
  STRIPE_API_PROTOCOL: stripe.protocol,
  BRAINTREE_MERCHANT_ID: braintree.merchantId,
  BRAINTREE_PUBLIC_KEY: braintree.publicKey,
  BRAINTREE_PRIVATE_KEY: braintree.privateKey,
  BRAINTREE_ENVIRONMENT: braintree.url,
});
