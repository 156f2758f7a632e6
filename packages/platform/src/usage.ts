import { USAGE_METRICS, type UsageMetric, type usageJumpedPayload } from '@bilten/contracts';
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { bigint, type PgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import { requireUser, type Viewer } from './auth.ts';
import type { Database, Transaction } from './db.ts';
import { DomainError } from './errors.ts';
import type { EventDefinition } from './events.ts';
import type { Logger } from './logger.ts';
import type { Outbox } from './outbox.ts';
import { runPeriodically } from './periodic.ts';

/**
 * Usage metering per organization (issue 19, R10.5): each metering subgraph keeps hourly rollups
 * of what it counts in its own schema, written in the same transaction as the business write they
 * count, so a rolled-back write meters nothing and a replayed event (inbox) meters once.
 */

export { USAGE_METRICS, type UsageMetric };

/**
 * Gauges are metered as deltas (+bytes on upload, -bytes on delete): a month's value is the sum of
 * every delta up to the month's end, i.e. what was stored when the month ended (or now, for the
 * current month). Every other metric is a flow: the sum of the month's hours.
 */
const GAUGES: ReadonlySet<UsageMetric> = new Set(['storage_bytes']);

export function usageTables(schema: PgSchema) {
  const usageHourly = schema.table(
    'usage_hourly',
    {
      organizationId: uuid('organization_id').notNull(),
      metric: text().$type<UsageMetric>().notNull(),
      /** The hour it happened in, truncated (UTC). */
      hour: timestamp({ withTimezone: true }).notNull(),
      quantity: bigint({ mode: 'number' }).notNull(),
    },
    (table) => [primaryKey({ columns: [table.organizationId, table.metric, table.hour] })],
  );
  /** The jumps already announced: one event per (organization, metric, hour), whichever replica saw it. */
  const usageJumps = schema.table(
    'usage_jumps',
    {
      organizationId: uuid('organization_id').notNull(),
      metric: text().$type<UsageMetric>().notNull(),
      hour: timestamp({ withTimezone: true }).notNull(),
      detectedAt: timestamp('detected_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (table) => [primaryKey({ columns: [table.organizationId, table.metric, table.hour] })],
  );
  return { usageHourly, usageJumps };
}

export type UsageTables = ReturnType<typeof usageTables>;

const HOUR_MS = 3_600_000;

export function hourOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
}

export interface UsageRecord {
  organizationId: string;
  metric: UsageMetric;
  quantity: number;
  at?: Date;
}

/** Adds to the hour's rollup, inside the transaction of the write it counts. */
export async function recordUsage(
  tx: Transaction | Database,
  tables: UsageTables,
  ...records: UsageRecord[]
) {
  const rows = records
    .filter((record) => record.quantity !== 0)
    .map((record) => ({
      organizationId: record.organizationId,
      metric: record.metric,
      hour: hourOf(record.at ?? new Date()),
      quantity: Math.trunc(record.quantity),
    }));
  if (!rows.length) return;
  const { usageHourly } = tables;
  await tx
    .insert(usageHourly)
    .values(rows)
    .onConflictDoUpdate({
      target: [usageHourly.organizationId, usageHourly.metric, usageHourly.hour],
      set: { quantity: sql`${usageHourly.quantity} + excluded.quantity` },
    });
}

/** `YYYY-MM` → the month's first instant and the next month's (UTC); BAD_USER_INPUT otherwise. */
export function monthRange(month: string): { start: Date; end: Date } {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!match) throw new DomainError('BAD_USER_INPUT', 'month must be YYYY-MM, e.g. 2026-03');
  const year = Number(match[1]);
  const index = Number(match[2]) - 1;
  return { start: new Date(Date.UTC(year, index, 1)), end: new Date(Date.UTC(year, index + 1, 1)) };
}

/**
 * Who may read an organization's usage: platform admins and the organization's OWNER. Every
 * subgraph contributing to a UsageReport checks it again, whoever resolved the root field.
 */
export function requireUsageReader(viewer: Viewer, organizationId: string) {
  const user = requireUser(viewer);
  if (user.roles.includes('ADMIN') || user.organizations[organizationId] === 'OWNER') return user;
  throw new DomainError('FORBIDDEN', 'usage reports are for the organization OWNER and platform admins');
}

/** A month's quantities of the given metrics for one organization (0 when nothing was metered). */
export async function usageOfMonth<M extends UsageMetric>(
  db: Database,
  tables: UsageTables,
  organizationId: string,
  month: string,
  metrics: readonly M[],
): Promise<Record<M, number>> {
  const { start, end } = monthRange(month);
  const { usageHourly } = tables;
  const rows = await db
    .select({
      metric: usageHourly.metric,
      // Gauges count every delta before the month's end; flows only the month's.
      quantity: sql<string>`coalesce(sum(${usageHourly.quantity}) filter (where ${usageHourly.hour} >= ${start.toISOString()}::timestamptz or ${usageHourly.metric} in ${[...GAUGES]}), 0)`,
    })
    .from(usageHourly)
    .where(and(eq(usageHourly.organizationId, organizationId), lt(usageHourly.hour, end)))
    .groupBy(usageHourly.metric);
  const totals = Object.fromEntries(metrics.map((metric) => [metric, 0])) as Record<M, number>;
  for (const row of rows) if (row.metric in totals) totals[row.metric as M] = Number(row.quantity);
  return totals;
}

/** The jump watch's variables, the same in every metering subgraph. */
export const usageJumpEnv = {
  /** A jump: the last complete hour above this many times the trailing 24 h hourly mean, ... */
  USAGE_JUMP_FACTOR: z.coerce.number().min(1).default(5),
  /** ... and at least this many units (small tenants' noise is no jump). */
  USAGE_JUMP_FLOOR: z.coerce.number().int().min(1).default(100),
  /** How often the last complete hour is checked (ms). */
  USAGE_JUMP_CHECK_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(5 * 60_000),
};

export const usageJumpRulesOf = (config: {
  USAGE_JUMP_FACTOR: number;
  USAGE_JUMP_FLOOR: number;
}): UsageJumpRules => ({ factor: config.USAGE_JUMP_FACTOR, floor: config.USAGE_JUMP_FLOOR });

export interface UsageJumpRules {
  /** A jump: the last complete hour above `factor` times the trailing 24 hours' hourly mean... */
  factor: number;
  /** ...and at least `floor` (small tenants' noise is no jump). */
  floor: number;
}

export type UsageJump = z.input<typeof usageJumpedPayload>;

/**
 * The jumps of the last complete hour before `now` not announced yet, each published once
 * (`event`, through the outbox) in the transaction that records it as announced.
 */
export async function announceUsageJumps(
  db: Database,
  tables: UsageTables,
  outbox: Outbox,
  event: EventDefinition<typeof usageJumpedPayload>,
  rules: UsageJumpRules,
  now = new Date(),
): Promise<UsageJump[]> {
  const { usageHourly, usageJumps } = tables;
  const hour = new Date(hourOf(now).getTime() - HOUR_MS);
  const since = new Date(hour.getTime() - 24 * HOUR_MS);
  const trailing = db
    .select({
      organizationId: usageHourly.organizationId,
      metric: usageHourly.metric,
      mean: sql<string>`sum(${usageHourly.quantity})::float8 / 24`.as('mean'),
    })
    .from(usageHourly)
    .where(and(gte(usageHourly.hour, since), lt(usageHourly.hour, hour)))
    .groupBy(usageHourly.organizationId, usageHourly.metric)
    .as('trailing');
  const candidates = await db
    .select({
      organizationId: usageHourly.organizationId,
      metric: usageHourly.metric,
      quantity: usageHourly.quantity,
      mean: sql<number>`coalesce(${trailing.mean}, 0)::float8`,
    })
    .from(usageHourly)
    .leftJoin(
      trailing,
      and(eq(trailing.organizationId, usageHourly.organizationId), eq(trailing.metric, usageHourly.metric)),
    )
    .where(
      and(
        eq(usageHourly.hour, hour),
        // Gauge deltas are not usage rates: a jump in stored bytes is one upload, not a trend.
        sql`${usageHourly.metric} not in ${[...GAUGES]}`,
        gte(usageHourly.quantity, rules.floor),
        sql`${usageHourly.quantity} > ${rules.factor} * coalesce(${trailing.mean}, 0)`,
      ),
    );
  const announced: UsageJump[] = [];
  for (const candidate of candidates) {
    const jump: UsageJump = {
      organizationId: candidate.organizationId,
      metric: candidate.metric,
      hour: hour.toISOString(),
      quantity: Number(candidate.quantity),
      trailingHourlyMean: Number(candidate.mean),
    };
    const published = await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(usageJumps)
        .values({ organizationId: jump.organizationId, metric: jump.metric, hour })
        .onConflictDoNothing()
        .returning({ hour: usageJumps.hour });
      if (!row) return false;
      await outbox.publish(tx, event, jump.organizationId, jump);
      return true;
    });
    if (published) announced.push(jump);
  }
  return announced;
}

