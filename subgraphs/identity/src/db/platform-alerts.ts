import type { Transaction } from '@bilten/platform';
import { platformAlerts } from './schema.ts';

export type PlatformAlertKey = Omit<typeof platformAlerts.$inferInsert, 'receivedAt'>;

/** Records the alerts not seen before (by fingerprint, startsAt, status); answers those. */
export async function insertNewPlatformAlerts(tx: Transaction, rows: PlatformAlertKey[]) {
  if (rows.length === 0) return [];
  return tx.insert(platformAlerts).values(rows).onConflictDoNothing().returning({
    fingerprint: platformAlerts.fingerprint,
    startsAt: platformAlerts.startsAt,
    status: platformAlerts.status,
  });
}
