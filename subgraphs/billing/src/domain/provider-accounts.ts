import {
  DomainError,
  mutationRule,
  requireUser,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { PaymentProviderAdapter } from '../adapters/provider.ts';
import type { ProviderCredentials } from '../adapters/providers.ts';
import { sealCredentials } from '../adapters/providers.ts';
import type { Context } from '../context.ts';
import { organizationById } from '../db/organizations.ts';
import {
  insertProviderAccount,
  liveProviderAccount,
  liveProviderAccountsOf,
  lockProviderAccounts,
  markProviderAccountRemoved,
} from '../db/provider-accounts.ts';
import {
  type OrderChargeRow,
  PAYMENT_PROVIDERS,
  type PaymentProviderName,
  type ProviderAccountRow,
} from '../db/schema.ts';
import { isOrgAdmin } from './access.ts';
import { withRetries } from './provider-calls.ts';

type AccountContext = Pick<Context, 'db' | 'viewer' | 'log' | 'providers' | 'tokenKey' | 'paymentDeadlineMs'>;

export const TEST_MODE_ONLY_SANDBOX = 'test-mode organizations take Sandbox payments only';

/** An account as its organization's admins see it: never its secrets. */
export interface AccountView {
  provider: PaymentProviderName;
  keyHint: string;
  webhookPath: string;
  updatedAt: Date;
}

const accountView = (account: ProviderAccountRow): AccountView => ({
  provider: account.provider,
  keyHint: account.keyHint,
  webhookPath: `/webhooks/${account.provider.toLowerCase()}/${account.id}`,
  updatedAt: account.updatedAt,
});

const UNKNOWN_ORGANIZATION = 'No organization with this id.';

/**
 * The organization's ADMIN/OWNER or a platform ADMIN may go on. Its other members are FORBIDDEN;
 * anyone else learns nothing (NOT_FOUND, as for an unknown id).
 */
function adminRefusal(
  user: Extract<Viewer, { kind: 'user' }>,
  organizationId: string,
): UserError | undefined {
  if (!user.organizations[organizationId] && !isOrgAdmin(user, organizationId))
    return { code: 'NOT_FOUND', message: UNKNOWN_ORGANIZATION, field: ['input', 'organizationId'] };
  if (!isOrgAdmin(user, organizationId))
    throw new DomainError(
      'FORBIDDEN',
      "only the organization's ADMIN or OWNER may change its payment accounts",
    );
  return undefined;
}

/** An organization billing has not heard of yet takes live payments (identity's event may be on its way). */
const isTestMode = async (ctx: Pick<Context, 'db'>, organizationId: string) =>
  (await organizationById(ctx.db, organizationId))?.testMode ?? false;

// Shapes as the providers issue them; bounded, so nothing long is sent to a provider or stored.
const keyPart = /^[A-Za-z0-9_]{8,247}$/;
const braintreeId = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, `must be a Braintree ${what} (letters, digits, - and _, at most 64)`);

const stripeAccountInput = z.object({
  secretKey: z
    .string()
    .trim()
    .refine(
      (key) => /^sk_(live|test)_/.test(key) && keyPart.test(key.replace(/^sk_(live|test)_/, '')),
      'must be a Stripe secret key (sk_live_… or sk_test_…)',
    ),
  webhookSecret: z
    .string()
    .trim()
    .refine(
      (secret) => secret.startsWith('whsec_') && keyPart.test(secret.slice(6)),
      'must be the webhook endpoint’s signing secret (whsec_…)',
    ),
});

const braintreeAccountInput = z.object({
  merchantId: braintreeId('merchant id'),
  publicKey: braintreeId('public key'),
  privateKey: braintreeId('private key'),
  environment: z.enum(['SANDBOX', 'PRODUCTION']).nullish(),
});

const setAccountInput = z
  .object({
    organizationId: uuidInput,
    stripe: stripeAccountInput.nullish(),
    braintree: braintreeAccountInput.nullish(),
  })
  .refine((input) => Boolean(input.stripe) !== Boolean(input.braintree), {
    message: 'give exactly one of stripe and braintree',
  });

const credentialsOf = (input: z.output<typeof setAccountInput>): ProviderCredentials =>
  input.stripe
    ? { provider: 'STRIPE', ...input.stripe }
    : {
        provider: 'BRAINTREE',
        merchantId: input.braintree!.merchantId,
        publicKey: input.braintree!.publicKey,
        privateKey: input.braintree!.privateKey,
        environment: input.braintree!.environment ?? 'PRODUCTION',
      };

const NAMES = { STRIPE: 'Stripe', BRAINTREE: 'Braintree' } as const;

interface SetAccountResult {
  account: AccountView | null;
  errors: UserError[];
}

/**
 * The organization's ADMIN/OWNER connects its own Stripe or Braintree account. The provider is
 * asked first: credentials it refuses are never stored. Stored sealed (platform key ring, bound to
 * the row); a replaced account is marked removed in the same transaction, under a lock per
 * organization and provider, so concurrent calls leave one live account (the last).
 */