/** `usage_jumps_total{service,metric}`: no organization label, whose values are unbounded. */
export function usageJumpCounter(registry: Registry): Counter<'metric'> {
  const name = 'usage_jumps_total';
  const existing = registry.getSingleMetric(name) as Counter<'metric'> | undefined;
  return (
    existing ??
    new Counter({
      name,
      help: 'Hours in which an organization used a metric far above its trailing mean',
      labelNames: ['metric'],
      registers: [registry],
    })
  );
}

export interface UsageJumpWatchDeps {
  db: Database;
  outbox: Outbox;
  log: Logger;
  registry: Registry;
}

/**
 * Looks for jumps every `intervalMs` (a subgraph's `background`). Replicas may all run it: the
 * `usage_jumps` row makes each jump announced once.
 */
export function startUsageJumpWatch(
  deps: UsageJumpWatchDeps,
  options: {
    tables: UsageTables;
    event: EventDefinition<typeof usageJumpedPayload>;
    rules: UsageJumpRules;
    intervalMs: number;
  },
): { stop(): Promise<void> } {
  const counter = usageJumpCounter(deps.registry);
  for (const metric of USAGE_METRICS) counter.inc({ metric }, 0);
  return runPeriodically(
    options.intervalMs,
    async () => {
      const jumps = await announceUsageJumps(
        deps.db,
        options.tables,
        deps.outbox,
        options.event,
        options.rules,
      );
      for (const jump of jumps) {
        counter.inc({ metric: jump.metric });
        deps.log.warn(
          { organizationId: jump.organizationId, metric: jump.metric, hour: jump.hour },
          'usage jumped',
        );
      }
    },
    (err) => deps.log.error({ err }, 'usage jump watch failed'),
  );
}
