import {
  type Database,
  DomainError,
  decodeCursor,
  type Logger,
  pageSize,
  requireAdmin,
  runPeriodically,
  toConnection,
} from '@bilten/platform';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { createIncidentMetrics, type IncidentMetrics } from '../adapters/incident-metrics.ts';
import type { Context } from '../context.ts';
import {
  affectedUserCountOf,
  affectedUsersPage,
  type IncidentStatus,
  incidentById,
  incidentsPage,
  regulatorDeadlineCounts,
  timelineOf,
} from '../db/incidents.ts';
import type { IncidentRow } from '../db/schema.ts';

// Reading incidents (issue 18): one, the list, the breach register (article 33(5)), and the
// regulator's 72-hour clock, shown on each incident and alerted through two gauges.

/** `incidents_regulator_due_soon` counts breaches whose deadline is this close. */
export const DUE_SOON_MS = 24 * 60 * 60 * 1000;

/** The regulator's clock as of `now`: seconds left (negative once past), null once it stopped. */
export function regulatorClock(incident: IncidentRow, now = new Date()) {
  const running = incident.personalDataBreach && !incident.regulatorNotifiedAt;
  const left = incident.regulatorDeadlineAt.getTime() - now.getTime();
  return { overdue: running && left <= 0, timeLeftSeconds: running ? Math.trunc(left / 1000) : null };
}

type PageArgs = { first?: number | null; after?: string | null };

const idArgument = (id: string, name = 'id') => {
  const parsed = z.uuid().safeParse(id);
  if (!parsed.success) throw new DomainError('BAD_USER_INPUT', `${name}: must be an id this API issued`);
  return parsed.data.toLowerCase();
};

export async function incident(ctx: Pick<Context, 'db' | 'viewer'>, args: { id: string }) {
  requireAdmin(ctx.viewer);
  return (await incidentById(ctx.db, idArgument(args.id))) ?? null;
}

async function page(ctx: Pick<Context, 'db'>, filter: Parameters<typeof incidentsPage>[1], args: PageArgs) {
  const size = pageSize(args.first);
  const before = args.after ? decodeCursor(args.after) : undefined;
  return toConnection(await incidentsPage(ctx.db, filter, before, size + 1), size);
}

/** Every incident, newest first, optionally of one status. */
export async function incidents(
  ctx: Pick<Context, 'db' | 'viewer'>,
  args: PageArgs & { status?: IncidentStatus | null },
) {
  requireAdmin(ctx.viewer);
  return page(ctx, { status: args.status ?? undefined }, args);
}

/** The record of personal-data breaches (article 33(5)), newest first. */
export async function breachRegister(ctx: Pick<Context, 'db' | 'viewer'>, args: PageArgs) {
  requireAdmin(ctx.viewer);
  return page(ctx, { personalDataBreach: true }, args);
}

export const timelineOfIncident = (ctx: Pick<Context, 'db'>, incident: IncidentRow) =>
  timelineOf(ctx.db, incident.id);

export const affectedUserCount = (ctx: Pick<Context, 'db'>, incident: IncidentRow) =>
  affectedUserCountOf(ctx.db, incident.id);

export async function affectedUsersOf(ctx: Pick<Context, 'db'>, incident: IncidentRow, args: PageArgs) {
  const size = pageSize(args.first, 50);
  const after = args.after ? decodeCursor(args.after) : undefined;
  const rows = await affectedUsersPage(ctx.db, incident.id, after, size + 1);
  return toConnection(rows, size, (row) => row.userId);
}

// ---- The 72-hour deadline, alerted ----

/** Sets the deadline gauges from the database; answers the counts. */
export async function refreshDeadlineGauges(db: Database, gauges: IncidentMetrics, now = new Date()) {
  const counts = await regulatorDeadlineCounts(db, now, DUE_SOON_MS);
  gauges.overdue.set(counts.overdue);
  gauges.dueSoon.set(counts.dueSoon);
  return counts;
}

/** Puts the deadline gauges on `/metrics` and refreshes them every `intervalMs` (first at once). */
export function startRegulatorDeadlineWatch(
  deps: { db: Database; log: Logger; registry: Registry },
  intervalMs: number,
): { stop(): Promise<void> } {
  const gauges = createIncidentMetrics();
  gauges.register(deps.registry);
  const refresh = () => refreshDeadlineGauges(deps.db, gauges).then(() => undefined);
  const onFailure = (error: unknown) =>
    deps.log.error({ err: error }, 'refreshing the incident deadline gauges failed');
  refresh().catch(onFailure);
  return runPeriodically(intervalMs, refresh, onFailure);
}
