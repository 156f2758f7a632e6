import {
  displayText,
  mutationRule,
  requireAdmin,
  type Transaction,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  existingUserIds,
  type IncidentStatus,
  insertAffectedUsers,
  insertIncident,
  insertTimelineEntry,
  linkAlertToIncident,
  lockIncident,
  updateIncidentRow,
} from '../db/incidents.ts';
import { INCIDENT_STATUSES, type IncidentRow, SEVERITIES } from '../db/schema.ts';

// Incident response (issue 18, GDPR articles 33 and 34): incidents, their timeline and affected
// users, the breach register's facts. Containment and notices to the affected users are
// incident-containment.ts; reading them and the 72-hour clock incident-queries.ts. Platform ADMINs only.

export type Ctx = Pick<Context, 'db' | 'viewer' | 'outbox' | 'log' | 'keys' | 'personKeys'>;

/** Article 33(1): the supervisory authority hears of a personal-data breach within 72 hours. */
export const REGULATOR_DEADLINE_MS = 72 * 60 * 60 * 1000;

/**
 * Where an incident may go from each status: one step forward; a DETECTED incident may be
 * contained before anyone triaged it (stopping the harm comes first). Never backwards.
 */
export const NEXT_STATUSES: Record<IncidentStatus, readonly IncidentStatus[]> = {
  DETECTED: ['TRIAGED', 'CONTAINED'],
  TRIAGED: ['CONTAINED'],
  CONTAINED: ['RESOLVED'],
  RESOLVED: ['POSTMORTEM'],
  POSTMORTEM: [],
};

export type TimelineKind =
  | 'OPENED'
  | 'ALERT'
  | 'STATUS_CHANGED'
  | 'NOTE'
  | 'AFFECTED_USERS_ADDED'
  | 'REGISTER_UPDATED'
  | 'CONTAINMENT'
  | 'USERS_NOTIFIED'
  | 'REGULATOR_NOTIFIED';

export async function recordOnTimeline(
  tx: Transaction,
  incidentId: string,
  actor: string,
  kind: TimelineKind,
  message: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await insertTimelineEntry(tx, {
    id: uuidv7(),
    incidentId,
    occurredAt: new Date(),
    actor,
    kind,
    message,
    details,
  });
}

const notFound = (field: string[] = ['input', 'id']): UserError => ({
  code: 'NOT_FOUND',
  message: 'no such incident',
  field,
});
const conflict = (message: string, field?: string[]): UserError => ({
  code: 'CONFLICT',
  message,
  ...(field && { field }),
});

export type IncidentOutcome = { incident: IncidentRow | null; errors: UserError[] };
const invalid = (errors: UserError[]): IncidentOutcome => ({ incident: null, errors });

/**
 * Locks the incident and runs `change` on it in one transaction; an unknown id is a NOT_FOUND user
 * error. What `change` answers as errors rolls nothing back by itself: it checks before it writes.
 */
export function changeIncident<R extends { errors: UserError[] }>(
  ctx: Pick<Context, 'db'>,
  id: string,
  missing: (errors: UserError[]) => R,
  change: (tx: Transaction, incident: IncidentRow) => Promise<R>,
): Promise<R> {
  return ctx.db.transaction(async (tx) => {
    const incident = await lockIncident(tx, id);
    if (!incident) return missing([notFound()]);
    return change(tx, incident);
  });
}

