import { createHash, timingSafeEqual } from 'node:crypto';
import type { Viewer } from '@bilten/platform';
import type { OrderChargeRow } from '../db/schema.ts';

// Who may do what with an order's money: one place for payments, refunds, receipts and accounts.

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Whether the caller may pay (and follow) the order's payments: its buyer's account, or for a
 * guest order whoever shows the guest token (compared by hash, in constant time). An API key is
 * never a buyer: it may pay only a guest order of its own organization, with the token.
 */
export function mayPay(
  viewer: Viewer,
  charge: OrderChargeRow,
  guestToken: string | null | undefined,
): boolean {
  if (charge.buyerId) return viewer.kind === 'user' && viewer.userId === charge.buyerId;
  if (viewer.kind === 'apiKey' && viewer.organizationId !== charge.organizationId) return false;
  if (!charge.guestTokenHash || !guestToken) return false;
  const given = Buffer.from(sha256Hex(guestToken));
  const stored = Buffer.from(charge.guestTokenHash);
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/** Who may read an order's payments: its buyer, the organization's ADMIN/OWNER, platform ADMINs. */
export function maySeePayments(viewer: Viewer, charge: OrderChargeRow | null): boolean {
  if (!charge || viewer.kind !== 'user') return false;
  if (viewer.roles.includes('ADMIN') || viewer.userId === charge.buyerId) return true;
  const role = viewer.organizations[charge.organizationId];
  return role === 'ADMIN' || role === 'OWNER';
}

/** The organization's ADMIN/OWNER, or a platform ADMIN. */
export const isOrgAdmin = (viewer: Extract<Viewer, { kind: 'user' }>, organizationId: string) => {
  const role = viewer.organizations[organizationId];
  return viewer.roles.includes('ADMIN') || role === 'ADMIN' || role === 'OWNER';
};
