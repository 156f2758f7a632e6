import { personalDataAccessed } from '@bilten/contracts/billing';
import { reportPersonalDataAccess } from '@bilten/platform';
import type { Context } from '../context.ts';
import type { OrderChargeRow } from '../db/schema.ts';

// The access audit (issue 18): a buyer's payments and receipts read by someone else (their
// organizer's ADMIN/OWNER, a platform admin) are recorded in identity's access log.

/** What a payment shows of its payer: what they paid, how, and how it went. */
export const PAYMENT_FIELDS = ['payment.amount', 'payment.provider', 'payment.status'];
/** What a receipt (or credit note) shows of its buyer. */
export const RECEIPT_FIELDS = ['buyer.name', 'buyer.email', 'receipt.lines', 'receipt.total'];

/**
 * Reports that the caller read `charge`'s buyer's `fields` in `resource`, unless it is the buyer.
 * The organization's own admins read them as `order-payments`; a platform admin from elsewhere,
 * `admin-review`. Guest orders have no account to name and are left out.
 */
export function reportMoneyRead(
  ctx: Pick<Context, 'viewer' | 'requestId' | 'db' | 'outbox'>,
  charge: OrderChargeRow | null | undefined,
  resource: string,
  fields: string[],
): Promise<void> {
  if (!charge?.buyerId) return Promise.resolve();
  const viewer = ctx.viewer;
  const ofOrganization =
    viewer.kind === 'user' && ['ADMIN', 'OWNER'].includes(viewer.organizations[charge.organizationId] ?? '');
  return reportPersonalDataAccess(ctx, personalDataAccessed, {
    subjectUserId: charge.buyerId,
    organizationId: charge.organizationId,
    purpose: ofOrganization ? 'order-payments' : 'admin-review',
    fields,
    resource,
  });
}
