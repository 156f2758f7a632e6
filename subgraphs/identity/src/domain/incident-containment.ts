import { mutationRule, requireAdmin, type UserError, uuidInput } from '@bilten/platform';
import { z } from 'zod';
import { usersByIds } from '../db/accounts.ts';
import {
  affectedUserIdsOf,
  existingOrganizationIds,
  markAffectedUsersNotified,
  revokeApiKeysOf,
  unnotifiedAffectedUserIds,
  updateIncidentRow,
} from '../db/incidents.ts';
import type { IncidentRow } from '../db/schema.ts';
import { revokeSessions } from '../db/sessions.ts';
import { apiKeyRevoked, breachNotificationRequested } from '../events.ts';
import { type Ctx, changeIncident, recordOnTimeline } from './incidents.ts';

// What an administrator does about an incident (issue 18): containment actions, each on the
// timeline with what it touched, and the notice to the affected users (GDPR article 34).

export const CONTAINMENT_ACTIONS = ['REVOKE_SESSIONS', 'ROTATE_SIGNING_KEYS', 'DISABLE_API_KEYS'] as const;
export type ContainmentAction = (typeof CONTAINMENT_ACTIONS)[number];

/** Recipients per `breachNotificationRequested` (the contract's limit). */
export const NOTICE_BATCH = 200;

type ContainOutcome = { incident: IncidentRow | null; affected: number | null; errors: UserError[] };
const containInvalid = (errors: UserError[]): ContainOutcome => ({ incident: null, affected: null, errors });

const containInput = z
  .object({
    incidentId: uuidInput,
    action: z.enum(CONTAINMENT_ACTIONS),
    organizationIds: z.array(uuidInput).max(100).nullish(),
  })
  .refine((input) => input.action !== 'DISABLE_API_KEYS' || Boolean(input.organizationIds?.length), {
    message: 'name the organizations whose API keys to disable',
    path: ['organizationIds'],
  });

/**
 * One containment action, while the incident is not closed (POSTMORTEM):
 * - REVOKE_SESSIONS: every session of every affected user ends (`sessionsRevoked`: every service
 *   refuses their access tokens at once); `affected` counts the sessions.
 * - ROTATE_SIGNING_KEYS: a new signing key takes over (signing-keys.ts); tokens of the old one
 *   stay valid until they expire; `affected` is 1.
 * - DISABLE_API_KEYS: every live API key of `organizationIds` is revoked (`apiKeyRevoked`);
 *   `affected` counts the keys.
 */
export const containIncident = mutationRule(
  { input: containInput, caller: requireAdmin, invalid: containInvalid },
  async (ctx: Ctx, input, admin): Promise<ContainOutcome> => {
    const organizationIds = [...new Set(input.organizationIds ?? [])];
    if (input.action === 'DISABLE_API_KEYS') {
      const existing = await existingOrganizationIds(ctx.db, organizationIds);
      const unknown = (input.organizationIds ?? []).flatMap((id, index) => (existing.has(id) ? [] : [index]));
      if (unknown.length)
        return containInvalid(
          unknown.map((index) => ({
            code: 'NOT_FOUND',
            message: 'no such organization',
            field: ['input', 'organizationIds', String(index)],
          })),
        );
    }
    return changeIncident(ctx, input.incidentId, containInvalid, async (tx, incident) => {
      if (incident.status === 'POSTMORTEM')
        return containInvalid([{ code: 'CONFLICT', message: 'the incident is closed' }]);
      let affected: number;
      let details: Record<string, unknown>;
      if (input.action === 'REVOKE_SESSIONS') {
        const reason = `incident ${incident.id}: containment`;
        const userIds = await affectedUserIdsOf(tx, incident.id);
        affected = 0;
        for (const userId of userIds) affected += (await revokeSessions(tx, { userId }, reason)).length;
        details = { users: userIds.length, sessions: affected };
      } else if (input.action === 'ROTATE_SIGNING_KEYS') {
        // The key store writes on its own connection: the new key stands even if this rolls back.
        const { kid, activatesAt } = await ctx.keys.rotate();
        affected = 1;
        details = { kid, activatesAt: activatesAt.toISOString() };
      } else {
        const revoked = await revokeApiKeysOf(tx, organizationIds);
        for (const key of revoked)
          await ctx.outbox.publish(tx, apiKeyRevoked, key.id, {
            apiKeyId: key.id,
            organizationId: key.organizationId,
          });
        affected = revoked.length;
        details = { organizations: organizationIds.length, apiKeys: affected };
      }
      await recordOnTimeline(tx, incident.id, admin.userId, 'CONTAINMENT', `${input.action}: ${affected}`, {
        action: input.action,
        ...details,
      });
      ctx.log.warn(
        { security: true, incidentId: incident.id, action: input.action, affected, by: admin.userId },
        'incident containment',
      );
      return { incident: await updateIncidentRow(tx, incident.id, {}), affected, errors: [] };
    });
  },
);

type NotifyOutcome = { incident: IncidentRow | null; notified: number | null; errors: UserError[] };
const notifyInvalid = (errors: UserError[]): NotifyOutcome => ({ incident: null, notified: null, errors });

/**
 * Tells the affected users (article 34) through messaging, `NOTICE_BATCH` per event: what happened,
 * which data, what was done, whom to ask. Each user is told once: those told before are skipped,
 * so calling again (after adding users) tells only the new ones. Erased accounts are skipped.
 */
export const notifyAffectedUsers = mutationRule(
  {
    input: z.object({ incidentId: uuidInput, contact: z.string().trim().min(1).max(320) }),
    caller: requireAdmin,
    invalid: notifyInvalid,
  },
  async (ctx: Ctx, input, admin): Promise<NotifyOutcome> =>
    changeIncident(ctx, input.incidentId, notifyInvalid, async (tx, incident) => {
      if (!incident.personalDataBreach)
        return notifyInvalid([
          { code: 'CONFLICT', message: 'only the users of a personal-data breach are notified' },
        ]);
      if (!incident.dataCategories.length || !incident.measuresTaken)
        return notifyInvalid([
          {
            code: 'CONFLICT',
            message: 'record the data categories and the measures taken first (updateIncidentRegister)',
          },
        ]);
      const now = new Date();
      let notified = 0;
      for (;;) {
        const userIds = await unnotifiedAffectedUserIds(tx, incident.id, NOTICE_BATCH);
        if (!userIds.length) break;
        const recipients = (await usersByIds(tx, ctx.personKeys, userIds)).map((user) => ({
          userId: user.id,
          email: user.email,
          displayName: user.displayName,
        }));
        await ctx.outbox.publish(tx, breachNotificationRequested, incident.id, {
          incidentId: incident.id,
          title: incident.title,
          description: incident.description,
          dataCategories: incident.dataCategories,
          measuresTaken: incident.measuresTaken,
          contact: input.contact,
          recipients,
        });
        await markAffectedUsersNotified(tx, incident.id, userIds, now);
        notified += userIds.length;
      }
      if (notified) {
        await recordOnTimeline(
          tx,
          incident.id,
          admin.userId,
          'USERS_NOTIFIED',
          `${notified} users notified`,
          {
            count: notified,
            contact: input.contact,
          },
        );
      }
      const updated = notified
        ? await updateIncidentRow(tx, incident.id, { usersNotifiedAt: now })
        : incident;
      ctx.log.warn(
        { security: true, incidentId: incident.id, notified, by: admin.userId },
        'affected users notified',
      );
      return { incident: updated, notified, errors: [] };
    }),
);