export const setPaymentProviderAccount = mutationRule(
  {
    input: setAccountInput,
    caller: requireUser,
    invalid: (errors): SetAccountResult => ({ account: null, errors }),
  },
  async (ctx: AccountContext, input, user): Promise<SetAccountResult> => {
    const refused = adminRefusal(user, input.organizationId);
    if (refused) return { account: null, errors: [refused] };
    if (await isTestMode(ctx, input.organizationId))
      return {
        account: null,
        errors: [
          { code: 'INVALID_INPUT', message: TEST_MODE_ONLY_SANDBOX, field: ['input', 'organizationId'] },
        ],
      };

    const credentials = credentialsOf(input);
    const name = NAMES[credentials.provider];
    const field = ['input', credentials.provider.toLowerCase()];
    const checked = await withRetries(ctx.paymentDeadlineMs, (signal) =>
      ctx.providers.forCredentials(credentials).checkCredentials(signal),
    );
    if (!checked.ok)
      return {
        account: null,
        errors: [
          {
            code: 'CONFLICT',
            message: `${name} could not be reached to check these credentials; try again.`,
          },
        ],
      };
    if (!checked.value)
      return {
        account: null,
        errors: [{ code: 'INVALID_INPUT', message: `${name} refused these credentials`, field }],
      };

    const id = uuidv7();
    const secret = credentials.provider === 'STRIPE' ? credentials.secretKey : credentials.privateKey;
    const account = await ctx.db.transaction(async (tx) => {
      await lockProviderAccounts(tx, input.organizationId, credentials.provider);
      await markProviderAccountRemoved(tx, input.organizationId, credentials.provider);
      return insertProviderAccount(tx, {
        id,
        organizationId: input.organizationId,
        provider: credentials.provider,
        credentialsSealed: sealCredentials(ctx.tokenKey, id, credentials),
        keyHint: secret.slice(-4),
        updatedBy: user.userId,
      });
    });
    ctx.log.info(
      { organizationId: account.organizationId, provider: account.provider, accountId: id, by: user.userId },
      'payment provider account set',
    );
    return { account: accountView(account), errors: [] };
  },
);

interface RemoveAccountResult {
  removed: boolean;
  errors: UserError[];
}

/** Disconnects the organization's own account; its row stays, so its payments can still be refunded. */
export const removePaymentProviderAccount = mutationRule(
  {
    input: z.object({
      organizationId: uuidInput,
      provider: z.enum(['STRIPE', 'BRAINTREE'], 'must be STRIPE or BRAINTREE: the Sandbox has no accounts'),
    }),
    caller: requireUser,
    invalid: (errors): RemoveAccountResult => ({ removed: false, errors }),
  },
  async (ctx: AccountContext, input, user): Promise<RemoveAccountResult> => {
    const refused = adminRefusal(user, input.organizationId);
    if (refused) return { removed: false, errors: [refused] };
    const removed = await ctx.db.transaction(async (tx) => {
      await lockProviderAccounts(tx, input.organizationId, input.provider);
      return markProviderAccountRemoved(tx, input.organizationId, input.provider);
    });
    if (removed)
      ctx.log.info(
        {
          organizationId: input.organizationId,
          provider: input.provider,
          accountId: removed.id,
          by: user.userId,
        },
        'payment provider account removed',
      );
    return { removed: Boolean(removed), errors: [] };
  },
);

/**
 * `Organization.paymentSettings`, for its ADMIN/OWNER and platform ADMINs (null for anyone else):
 * a test-mode organization takes the Sandbox only; otherwise each provider it has an account at or
 * the platform offers.
 */
export async function paymentSettingsOf(
  ctx: Pick<Context, 'db' | 'viewer' | 'providers'>,
  organization: { id: string },
) {
  if (ctx.viewer.kind !== 'user' || !isOrgAdmin(ctx.viewer, organization.id)) return null;
  const [testMode, accounts] = await Promise.all([
    isTestMode(ctx, organization.id),
    liveProviderAccountsOf(ctx.db, organization.id),
  ]);
  const own = new Set(accounts.map((account) => account.provider));
  const availableProviders: PaymentProviderName[] = testMode
    ? ['SANDBOX']
    : PAYMENT_PROVIDERS.filter((name) => own.has(name) || ctx.providers.platformOffers(name));
  return { testMode, availableProviders, accounts: accounts.map(accountView) };
}

/** Where an order's payment with `provider` goes, or why it cannot. */
export type ProviderChoice =
  | { adapter: PaymentProviderAdapter; account: ProviderAccountRow | null }
  | { error: UserError };

/**
 * The adapter payOrder charges through: a test-mode organization's orders only through the
 * Sandbox; otherwise the organization's own live account at that provider, else the platform's
 * (as far as the caller may use it: TEST-mode API keys get the Sandbox only).
 */
export async function providerForOrder(
  ctx: Pick<Context, 'db' | 'viewer' | 'providers'>,
  charge: OrderChargeRow,
  provider: PaymentProviderName,
): Promise<ProviderChoice> {
  const field = ['input', 'provider'];
  if (await isTestMode(ctx, charge.organizationId)) {
    const sandbox = provider === 'SANDBOX' && ctx.providers.get('SANDBOX');
    return sandbox
      ? { adapter: sandbox, account: null }
      : { error: { code: 'INVALID_INPUT', message: TEST_MODE_ONLY_SANDBOX, field } };
  }
  const testKey = ctx.viewer.kind === 'apiKey' && ctx.viewer.mode === 'TEST';
  if (provider !== 'SANDBOX' && !testKey) {
    const account = await liveProviderAccount(ctx.db, charge.organizationId, provider);
    if (account) return { adapter: ctx.providers.forAccount(account), account };
  }
  const platform = ctx.providers.forCaller(provider, ctx.viewer);
  if (platform) return { adapter: platform, account: null };
  return {
    error: { code: 'INVALID_INPUT', message: `${provider} is not available for this organization`, field },
  };
}
