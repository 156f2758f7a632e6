import { eventAvailabilityChanged, eventSalesChanged, orderStatusChanged } from '@bilten/contracts/orders';
import type { EventDefinition } from '@bilten/platform';
import { print, type SelectionSetNode } from 'graphql';

/**
 * One root field of `Subscription`: the domain events that may change what it shows, the entity
 * key each carries, and how the entity is read again through the supergraph (`lookup` wraps the
 * client's selection set; `pick` finds the field's value in the answer).
 */
export interface LiveField {
  events: EventDefinition[];
  keyArgument: string;
  keyOf(payload: Record<string, unknown>): string | undefined;
  lookup(selection: SelectionSetNode): string;
  pick(data: Record<string, unknown>): unknown;
  /** Reads at most once per this many ms per subscription; later changes wait (the last state wins). */
  coalesceMs?: number;
  /** Anonymous subscribers are refused unless `publicArgument` is given (a guest's token). */
  signedIn: boolean;
  publicArgument?: string;
}

/** Variables of the lookup query the gateway adds: the entity's key and a guest's token. */
export const KEY = '__biltenKey';
export const GUEST = '__biltenGuestToken';

/**
 * The served root fields. ticketAvailability: holds taken or given back, and sales returned, move
 * what is left; coalesced because a sale rush would otherwise push one read per reservation to
 * every watcher. notificationReceived and unreadNotificationCount (messaging's in-app
 * notifications, next session) join here, keyed by the recipient.
 */
export const LIVE_FIELDS: Record<string, LiveField> = {
  orderUpdated: {
    events: [orderStatusChanged],
    keyArgument: 'orderId',
    keyOf: (payload) => payload.orderId as string,
    lookup: (selection) => `order(id: $${KEY}, guestToken: $${GUEST}) ${printSelection(selection)}`,
    pick: (data) => data.order,
    signedIn: true,
    publicArgument: 'guestToken',
  },
  ticketAvailability: {
    events: [eventAvailabilityChanged, eventSalesChanged],
    keyArgument: 'eventId',
    keyOf: (payload) => payload.eventId as string,
    lookup: (selection) => `event(id: $${KEY}) ${printSelection(selection)}`,
    pick: (data) => data.event,
    coalesceMs: 1_000,
    signedIn: false,
  },
  eventSales: {
    events: [eventSalesChanged],
    keyArgument: 'eventId',
    keyOf: (payload) => payload.eventId as string,
    lookup: (selection) => `event(id: $${KEY}) { salesSummary ${printSelection(selection)} }`,
    pick: (data) => (data.event as { salesSummary?: unknown } | null)?.salesSummary ?? null,
    signedIn: true,
  },
};

const printSelection = (selection: SelectionSetNode) => print(selection);
