import { columnAad, type Database, type KeyRing, type Transaction } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import type { AddressHash } from '../adapters/address-hash.ts';
import { insertDeliveries, notifyDeliveryWorkers } from '../db/deliveries.ts';
import { type MessagingKeys, openFor, personOf, sealFor } from '../db/person-keys.ts';
import { DELIVERY_COLUMNS, type DeliveryRow } from '../db/schema.ts';
import type { CommonData } from './channels.ts';
import { KINDS, type KindName } from './delivery-rules.ts';

/**
 * The delivery queue: workflows enqueue one row per recipient and channel in their consumer's
 * transaction; the worker claims due rows, renders and sends them outside any transaction, and
 * records each attempt. At least once on the wire (a crash mid-send resends after the lease), once
 * per source event, address and channel in the table.
 */

/** One message a workflow hands the queue. */
export interface NewDelivery {
  kind: KindName;
  channel: 'EMAIL' | 'WEB_PUSH' | 'SMS';
  locale: string;
  sourceEventId: string;
  recipientId: string | null;
  /** EMAIL: the address; SMS: an E.164 number; WEB_PUSH: the push subscription's id. */
  address: string;
  /** The kind's template variables, `DataOf<kind>` (typed loosely: a generic kind's data does not narrow). */
  data: CommonData;
  organizationId?: string | null;
  eventId?: string | null;
  /** Held until then (the user's quiet hours). */
  notBefore?: Date | null;
  /** The delivery of another channel this one replaces, having given up. */
  fallbackOf?: string;
}

export interface EnqueueDeps {
  /** The messaging key ring (`keyRingFromEnv`): template data is encrypted bound to its row. */
  ring: KeyRing;
  /** Addresses are sealed under their person's key (the recipient's, or a guest's). */
  keys: MessagingKeys;
  addressHash: AddressHash;
}

export const [ADDRESS_COLUMN, DATA_COLUMN] = DELIVERY_COLUMNS;

/** A stable Message-ID per delivery: a mail resent after a crash is recognisably the same mail. */
export function messageIdOf(deliveryId: string, from: string): string {
  const domain = /@([^\s<>@]+)>?\s*$/.exec(from)?.[1] ?? 'bilten.local';
  return `<${deliveryId}@${domain}>`;
}

/** The delivery's address; null once its person was erased here (never to be sent). */
export const addressOf = (
  db: Database | Transaction,
  keys: MessagingKeys,
  row: Pick<DeliveryRow, 'id' | 'recipientId' | 'addressIndex' | 'addressSealed'>,
) =>
  openFor(
    db,
    keys,
    row.recipientId ? { userId: row.recipientId } : { guestIndex: row.addressIndex! },
    row.addressSealed,
    columnAad(ADDRESS_COLUMN, row.id),
  );

/**
 * Queues `items` in the caller's transaction; one already queued for the same source event,
 * address and channel is skipped (a redelivered event enqueues nothing), and so is one for a
 * user erased here. Wakes the workers on commit. Returns how many rows were new.
 */
export async function enqueueDeliveries(
  tx: Transaction,
  deps: EnqueueDeps,
  items: NewDelivery[],
): Promise<number> {
  const rows: Parameters<typeof insertDeliveries>[1] = [];
  for (const item of items) {
    const id = uuidv7();
    const { category, critical } = KINDS[item.kind];
    const person = personOf(deps.keys, item.recipientId, item.address);
    const addressSealed = await sealFor(tx, deps.keys, person, item.address, columnAad(ADDRESS_COLUMN, id));
    if (addressSealed === null) continue;
    rows.push({
      id,
      kind: item.kind,
      category,
      critical,
      channel: item.channel,
      locale: item.locale,
      sourceEventId: item.sourceEventId,
      recipientId: item.recipientId,
      addressSealed,
      addressIndex: 'guestIndex' in person ? person.guestIndex : null,
      addressHash: deps.addressHash(item.address, item.channel),
      dataSealed: deps.ring.encrypt(JSON.stringify(item.data), columnAad(DATA_COLUMN, id)),
      organizationId: item.organizationId ?? null,
      eventId: item.eventId ?? null,
      fallbackOf: item.fallbackOf ?? null,
      ...(item.notBefore && { nextAttemptAt: item.notBefore }),
    });
  }
  if (!rows.length) return 0;
  const inserted = await insertDeliveries(tx, rows);
  if (inserted) await notifyDeliveryWorkers(tx);
  return inserted;
}
