import type { Transaction } from '@bilten/platform';
import { and, asc, eq, gt, gte, isNotNull, isNull, or, sql } from 'drizzle-orm';
import { type OrderBookRow, orderBook } from './schema.ts';

// `holdersOf(tx, keys, eventId)`, an event's holders as recipients, is in domain/order-book.ts: guests'
// addresses are sealed under their own keys, and opening them needs the vault.

export type OrderBookEntry = Omit<OrderBookRow, 'updatedAt' | 'holdingSince' | 'releasedAt'>;

/** An order as created: its row, unless its payment (which carries the same facts) wrote it first. */
export async function insertOrder(tx: Transaction, row: OrderBookEntry): Promise<void> {
  await tx.insert(orderBook).values(row).onConflictDoNothing();
}

/**
 * A paid order (or a received ticket) holds from `holdingSince`: the row is written if missing
 * (free orders have no orderCreated) and keeps its first holding date on a redelivery.
 */
export async function upsertHolding(
  tx: Transaction,
  row: OrderBookEntry & { holdingSince: Date },
): Promise<void> {
  await tx
    .insert(orderBook)
    .values(row)
    .onConflictDoUpdate({
      target: orderBook.id,
      set: {
        userId: sql`coalesce(${orderBook.userId}, excluded.user_id)`,
        // A guest row that gains its account: the address is then sealed under the account's key.
        emailSealed: sql`case when ${orderBook.userId} is null and excluded.user_id is not null then excluded.email_sealed else ${orderBook.emailSealed} end`,
        holdingSince: sql`coalesce(${orderBook.holdingSince}, excluded.holding_since)`,
        updatedAt: sql`now()`,
      },
    });
}

/** The order's rows (its own and its transferred tickets') hold no more, as of the first release. */
export async function releaseOrder(tx: Transaction, orderId: string, releasedAt: Date): Promise<void> {
  await tx
    .update(orderBook)
    .set({ releasedAt, updatedAt: new Date() })
    .where(and(eq(orderBook.orderId, orderId), isNull(orderBook.releasedAt)));
}

/** One row: an order by its id, or a transferred ticket's holder by the ticket's id. */
export async function orderBookEntry(tx: Transaction, id: string): Promise<OrderBookRow | null> {
  const [row] = await tx.select().from(orderBook).where(eq(orderBook.id, id));
  return row ?? null;
}

/** Releases one row (a transferred ticket passed on again). */
export async function releaseEntry(tx: Transaction, id: string, releasedAt: Date): Promise<void> {
  await tx
    .update(orderBook)
    .set({ releasedAt, updatedAt: new Date() })
    .where(and(eq(orderBook.id, id), isNull(orderBook.releasedAt)));
}

/** Whose event it is and what it sells in, from any of its rows: for a transferred ticket's row. */
export async function eventOfBook(
  tx: Transaction,
  eventId: string,
): Promise<{ organizationId: string; currency: string } | null> {
  const [row] = await tx
    .select({ organizationId: orderBook.organizationId, currency: orderBook.currency })
    .from(orderBook)
    .where(eq(orderBook.eventId, eventId))
    .limit(1);
  return row ?? null;
}

/**
 * Holding rows of the event; with `releasedSince`, also those released since then (a cancellation's
 * own refunds may reach the book before the cancellation reaches its workflow).
 */
const holding = (eventId: string, releasedSince?: Date) =>
  and(
    eq(orderBook.eventId, eventId),
    isNotNull(orderBook.holdingSince),
    releasedSince
      ? or(isNull(orderBook.releasedAt), gte(orderBook.releasedAt, releasedSince))
      : isNull(orderBook.releasedAt),
  );

/** The next `limit` users holding tickets of the event after `afterUserId`, with what they paid in all. */
export const holdingUsersAfter = (
  tx: Transaction,
  eventId: string,
  limit: number,
  afterUserId?: string,
  releasedSince?: Date,
) =>
  tx
    .select({
      userId: sql<string>`${orderBook.userId}`,
      amount: sql<number>`sum(${orderBook.totalAmount})::int`,
      currency: sql<string>`min(${orderBook.currency})`,
    })
    .from(orderBook)
    .where(
      and(
        holding(eventId, releasedSince),
        isNotNull(orderBook.userId),
        afterUserId ? gt(orderBook.userId, afterUserId) : undefined,
      ),
    )
    .groupBy(orderBook.userId)
    .orderBy(asc(orderBook.userId))
    .limit(limit);

/** The next `limit` holding rows of guests (no account) after `afterId`. */
export const holdingGuestRowsAfter = (
  tx: Transaction,
  eventId: string,
  limit: number,
  afterId?: string,
  releasedSince?: Date,
) =>
  tx
    .select()
    .from(orderBook)
    .where(
      and(
        holding(eventId, releasedSince),
        isNull(orderBook.userId),
        afterId ? gt(orderBook.id, afterId) : undefined,
      ),
    )
    .orderBy(asc(orderBook.id))
    .limit(limit);
