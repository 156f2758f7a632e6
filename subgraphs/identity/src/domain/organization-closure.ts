import { organizationClosureRefused, organizationEventsClosed } from '@bilten/contracts/catalog';
import {
  type EventConsumer,
  type Logger,
  mutationRule,
  type Outbox,
  requireUser,
  type Transaction,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { dissolveTeam, lockMembers, updateOrganizationRow } from '../db/organizations.ts';
import { sandboxesOf } from '../db/sandboxes.ts';
import type { MemberRow, OrganizationRow } from '../db/schema.ts';
import { apiKeyRevoked, organizationClosed, organizationClosureRequested } from '../events.ts';
import { type Ctx, withMembers } from './organizations.ts';

/**
 * OWNERs close their organization, as a saga with catalog, which knows the sales: identity marks
 * it CLOSING and asks; catalog refuses while an upcoming event has sold tickets (ACTIVE again,
 * the reason in `closureRefusal`) or cancels every upcoming event, and then identity removes the
 * team and marks it CLOSED. Asking again while CLOSING changes nothing.
 */
export const deleteOrganization = mutationRule(
  {
    input: z.object({ id: uuidInput }),
    caller: requireUser,
    invalid: (errors) => ({ organization: null, errors }),
  },
  async (ctx: Ctx, { id }): Promise<{ organization: OrganizationRow | null; errors: UserError[] }> =>
    withMembers(ctx, id, 'OWNER', async (tx, { organization, actor }) => {
      if (organization.status === 'CLOSING') return { organization, errors: [] };
      const closureId = uuidv7();
      const closing = await updateOrganizationRow(tx, id, {
        status: 'CLOSING',
        closureId,
        closureRefusal: null,
      });
      await ctx.outbox.publish(tx, organizationClosureRequested, id, {
        organizationId: id,
        closureId,
        requestedBy: actor.userId,
      });
      ctx.log.info({ organizationId: id, closureId, by: actor.userId }, 'organization closure requested');
      return { organization: closing, errors: [] };
    }),
);

/** Why the latest closure was refused, for the organization's members; null for anyone else. */
export function closureRefusalOf(ctx: Pick<Context, 'viewer'>, organization: OrganizationRow) {
  const member = ctx.viewer.kind === 'user' && Boolean(ctx.viewer.organizations[organization.id]);
  return member ? organization.closureRefusal : null;
}

/** Catalog's answers; an answer to anything but the pending request (a redelivery) changes nothing. */
export function closureConsumers({ outbox, log }: { outbox: Outbox; log: Logger }): EventConsumer[] {
  const pending = async (
    tx: Parameters<EventConsumer['handle']>[1],
    organizationId: string,
    closureId: string,
  ) => {
    const state = await lockMembers(tx, organizationId);
    const isPending = state?.organization.status === 'CLOSING' && state.organization.closureId === closureId;
    return isPending ? state : undefined;
  };
  const refused: EventConsumer<typeof organizationClosureRefused.payload> = {
    name: 'organization-closure-refused',
    event: organizationClosureRefused,
    async handle({ payload: { organizationId, closureId, reason } }, tx) {
      if (!(await pending(tx, organizationId, closureId))) return;
      await updateOrganizationRow(tx, organizationId, { status: 'ACTIVE', closureRefusal: reason });
      log.info({ organizationId, closureId }, 'organization closure refused by catalog');
    },
  };
  const closed: EventConsumer<typeof organizationEventsClosed.payload> = {
    name: 'organization-events-closed',
    event: organizationEventsClosed,
    async handle({ payload: { organizationId, closureId, cancelledEventIds } }, tx) {
      const state = await pending(tx, organizationId, closureId);
      if (!state) return;
      await closeSandboxOf(tx, outbox, state);
      const revokedKeys = await dissolveTeam(tx, organizationId);
      // `organization.closed` ends the tokens naming this organization; its TEST keys' tokens
      // name its sandbox (a test-mode organization's name itself), so they are revoked by name.
      const actingOnSandbox = state.organization.testMode
        ? []
        : revokedKeys.filter((key) => key.mode === 'TEST');
      for (const key of actingOnSandbox) {
        await outbox.publish(tx, apiKeyRevoked, key.id, { apiKeyId: key.id, organizationId });
      }
      await updateOrganizationRow(tx, organizationId, { status: 'CLOSED', closedAt: new Date() });
      await outbox.publish(tx, organizationClosed, organizationId, { organizationId, closureId });
      log.info(
        { organizationId, closureId, cancelledEvents: cancelledEventIds.length },
        'organization closed',
      );
    },
  };
  return [refused, closed] as EventConsumer[];
}

/**
 * A closed organization's sandbox closes after it, through catalog like any organization (its
 * upcoming test events are cancelled), in the name of one of the live organization's owners: the
 * request's own author is not kept. Should catalog refuse (test tickets sold), the sandbox stays
 * open but unreachable: its team was the live organization's, and its TEST keys were too.
 */
async function closeSandboxOf(
  tx: Transaction,
  outbox: Outbox,
  live: { organization: OrganizationRow; members: MemberRow[] },
) {
  const [sandbox] = await sandboxesOf(tx, [live.organization.id]);
  const owner = live.members.find((member) => member.role === 'OWNER');
  if (sandbox?.status !== 'ACTIVE' || !owner) return;
  const closureId = uuidv7();
  await updateOrganizationRow(tx, sandbox.id, { status: 'CLOSING', closureId, closureRefusal: null });
  await outbox.publish(tx, organizationClosureRequested, sandbox.id, {
    organizationId: sandbox.id,
    closureId,
    requestedBy: owner.userId,
  });
}
