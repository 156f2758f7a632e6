import { notificationCreated, notificationsRead } from '@bilten/contracts/messaging';
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
  /** The root field's argument naming the entity; unset: the key is the signed-in subscriber's user id. */
  keyArgument?: string;
  keyOf(payload: Record<string, unknown>): string | undefined;
  /**
   * Set when each message names a new entity (a notification): it is read once, by this id, and
   * there is no first message. Unset: the keyed entity is read again after each change.
   */
  entityOf?(payload: Record<string, unknown>): string | undefined;
  /** The lookup for the client's selection set (undefined for a scalar field). */
  lookup(selection: SelectionSetNode | undefined): string;
  pick(data: Record<string, unknown>): unknown;
  /** Reads at most once per this many ms per subscription; later changes wait (the last state wins). */
  coalesceMs?: number;
  /** Anonymous subscribers are refused unless `publicArgument` is given (a guest's token). */
  signedIn: boolean;
  publicArgument?: string;
  /**
   * The answer is the public one, the same whoever asks: read without the subscriber's credential,
   * once per change (window) for every subscriber of this process with the same selection.
   */
  public?: boolean;
}

/** Variables of the lookup query the gateway adds: the entity's key and a guest's token. */
export const KEY = '__biltenKey';
export const GUEST = '__biltenGuestToken';

/**
 * The served root fields. ticketAvailability: holds taken or given back, and sales returned, move
 * what is left; coalesced because a sale rush would otherwise push one read per reservation to
 * every watcher, and public so that a crowd on one event shares each read. notificationReceived and
 * unreadNotificationCount: messaging's in-app notifications, keyed by the recipient; the count is
 * sent again on a new notification and when notifications are read (or archived unread).
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
    public: true,
  },
  eventSales: {
    events: [eventSalesChanged],
    keyArgument: 'eventId',
    keyOf: (payload) => payload.eventId as string,
    lookup: (selection) => `event(id: $${KEY}) { salesSummary ${printSelection(selection)} }`,
    pick: (data) => (data.event as { salesSummary?: unknown } | null)?.salesSummary ?? null,
    signedIn: true,
  },
  notificationReceived: {
    events: [notificationCreated],
    keyOf: (payload) => payload.recipientId as string,
    entityOf: (payload) => payload.notificationId as string,
    lookup: (selection) => `notification(id: $${KEY}) ${printSelection(selection)}`,
    pick: (data) => data.notification,
    signedIn: true,
  },
  unreadNotificationCount: {
    events: [notificationCreated, notificationsRead],
    keyOf: (payload) => payload.recipientId as string,
    lookup: () => 'me { unreadNotificationCount }',
    pick: (data) =>
      (data.me as { unreadNotificationCount?: unknown } | null)?.unreadNotificationCount ?? null,
    signedIn: true,
  },
};

const printSelection = (selection: SelectionSetNode | undefined) => (selection ? print(selection) : '');
