import { dataEncryptionEnv, mailLinkSecret, personKeysEnv, port, serviceEnv } from '@bilten/platform';
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** Billing's variables: the kit's common ones and its port. */
export const billingEnv = serviceEnv({
  BILLING_PORT: port(4004),
  /** How long one payOrder/confirmPayment may spend asking its provider, retries included (ms): under the gateway's subgraph timeout (5 s), so the buyer hears the outcome. */
  PAYMENT_DEADLINE_MS: z.coerce.number().int().min(100).max(60_000).default(4_000),
  /** How often payments and refunds left PENDING are asked about again (domain/stale-payments.ts), in milliseconds. */
  PAYMENT_SWEEP_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  /** A PENDING payment or refund untouched this long is asked about again; also how long a sweep's claim lasts (more than PAYMENT_DEADLINE_MS). */
  STALE_PAYMENT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Encrypts payment-method tokens at rest (the platform key ring); required in production. */
  ...dataEncryptionEnv,
  /** Seal buyers' names and addresses under a key per person (issue 18); required in production. */
  ...personKeysEnv,
  /** Secret (≥ 32 characters) of the receipt PDF links in mails (HMAC); required in production. */
  RECEIPT_LINK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Seals those links' tokens in events for messaging (the same value as identity's, orders' and messaging's). */
  MAIL_LINK_SECRET: mailLinkSecret,
  /** Where branding serves `/assets/{sha256}`: the logo a PDF embeds is fetched from there (and checked against its hash). */
  BRAND_ASSETS_URL: httpUrl.default('http://localhost:4006'),
  /** The gateway's public URL: the printed link's base for an organization without an active custom domain. */
  PUBLIC_GATEWAY_URL: httpUrl.default('http://localhost:4000'),
  /** Braintree (all three set → the BRAINTREE provider is registered). */
  BRAINTREE_MERCHANT_ID: z.string().min(1).optional(),
  BRAINTREE_PUBLIC_KEY: z.string().min(1).optional(),
  BRAINTREE_PRIVATE_KEY: z.string().min(1).optional(),
  /** `sandbox`, `production`, or an http(s) URL of a Braintree-compatible gateway (tests' fake). */
  BRAINTREE_ENVIRONMENT: z
    .string()
    .refine((value) => ['sandbox', 'production'].includes(value) || /^https?:\/\/[^/]+/.test(value), {
      message: 'must be sandbox, production or an http(s) URL',
    })
    .default('sandbox'),
  /** Merchant account per currency, `EUR:account_eur,USD:account_usd`; unset: the default account. */
  BRAINTREE_MERCHANT_ACCOUNTS: z
    .string()
    .regex(
      /^\s*[A-Za-z]{3}\s*:\s*[\w-]+\s*(,\s*[A-Za-z]{3}\s*:\s*[\w-]+\s*)*$/,
      'must look like EUR:account_eur,USD:account_usd',
    )
    .optional(),
  /** Stripe's secret key (`sk_…`): set → the STRIPE provider is registered. */
  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  /** The webhook endpoint's signing secret (`whsec_…`): set → `POST /webhooks/stripe` is served. */
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** Another Stripe API host, port and protocol (the tests' fake server); Stripe's own by default. */
  STRIPE_API_HOST: z.string().min(1).optional(),
  STRIPE_API_PORT: z.coerce.number().int().min(1).max(65_535).optional(),
  STRIPE_API_PROTOCOL: z.enum(['http', 'https']).optional(),
});
export type BillingConfig = z.infer<typeof billingEnv>;
