import { type Database, type Logger, runPeriodically } from '@bilten/platform';
import { deleteSecurityEventsBefore } from '../db/security.ts';

// Security events keep the client's address in clear: the detection rules group failed sign-ins
// by address in SQL (db/security.ts). That is the lawful-basis exception to sealing personal data
// per person — legitimate interest in network and information security (GDPR art. 6(1)(f),
// recital 49) — and it holds only as long as detection needs the events: past
// SECURITY_EVENTS_RETENTION_DAYS they are deleted. Alerts and incidents keep their own summaries.

const DAY_MS = 24 * 60 * 60 * 1000;
const BATCH = 5000;

/** Deletes the security events older than `retentionDays`, in batches; answers how many went. */
export async function sweepSecurityEvents(db: Database, retentionDays: number, now = new Date()) {
  const before = new Date(now.getTime() - retentionDays * DAY_MS);
  let deleted = 0;
  for (;;) {
    const batch = await deleteSecurityEventsBefore(db, before, BATCH);
    deleted += batch;
    if (batch < BATCH) return deleted;
  }
}

/** The retention sweep, every `intervalMs` (hourly by default), beside identity's other sweeps. */
export function startSecurityEventsRetention(
  deps: { db: Database; log: Logger },
  retentionDays: number,
  intervalMs = 60 * 60_000,
): { stop(): Promise<void> } {
  const sweep = async () => {
    const deleted = await sweepSecurityEvents(deps.db, retentionDays);
    if (deleted) deps.log.info({ deleted, retentionDays }, 'security events past retention deleted');
  };
  return runPeriodically(intervalMs, sweep, (error) =>
    deps.log.error({ err: error }, 'deleting security events past retention failed'),
  );
}