const longText = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`);
const pastInstant = z.date().refine((at) => at.getTime() <= Date.now() + 60_000, 'must not be in the future');

const openInput = z.object({
  title: displayText(200),
  description: longText(4000).min(1, 'must not be empty'),
  severity: z.enum(SEVERITIES),
  personalDataBreach: z.boolean(),
  detectedAt: pastInstant.nullish(),
});

/** A new incident, DETECTED, its 72-hour clock running from `detectedAt` (default: now). */
export const openIncident = mutationRule(
  { input: openInput, caller: requireAdmin, invalid },
  async (ctx: Ctx, input, admin): Promise<IncidentOutcome> => {
    const detectedAt = input.detectedAt ?? new Date();
    const incident = await ctx.db.transaction(async (tx) => {
      const row = await insertIncident(tx, {
        id: uuidv7(),
        title: input.title,
        description: input.description,
        severity: input.severity,
        personalDataBreach: input.personalDataBreach,
        openedBy: admin.userId,
        detectedAt,
        regulatorDeadlineAt: new Date(detectedAt.getTime() + REGULATOR_DEADLINE_MS),
        updatedAt: new Date(),
      });
      await recordOnTimeline(tx, row.id, admin.userId, 'OPENED', `opened: ${row.title}`, {
        severity: row.severity,
        personalDataBreach: row.personalDataBreach,
      });
      return row;
    });
    ctx.log.warn({ security: true, incidentId: incident.id, by: admin.userId }, 'incident opened');
    return { incident, errors: [] };
  },
);

/**
 * For detection rules (security-monitoring.ts): opens an incident for an alert inside the alert's
 * transaction, with the users it names, and links the alert to it. Whether personal data was
 * involved is the triage's call; the 72-hour clock is shown from detection on regardless.
 */
export async function openIncidentFromAlert(
  tx: Transaction,
  alert: {
    alertId: string;
    rule: string;
    severity: 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
    summary: string;
    affectedUserIds: string[];
  },
): Promise<{ incidentId: string }> {
  const actor = `detection:${alert.rule}`;
  const now = new Date();
  const incident = await insertIncident(tx, {
    id: uuidv7(),
    title: `${alert.rule}: ${alert.summary}`.slice(0, 200),
    description: alert.summary.slice(0, 4000) || alert.rule,
    severity: alert.severity,
    personalDataBreach: false,
    openedBy: actor,
    detectedAt: now,
    regulatorDeadlineAt: new Date(now.getTime() + REGULATOR_DEADLINE_MS),
    updatedAt: now,
  });
  const affected = await insertAffectedUsers(tx, incident.id, [...new Set(alert.affectedUserIds)], now);
  await recordOnTimeline(tx, incident.id, actor, 'OPENED', `opened by detection rule ${alert.rule}`, {
    severity: alert.severity,
  });
  await recordOnTimeline(tx, incident.id, actor, 'ALERT', alert.summary, {
    alertId: alert.alertId,
    rule: alert.rule,
    affectedUsers: affected.length,
  });
  await linkAlertToIncident(tx, alert.alertId, incident.id);
  return { incidentId: incident.id };
}

const advanceInput = z
  .object({
    id: uuidInput,
    status: z.enum(INCIDENT_STATUSES),
    postmortem: longText(20_000).nullish(),
    note: longText(4000).nullish(),
  })
  .refine((input) => input.status !== 'POSTMORTEM' || Boolean(input.postmortem), {
    message: 'a postmortem needs its text',
    path: ['postmortem'],
  });

/** One step along the state machine (NEXT_STATUSES); anything else is a CONFLICT user error. */
export const advanceIncident = mutationRule(
  { input: advanceInput, caller: requireAdmin, invalid },
  async (ctx: Ctx, input, admin): Promise<IncidentOutcome> =>
    changeIncident(ctx, input.id, invalid, async (tx, incident) => {
      const allowed = NEXT_STATUSES[incident.status];
      if (!allowed.includes(input.status)) {
        const next = allowed.length ? `only to ${allowed.join(' or ')}` : 'nowhere: it is closed';
        return invalid([
          conflict(`the incident is ${incident.status} and can move ${next}`, ['input', 'status']),
        ]);
      }
      const updated = await updateIncidentRow(tx, incident.id, {
        status: input.status,
        ...(input.status === 'POSTMORTEM' && { postmortem: input.postmortem }),
      });
      await recordOnTimeline(tx, incident.id, admin.userId, 'STATUS_CHANGED', input.note || input.status, {
        from: incident.status,
        to: input.status,
      });
      return { incident: updated, errors: [] };
    }),
);

export const addIncidentNote = mutationRule(
  {
    input: z.object({ incidentId: uuidInput, message: longText(4000).min(1, 'must not be empty') }),
    caller: requireAdmin,
    invalid,
  },
  async (ctx: Ctx, input, admin): Promise<IncidentOutcome> =>
    changeIncident(ctx, input.incidentId, invalid, async (tx, incident) => {
      await recordOnTimeline(tx, incident.id, admin.userId, 'NOTE', input.message);
      return { incident: await updateIncidentRow(tx, incident.id, {}), errors: [] };
    }),
);

/** Accounts the incident touched; every id must be an account's (erased ones are gone). */
export const addAffectedUsers = mutationRule(
  {
    input: z.object({
      incidentId: uuidInput,
      userIds: z.array(uuidInput).min(1, 'must name at least one user').max(1000),
    }),
    caller: requireAdmin,
    invalid,
  },
  async (ctx: Ctx, input, admin): Promise<IncidentOutcome> => {
    const existing = await existingUserIds(ctx.db, input.userIds);
    const unknown = input.userIds.flatMap((id, index) => (existing.has(id) ? [] : [index]));
    if (unknown.length) {
      return invalid(
        unknown.map((index) => ({
          code: 'NOT_FOUND',
          message: 'no such user',
          field: ['input', 'userIds', String(index)],
        })),
      );
    }
    return changeIncident(ctx, input.incidentId, invalid, async (tx, incident) => {
      const added = await insertAffectedUsers(tx, incident.id, [...new Set(input.userIds)], new Date());
      if (added.length) {
        await recordOnTimeline(
          tx,
          incident.id,
          admin.userId,
          'AFFECTED_USERS_ADDED',
          `${added.length} affected users added`,
          { count: added.length },
        );
      }
      return { incident: await updateIncidentRow(tx, incident.id, {}), errors: [] };
    });
  },
);

const registerInput = z.object({
  id: uuidInput,
  personalDataBreach: z.boolean().nullish(),
  dataCategories: z.array(displayText(100)).max(30).nullish(),
  likelyConsequences: longText(4000).nullish(),
  measuresTaken: longText(4000).nullish(),
});

/** The breach register's facts (article 33(3) and (5)); only the fields given change. */
export const updateIncidentRegister = mutationRule(
  { input: registerInput, caller: requireAdmin, invalid },
  async (ctx: Ctx, input, admin): Promise<IncidentOutcome> =>
    changeIncident(ctx, input.id, invalid, async (tx, incident) => {
      const values = {
        ...(input.personalDataBreach != null && { personalDataBreach: input.personalDataBreach }),
        ...(input.dataCategories && { dataCategories: [...new Set(input.dataCategories)] }),
        ...(input.likelyConsequences != null && { likelyConsequences: input.likelyConsequences }),
        ...(input.measuresTaken != null && { measuresTaken: input.measuresTaken }),
      };
      const updated = await updateIncidentRow(tx, incident.id, values);
      await recordOnTimeline(tx, incident.id, admin.userId, 'REGISTER_UPDATED', 'register updated', {
        fields: Object.keys(values),
      });
      return { incident: updated, errors: [] };
    }),
);

/** The supervisory authority was told (article 33): stops the 72-hour clock, once. */
export const markRegulatorNotified = mutationRule(
  {
    input: z.object({ id: uuidInput, notifiedAt: pastInstant.nullish(), reference: longText(200).nullish() }),
    caller: requireAdmin,
    invalid,
  },
  async (ctx: Ctx, input, admin): Promise<IncidentOutcome> =>
    changeIncident(ctx, input.id, invalid, async (tx, incident) => {
      if (!incident.personalDataBreach)
        return invalid([conflict('only a personal-data breach is notified to the regulator')]);
      if (incident.regulatorNotifiedAt) return invalid([conflict('the regulator was notified already')]);
      const notifiedAt = input.notifiedAt ?? new Date();
      if (notifiedAt < incident.detectedAt)
        return invalid([conflict('must not be before the incident was detected', ['input', 'notifiedAt'])]);
      const updated = await updateIncidentRow(tx, incident.id, { regulatorNotifiedAt: notifiedAt });
      const late = notifiedAt > incident.regulatorDeadlineAt;
      await recordOnTimeline(tx, incident.id, admin.userId, 'REGULATOR_NOTIFIED', 'regulator notified', {
        notifiedAt: notifiedAt.toISOString(),
        reference: input.reference ?? null,
        late,
      });
      return { incident: updated, errors: [] };
    }),
);
