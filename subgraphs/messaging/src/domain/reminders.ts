import { eventReminderDue } from '@bilten/contracts/messaging';
import { type Database, type Logger, type Outbox, runPeriodically } from '@bilten/platform';
import { claimDueReminders } from '../db/event-schedules.ts';

// A day before each event's start, its ticket holders are reminded: the sweep marks the start it
// reminds for and publishes `eventReminderDue` in the same transaction; the reminder workflow
// (event-workflows.ts) consumes it like any event, so the inbox keeps it to one notice per holder.
// An event published (or moved) less than a day before its start is reminded at the next pass,
// even an hour before: a late reminder still tells holders when and where, and it is sent once.

/** Events claimed per transaction: each is one outbox row, so a batch stays a short transaction. */
const BATCH = 100;

export interface ReminderSweepDeps {
  db: Database;
  outbox: Outbox;
  log: Logger;
}

/** One sweep: every due reminder, a batch per transaction; answers how many were published. */
export async function sweepReminders(deps: ReminderSweepDeps): Promise<number> {
  let published = 0;
  for (;;) {
    const claimed = await deps.db.transaction(async (tx) => {
      const due = await claimDueReminders(tx, BATCH);
      for (const { eventId, organizationId, startsAt } of due)
        await deps.outbox.publish(tx, eventReminderDue, eventId, {
          eventId,
          organizationId,
          startsAt: startsAt.toISOString(),
        });
      return due.length;
    });
    published += claimed;
    if (claimed < BATCH) return published;
  }
}

/** Sweeps every `intervalMs` (REMINDER_SWEEP_MS) until stopped; one log line per sweep that found work. */
export const startReminderSweep = (deps: ReminderSweepDeps, intervalMs: number) =>
  runPeriodically(
    intervalMs,
    async () => {
      const published = await sweepReminders(deps);
      if (published) deps.log.info({ published }, 'event reminders due');
    },
    (err) => deps.log.error({ err }, 'reminder sweep failed'),
  );
