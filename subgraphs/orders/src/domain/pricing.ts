import {
  currencyCode,
  mutationRule,
  requireOrgRole,
  type UserError,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { pricingOf, upsertPricing } from '../db/pricing.ts';
import type { OrganizationPricingRow } from '../db/schema.ts';

const MAX_SHARE = 10_000;
const MAX_FEE_PER_TICKET = 100_000;
const MAX_CURRENCIES = 20;

/** The rules an organization without a row has: nothing added. */
const NO_CHARGES = { feeBasisPoints: 0, feePerTicket: {} as Record<string, number>, taxBasisPoints: 0 };

type PricingRules = Pick<OrganizationPricingRow, 'feeBasisPoints' | 'feePerTicket' | 'taxBasisPoints'>;

/** `amount × basisPoints / 10000`, rounded half up to the minor unit (amounts are never negative). */
const share = (amount: number, basisPoints: number) => Math.floor((amount * basisPoints + 5_000) / 10_000);

/**
 * What checkout adds to the subtotal: fees = round(subtotal × fee share) + the per-ticket fee of
 * the currency × tickets; taxes = round((subtotal + fees) × tax share). Integers throughout (a
 * subtotal below 2^31 times 10000 stays exact in a double).
 */
export function charges(
  rules: PricingRules | undefined,
  { subtotal, tickets, currency }: { subtotal: number; tickets: number; currency: string },
): { fees: number; taxes: number; total: number } {
  const { feeBasisPoints, feePerTicket, taxBasisPoints } = rules ?? NO_CHARGES;
  const fees = share(subtotal, feeBasisPoints) + (feePerTicket[currency] ?? 0) * tickets;
  const taxes = share(subtotal + fees, taxBasisPoints);
  return { fees, taxes, total: subtotal + fees + taxes };
}

export interface PricingView {
  organizationId: string;
  feeBasisPoints: number;
  feePerTicket: Array<{ amount: number; currency: string }>;
  taxBasisPoints: number;
  updatedAt: Date | null;
}

function viewOf(organizationId: string, row: OrganizationPricingRow | undefined): PricingView {
  const rules = row ?? NO_CHARGES;
  return {
    organizationId,
    feeBasisPoints: rules.feeBasisPoints,
    feePerTicket: Object.entries(rules.feePerTicket)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([currency, amount]) => ({ currency, amount })),
    taxBasisPoints: rules.taxBasisPoints,
    updatedAt: row?.updatedAt ?? null,
  };
}

/** `organizationPricing(organizationId)`: for the organization's members (STAFF and up). */
export async function organizationPricing(
  ctx: Pick<Context, 'db' | 'viewer'>,
  { organizationId }: { organizationId: string },
): Promise<PricingView> {
  // The role check comes first: it also keeps ids that are not UUIDs away from the database.
  requireOrgRole(ctx.viewer, organizationId, 'STAFF');
  return viewOf(organizationId, await pricingOf(ctx.db, organizationId));
}

const basisPoints = z
  .number()
  .int()
  .min(0, `must be 0–${MAX_SHARE}`)
  .max(MAX_SHARE, `must be 0–${MAX_SHARE}`);

const setPricingInput = z.object({
  organizationId: uuidInput,
  feeBasisPoints: basisPoints,
  taxBasisPoints: basisPoints,
  feePerTicket: z
    .array(
      z.object({
        currency: currencyCode,
        amount: z
          .number()
          .int()
          .min(0, `must be 0–${MAX_FEE_PER_TICKET}`)
          .max(MAX_FEE_PER_TICKET, `must be 0–${MAX_FEE_PER_TICKET}`),
      }),
    )
    .max(MAX_CURRENCIES, `at most ${MAX_CURRENCIES} currencies`)
    .superRefine((fees, check) => {
      const seen = new Set<string>();
      fees.forEach(({ currency }, index) => {
        if (seen.has(currency))
          check.addIssue({ code: 'custom', message: 'each currency once', path: [index, 'currency'] });
        seen.add(currency);
      });
    }),
});

export interface SetPricingResult {
  pricing: PricingView | null;
  errors: UserError[];
}

/** The organization's ADMINs and OWNERs, checked before the input is read. */
const requirePricingAdmin = (viewer: Viewer, input: unknown) =>
  requireOrgRole(viewer, String((input as { organizationId?: unknown } | null)?.organizationId), 'ADMIN');

/** `setOrganizationPricing`: replaces the rules; orders checked out earlier keep their figures. */
export const setOrganizationPricing = mutationRule(
  {
    input: setPricingInput,
    caller: requirePricingAdmin,
    invalid: (errors): SetPricingResult => ({ pricing: null, errors }),
  },
  async (ctx: Pick<Context, 'db' | 'viewer'>, input): Promise<SetPricingResult> => {
    const row = await upsertPricing(ctx.db, {
      organizationId: input.organizationId,
      feeBasisPoints: input.feeBasisPoints,
      feePerTicket: Object.fromEntries(input.feePerTicket.map((fee) => [fee.currency, fee.amount])),
      taxBasisPoints: input.taxBasisPoints,
    });
    return { pricing: viewOf(row.organizationId, row), errors: [] };
  },
);
