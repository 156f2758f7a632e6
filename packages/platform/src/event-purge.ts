import { and, isNotNull, isNull, or, sql } from 'drizzle-orm';
import type { Transaction } from './db.ts';
import type { EventTables } from './event-tables.ts';

/** What erasure writes over a name it must keep a row of (a financial record): never someone's name. */
export const ERASED_NAME = '(erased)';
/** What erasure writes over an address: `.invalid` is reserved (RFC 2606), so no mail reaches anyone. */
export const ERASED_EMAIL = 'erased@erased.invalid';

/**
 * Erasure's pass over a subgraph's outbox (issue 18, article 17): events already relayed whose
 * payload names the person (orderPaid carries the buyer's email, most events a user id) are
 * deleted, since the outbox keeps sent rows only for inspection. Unsent ones stay: they must still
 * be delivered (often they are this erasure's own answer), and the next erasure of the same person,
 * or the outbox's own retention, takes them once sent. Matched by `position` rather than `like`,
 * so an address's `_` or `%` is no wildcard; case-insensitively, as addresses compare.
 */
export async function purgeSentEventsAbout(
  tx: Transaction,
  tables: Pick<EventTables, 'outbox'>,
  subject: { userId: string; email: string },
): Promise<{ purged: number; unsentKept: number }> {
  const { outbox } = tables;
  const mentions = or(
    sql`position(${subject.userId.toLowerCase()} in lower(${outbox.payload}::text)) > 0`,
    sql`position(${subject.email.trim().toLowerCase()} in lower(${outbox.payload}::text)) > 0`,
  );
  const purged = await tx
    .delete(outbox)
    .where(and(isNotNull(outbox.sentAt), mentions))
    .returning({ id: outbox.id });
  const [unsent] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(outbox)
    .where(and(isNull(outbox.sentAt), mentions));
  return { purged: purged.length, unsentKept: unsent?.count ?? 0 };
}
