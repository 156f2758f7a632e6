import { consentChanged } from '@bilten/contracts/identity';
import type { EventConsumer, Viewer } from '@bilten/platform';
import type { Context } from '../context.ts';
import { grantedSharing, saveSharingConsent, sharingKey } from '../db/consents.ts';
import { type OrdersPeople, openOrder } from '../db/person-data.ts';
import type { OrderRow } from '../db/schema.ts';
import { readsOrdersOf } from './sales-views.ts';

// Sharing a buyer's contact details with the organizer (issue 18, consent purpose
// ORGANIZER_SHARING). What the organizer needs to run the event stays visible (the buyer's and
// attendees' names, the tickets and their status); the buyer's email only with the buyer's consent
// for that organization. Guest buyers have no account to consent with (consent at checkout is not
// built yet), so organizers never see a guest's email.

/**
 * Orders' copy of identity's ORGANIZER_SHARING answers; other purposes are messaging's. Not
 * `ordered`: identity numbers all of a user's events in one sequence, most of which this consumer
 * never sees; the `changedAt` guard keeps an older answer from winning instead.
 */
export const organizerSharingConsumer = (
  people: OrdersPeople,
): EventConsumer<typeof consentChanged.payload> => ({
  name: 'organizer-sharing-consents',
  event: consentChanged,
  async handle({ payload }, tx) {
    if (payload.purpose !== 'ORGANIZER_SHARING' || payload.organizationId === null) return;
    // Arriving after the user was erased here (their key destroyed): nothing of them comes back.
    if (await people.keys.vault.isShredded(tx, payload.userId)) return;
    await saveSharingConsent(tx, {
      userId: payload.userId,
      organizationId: payload.organizationId,
      granted: payload.granted,
      textVersion: payload.textVersion,
      changedAt: new Date(payload.changedAt),
    });
  },
});

/**
 * Whether the viewer needs the buyer's consent to see their email: only as the organization (its
 * members and API keys). The buyer themself, a platform admin (whose read is audited as
 * admin-review) and a guest holding the order's token see it anyway.
 */
function needsConsent(viewer: Viewer, order: OrderRow): boolean {
  if (viewer.kind === 'user' && (viewer.userId === order.buyerId || viewer.roles.includes('ADMIN')))
    return false;
  return viewer.kind !== 'anonymous' && readsOrdersOf(viewer, order.organizationId);
}

/** `Order.buyer`: the email is withheld from the organization unless the buyer shares it with it. */
export async function orderBuyer(
  ctx: Pick<Context, 'viewer' | 'loaders' | 'db' | 'people'>,
  order: OrderRow,
) {
  const [shown, buyer] = await Promise.all([
    !needsConsent(ctx.viewer, order) ||
      (order.buyerId !== null &&
        ctx.loaders.organizerSharing.load({ userId: order.buyerId, organizationId: order.organizationId })),
    openOrder(ctx.db, ctx.people, order),
  ]);
  return {
    name: buyer.buyerName,
    email: shown ? buyer.buyerEmail : '',
    contactEmail: shown ? buyer.buyerEmail : null,
    user: order.buyerId ? { id: order.buyerId } : null,
  };
}

/** The ids of `orders` whose buyer's email the viewer sees (what the access log must name). */
export async function ordersShowingEmail(
  ctx: Pick<Context, 'viewer' | 'db'>,
  orders: OrderRow[],
): Promise<Set<string>> {
  const asOrganizer = orders.filter((order) => needsConsent(ctx.viewer, order));
  const granted = await grantedSharing(
    ctx.db,
    asOrganizer.flatMap((order) =>
      order.buyerId ? [{ userId: order.buyerId, organizationId: order.organizationId }] : [],
    ),
  );
  return new Set(
    orders
      .filter(
        (order) =>
          !needsConsent(ctx.viewer, order) ||
          (order.buyerId !== null &&
            granted.has(sharingKey({ userId: order.buyerId, organizationId: order.organizationId }))),
      )
      .map((order) => order.id),
  );
}
