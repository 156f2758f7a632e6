import { organizationClosureRequested } from '@bilten/contracts/identity';
import type { EventConsumer, Outbox, Viewer } from '@bilten/platform';
import { insertClosedOrganization, lockUpcomingEventsOf } from '../db/queries.ts';
import { organizationClosureRefused, organizationEventsClosed } from '../events.ts';
import { cancel } from './lifecycle.ts';

const CLOSURE_REASON = 'the organizer closed their organization';

/**
 * Catalog's step of closing an organization (identity's `deleteOrganization`): refused while an
 * upcoming event has sold tickets, else every upcoming event is cancelled, each with its own
 * `cancelled` (orders refund, messaging tells), and identity hears that it may remove the team.
 * Under the organization's lock, no event can be created or sold into in the meantime.
 */
export const organizationClosureConsumer = (
  outbox: Outbox,
): EventConsumer<typeof organizationClosureRequested.payload> => ({
  name: 'organization-closure',
  event: organizationClosureRequested,
  async handle({ id, payload: { organizationId, closureId, requestedBy } }, tx) {
    const upcoming = await lockUpcomingEventsOf(tx, organizationId);
    const withSales = upcoming.filter((event) => event.ticketsSold > 0);
    if (withSales.length) {
      await outbox.publish(tx, organizationClosureRefused, organizationId, {
        organizationId,
        closureId,
        reason: refusalOf(withSales),
        events: withSales.map((event) => ({
          eventId: event.id,
          title: event.title,
          startsAt: event.startsAt.toISOString(),
          ticketsSold: event.ticketsSold,
        })),
      });
      return;
    }
    // Versions and audit entries name the owner who asked, as if they had cancelled each event.
    const ctx = {
      db: tx,
      viewer: ownerActing(requestedBy, organizationId),
      outbox,
      requestId: id,
      clientIp: null,
      userAgent: null,
    };
    for (const event of upcoming) await cancel(tx, ctx, event, CLOSURE_REASON, 'event.cancelled_by_closure');
    await insertClosedOrganization(tx, organizationId, closureId);
    await outbox.publish(tx, organizationEventsClosed, organizationId, {
      organizationId,
      closureId,
      cancelledEventIds: upcoming.map((event) => event.id),
    });
  },
});

function refusalOf(events: Array<{ title: string; ticketsSold: number }>) {
  const listed = events
    .slice(0, 5)
    .map((event) => `“${event.title}” (${event.ticketsSold} sold)`)
    .join(', ');
  const more = events.length > 5 ? ` and ${events.length - 5} more` : '';
  return (
    `${events.length === 1 ? 'an upcoming event has' : `${events.length} upcoming events have`} sold tickets: ` +
    `${listed}${more}. Cancel ${events.length === 1 ? 'it' : 'them'} first (buyers are refunded) or close the organization after ${events.length === 1 ? 'it has' : 'they have'} ended.`
  );
}

const ownerActing = (userId: string, organizationId: string): Viewer => ({
  kind: 'user',
  userId,
  roles: [],
  organizations: { [organizationId]: 'OWNER' },
  tokenId: userId,
  emailVerified: true,
});
