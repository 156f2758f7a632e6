import { securityEventsRecorded as billingSecurityEvents } from '@bilten/contracts/billing';
import { securityEventsRecorded as brandingSecurityEvents } from '@bilten/contracts/branding';
import { securityEventsRecorded as catalogSecurityEvents } from '@bilten/contracts/catalog';
import { securityEventsRecorded as messagingSecurityEvents } from '@bilten/contracts/messaging';
import { securityEventsRecorded as ordersSecurityEvents } from '@bilten/contracts/orders';
import {
  DomainError,
  decodeCursor,
  type EventConsumer,
  type Logger,
  type Outbox,
  type PersonKeys,
  pageSize,
  requireAdmin,
  type SecurityEvent,
  type SecurityEventSink,
  type Transaction,
  toConnection,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { createSecurityMetrics, type SecurityMetrics } from '../adapters/security-metrics.ts';
import type { IdentityConfig } from '../config.ts';
import type { Context } from '../context.ts';
import type { SecurityAlertRow } from '../db/schema.ts';
import {
  accountsTriedFrom,
  adminReadsBy,
  alertedSince,
  eventsByActor,
  failedLoginsFrom,
  insertAlert,
  insertSecurityEvents,
  lockAlertSubject,
  platformAdmins,
  type SecurityEventFilter,
  securityAlertsPage,
  securityEventsPage,
} from '../db/security.ts';
import { securityAlertRaised } from '../events.ts';
import { openIncidentFromAlert } from './incidents.ts';

// Security monitoring (issue 18, R4.4): one stream of every service's security events
// (`security_events`), detection rules counted over sliding windows as events arrive, alerts to
// platform admins (in-app and email through messaging) and to Prometheus.

/** The detection rules' thresholds (identity's SECURITY_* variables). */
export interface SecurityThresholds {
  stuffingFailures: number;
  stuffingAccounts: number;
  stuffingWindowMs: number;
  forbiddenBurst: number;
  forbiddenWindowMs: number;
  adminReads: number;
  adminReadsWindowMs: number;
}

export const securityThresholdsOf = (config: IdentityConfig): SecurityThresholds => ({
  stuffingFailures: config.SECURITY_STUFFING_FAILURES,
  stuffingAccounts: config.SECURITY_STUFFING_ACCOUNTS,
  stuffingWindowMs: config.SECURITY_STUFFING_WINDOW_SECONDS * 1000,
  forbiddenBurst: config.SECURITY_FORBIDDEN_BURST,
  forbiddenWindowMs: config.SECURITY_FORBIDDEN_WINDOW_SECONDS * 1000,
  adminReads: config.SECURITY_ADMIN_READS,
  adminReadsWindowMs: config.SECURITY_ADMIN_READS_WINDOW_SECONDS * 1000,
});

export interface SecurityMonitor {
  outbox: Outbox;
  log: Logger;
  thresholds: SecurityThresholds;
  metrics: SecurityMetrics;
  /** To open the platform administrators' addresses, the alerts' recipients. */
  personKeys: PersonKeys;
}

export function securityMonitorOf(deps: {
  outbox: Outbox;
  log: Logger;
  config: IdentityConfig;
  personKeys: PersonKeys;
}): SecurityMonitor {
  return {
    outbox: deps.outbox,
    log: deps.log,
    personKeys: deps.personKeys,
    thresholds: securityThresholdsOf(deps.config),
    // Per service instance, shared by its requests and consumers (several may run in one process).
    metrics: createSecurityMetrics(),
  };
}

/** Identity's own events go straight into the stream, in the reporting transaction. */
export const identitySecurityEvents = (monitor: SecurityMonitor): SecurityEventSink => ({
  record: (tx, events) => recordSecurityEvents(tx, monitor, 'identity', events),
});

/** The other services' reports, recorded once each (the inbox drops redeliveries). */
export function securityEventConsumers(monitor: SecurityMonitor): EventConsumer[] {
  const from = (
    service: string,
    event: typeof catalogSecurityEvents,
  ): EventConsumer<typeof event.payload> => ({
    name: `${service}-security-events`,
    event,
    handle: ({ payload }, tx) => recordSecurityEvents(tx, monitor, service, payload.events),
  });
  return [
    from('catalog', catalogSecurityEvents),
    from('orders', ordersSecurityEvents),
    from('billing', billingSecurityEvents),
    from('messaging', messagingSecurityEvents),
    from('branding', brandingSecurityEvents),
  ] as EventConsumer[];
}

/** Appends `events` seen by `service` to the stream and runs the detection rules over it. */
export async function recordSecurityEvents(
  tx: Transaction,
  monitor: SecurityMonitor,
  service: string,
  events: SecurityEvent[],
): Promise<void> {
  await insertSecurityEvents(
    tx,
    events.map((event) => ({
      id: uuidv7(),
      occurredAt: new Date(event.occurredAt),
      service,
      type: event.type,
      actorId: event.actorId,
      actorKind: event.actorKind,
      ip: event.ip,
      organizationId: event.organizationId,
      requestId: event.requestId,
      target: event.target,
      details: event.details ?? {},
    })),
  );
  for (const event of events) monitor.metrics.events.inc({ source: service, type: event.type });
  await detect(tx, monitor, events);
}

const latest = (events: SecurityEvent[]) =>
  new Date(Math.max(...events.map((event) => new Date(event.occurredAt).getTime())));

function groupBy<K>(
  events: SecurityEvent[],
  keyOf: (event: SecurityEvent) => K | null,
): Map<K, SecurityEvent[]> {
  const groups = new Map<K, SecurityEvent[]>();
  for (const event of events) {
    const key = keyOf(event);
    if (key !== null) groups.set(key, [...(groups.get(key) ?? []), event]);
  }
  return groups;
}

/** The rules that count security events, for the subjects (addresses, actors) `events` touch. */
async function detect(tx: Transaction, monitor: SecurityMonitor, events: SecurityEvent[]) {
  const { thresholds } = monitor;
  const failedLogins = groupBy(events, (event) => (event.type === 'login_failed' ? event.ip : null));
  for (const [ip, group] of failedLogins) {
    const at = latest(group);
    const from = new Date(at.getTime() - thresholds.stuffingWindowMs);
    const { failures, accounts } = await failedLoginsFrom(tx, ip, from, at);
    if (failures < thresholds.stuffingFailures || accounts < thresholds.stuffingAccounts) continue;
    await raiseAlert(tx, monitor, {
      rule: 'credential_stuffing',
      severity: 'HIGH',
      subject: ip,
      at,
      windowMs: thresholds.stuffingWindowMs,
      summary: `${failures} failed sign-ins to ${accounts} accounts from ${ip} within ${minutes(thresholds.stuffingWindowMs)}`,
      details: { ip, failures, accounts },
      affectedUserIds: () => accountsTriedFrom(tx, ip, from, at),
    });
  }

  const forbidden = groupBy(events, (event) => (event.type === 'forbidden' ? event.actorId : null));
  for (const [actorId, group] of forbidden) {
    const at = latest(group);
    const from = new Date(at.getTime() - thresholds.forbiddenWindowMs);
    const count = await eventsByActor(tx, 'forbidden', actorId, from, at);
    if (count < thresholds.forbiddenBurst) continue;
    await raiseAlert(tx, monitor, {
      rule: 'forbidden_burst',
      severity: 'MEDIUM',
      subject: actorId,
      at,
      windowMs: thresholds.forbiddenWindowMs,
      summary: `${count} FORBIDDEN answers to ${group[0]!.actorKind} ${actorId} within ${minutes(thresholds.forbiddenWindowMs)}`,
      details: { actorId, actorKind: group[0]!.actorKind, count },
    });
  }

  for (const event of events) {
    if (event.type !== 'refresh_token_reused' || !event.actorId) continue;
    const userId = event.actorId;
    await raiseAlert(tx, monitor, {
      rule: 'refresh_token_reuse',
      severity: 'HIGH',
      // Every reuse is its own alert: the session (family) it revoked tells them apart.
      subject: `${userId}:${event.details?.sessionId ?? event.occurredAt}`,
      at: new Date(event.occurredAt),
      windowMs: 0,
      summary: `a spent refresh token of user ${userId} was presented again from ${event.ip ?? 'an unknown address'}: its session was revoked`,
      details: { userId, ip: event.ip, sessionId: event.details?.sessionId ?? null },
      affectedUserIds: async () => [userId],
    });
  }
}

/**
 * The admin bulk-read rule, over the access log: a platform admin's reads of others' personal data
 * in one window. Called where identity appends reads to the log (access-log.ts).
 */
export async function detectAdminBulkReads(
  tx: Transaction,
  monitor: SecurityMonitor,
  reads: Array<{ actorId: string | null; actorKind: string; occurredAt: string | Date }>,
): Promise<void> {
  const { adminReads, adminReadsWindowMs } = monitor.thresholds;
  const byAdmin = new Map<string, Date>();
  for (const read of reads) {
    if (read.actorKind !== 'admin' || !read.actorId) continue;
    const at = new Date(read.occurredAt);
    if (at > (byAdmin.get(read.actorId) ?? new Date(0))) byAdmin.set(read.actorId, at);
  }
  for (const [actorId, at] of byAdmin) {
    const count = await adminReadsBy(tx, actorId, new Date(at.getTime() - adminReadsWindowMs), at);
    if (count < adminReads) continue;
    await raiseAlert(tx, monitor, {
      rule: 'admin_bulk_export',
      severity: 'HIGH',
      subject: actorId,
      at,
      windowMs: adminReadsWindowMs,
      summary: `platform admin ${actorId} read ${count} records of others' personal data within ${minutes(adminReadsWindowMs)}`,
      details: { actorId, count },
    });
  }
}

/** A platform admin asked for a data export (someone's data leaving in bulk): always an alert. */
export async function alertAdminDataExport(
  tx: Transaction,
  monitor: SecurityMonitor,
  request: { adminId: string; requestId: string },
): Promise<void> {
  await raiseAlert(tx, monitor, {
    rule: 'admin_bulk_export',
    severity: 'HIGH',
    subject: `${request.adminId}:export:${request.requestId}`,
    at: new Date(),
    windowMs: 0,
    summary: `platform admin ${request.adminId} requested a personal data export`,
    details: { actorId: request.adminId, privacyRequestId: request.requestId },
  });
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/** Rules whose HIGH or CRITICAL alerts open an incident (article 33's clock starts). */
const OPENS_INCIDENT = new Set(['credential_stuffing', 'refresh_token_reuse']);

interface AlertDraft {
  rule: string;
  severity: SecurityAlertRow['severity'];
  /** What it is about (an address, an actor): one alert per rule and subject per window. */
  subject: string;
  at: Date;
  windowMs: number;
  summary: string;
  details: Record<string, unknown>;
  affectedUserIds?: () => Promise<string[]>;
}

/**
 * Raises `draft` unless the rule already alerted about its subject within the window (one alert
 * per burst; the subject's lock makes concurrent consumers agree). A raised alert counts in
 * Prometheus, may open an incident, and goes to every platform admin through messaging.
 */
async function raiseAlert(tx: Transaction, monitor: SecurityMonitor, draft: AlertDraft) {
  const prefix = `${draft.rule}:${draft.subject}:`;
  await lockAlertSubject(tx, prefix);
  const windowStart = new Date(draft.at.getTime() - draft.windowMs);
  if (await alertedSince(tx, prefix, windowStart)) return;
  const alert = await insertAlert(tx, {
    id: uuidv7(),
    rule: draft.rule,
    severity: draft.severity,
    dedupeKey: `${prefix}${windowStart.toISOString()}`,
    summary: draft.summary.slice(0, 500),
    details: draft.details,
    raisedAt: new Date(),
  });
  if (!alert) return;
  let incidentId: string | null = null;
  if (OPENS_INCIDENT.has(draft.rule) && (draft.severity === 'HIGH' || draft.severity === 'CRITICAL')) {
    const affectedUserIds = (await draft.affectedUserIds?.()) ?? [];
    ({ incidentId } = await openIncidentFromAlert(tx, {
      alertId: alert.id,
      rule: draft.rule,
      severity: draft.severity,
      summary: alert.summary,
      affectedUserIds,
    }));
  }
  const recipients = await platformAdmins(tx, monitor.personKeys);
  await monitor.outbox.publish(tx, securityAlertRaised, alert.id, {
    alertId: alert.id,
    rule: alert.rule,
    severity: alert.severity,
    summary: alert.summary,
    raisedAt: alert.raisedAt.toISOString(),
    incidentId,
    recipients,
  });
  monitor.metrics.alerts.inc({ rule: alert.rule, severity: alert.severity });
  monitor.log.warn(
    {
      security: true,
      event: 'security_alert',
      alertId: alert.id,
      rule: alert.rule,
      severity: alert.severity,
      incidentId,
    },
    'security alert raised',
  );
}

// ---------------------------------------------------------------- queries for platform admins

const filterInput = z
  .object({
    type: z.string().max(64).nullish(),
    service: z.string().max(32).nullish(),
    actorId: z.string().max(64).nullish(),
    ip: z.string().max(64).nullish(),
    from: z.date().nullish(),
    to: z.date().nullish(),
  })
  .nullish()
  .transform(
    (filter): SecurityEventFilter => ({
      type: filter?.type?.toLowerCase() ?? undefined,
      service: filter?.service ?? undefined,
      actorId: filter?.actorId ?? undefined,
      ip: filter?.ip ?? undefined,
      from: filter?.from ?? undefined,
      to: filter?.to ?? undefined,
    }),
  );

type PageArgs = { first?: number | null; after?: string | null };

/** `securityEvents(filter, first, after)`: the stream, newest first, for platform admins. */
export async function securityEvents(
  ctx: Pick<Context, 'db' | 'viewer'>,
  args: PageArgs & { filter?: unknown },
) {
  requireAdmin(ctx.viewer);
  const parsed = filterInput.safeParse(args.filter);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DomainError('BAD_USER_INPUT', `filter.${issue.path.join('.')}: ${issue.message}`);
  }
  const size = pageSize(args.first);
  const before = args.after ? decodeCursor(args.after) : undefined;
  return toConnection(await securityEventsPage(ctx.db, parsed.data, before, size + 1), size);
}

/** `securityAlerts(first, after)`: raised alerts, newest first, for platform admins. */
export async function securityAlerts(ctx: Pick<Context, 'db' | 'viewer'>, args: PageArgs) {
  requireAdmin(ctx.viewer);
  const size = pageSize(args.first);
  const before = args.after ? decodeCursor(args.after) : undefined;
  return toConnection(await securityAlertsPage(ctx.db, before, size + 1), size);
}
