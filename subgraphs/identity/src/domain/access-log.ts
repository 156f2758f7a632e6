import { personalDataAccessed as billingPersonalDataAccessed } from '@bilten/contracts/billing';
import { personalDataAccessed as messagingPersonalDataAccessed } from '@bilten/contracts/messaging';
import { personalDataAccessed as ordersPersonalDataAccessed } from '@bilten/contracts/orders';
import {
  ACCESS_LOG_GENESIS,
  accessLogRowHash,
  type Database,
  DomainError,
  decodeCursor,
  type EventConsumer,
  type Logger,
  type Outbox,
  type PersonalDataAccess,
  pageSize,
  personalDataAccess,
  requireAdmin,
  requireUser,
  runPeriodically,
  type Transaction,
  toConnection,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  type AccessLogFilter,
  ANCHOR_AGGREGATE,
  accessLogPage,
  insertAccessLogRow,
  lastAnchoredSeq,
  lockChainHead,
} from '../db/access-log.ts';
import type { AccessLogRow } from '../db/schema.ts';
import { auditChainAnchored } from '../events.ts';
import { detectAdminBulkReads, type SecurityMonitor } from './security-monitoring.ts';

// The tamper-evident access audit (issue 18): one hash-chained, append-only log of who read whose
// personal data, fed by identity's own reads and by what orders and messaging report.

/**
 * Appends `access` to the chain inside `tx`: takes the writers' lock (held until `tx` ends, so
 * appends are strictly one after another), links the row to the head and hashes it.
 */
export async function appendAccess(
  tx: Transaction,
  access: PersonalDataAccess,
  service: string,
): Promise<AccessLogRow> {
  const head = await lockChainHead(tx);
  const prevHash = head?.rowHash ?? ACCESS_LOG_GENESIS;
  const entry = {
    id: uuidv7(),
    seq: (head?.seq ?? 0) + 1,
    occurredAt: new Date(access.occurredAt),
    actorId: access.actorId,
    actorKind: access.actorKind,
    subjectUserId: access.subjectUserId,
    organizationId: access.organizationId,
    purpose: access.purpose,
    fields: access.fields,
    resource: access.resource,
    requestId: access.requestId,
    service,
  };
  const row = { ...entry, prevHash, rowHash: accessLogRowHash(prevHash, entry) };
  await insertAccessLogRow(tx, row);
  return row;
}

/**
 * Records a read identity itself served (an admin reading an account), unless callers read their
 * own data. In a transaction of its own: the read has none.
 */
export async function recordAccess(
  ctx: Pick<Context, 'db' | 'viewer' | 'requestId'>,
  ...accesses: Parameters<typeof personalDataAccess>[1][]
): Promise<void> {
  const entries = accesses.flatMap((access) => personalDataAccess(ctx, access) ?? []);
  if (!entries.length) return;
  await ctx.db.transaction(async (tx) => {
    for (const entry of entries) await appendAccess(tx, entry, 'identity');
  });
}

/**
 * Records a change identity makes to someone else's data (an admin changing a member's role) in
 * the transaction that makes it: the change and its record commit together or not at all.
 */
export async function recordChange(
  tx: Transaction,
  ctx: Pick<Context, 'viewer' | 'requestId'>,
  change: Parameters<typeof personalDataAccess>[1],
): Promise<void> {
  const entry = personalDataAccess(ctx, change);
  if (entry) await appendAccess(tx, entry, 'identity');
}

/**
 * A team list read: co-members' names and emails are someone else's personal data (issue 18). A
 * member reads them as `team-directory`, a platform admin from outside as `admin-review`. Answers
 * `members`, once recorded.
 */
export async function recordTeamRead<Member extends { userId: string }>(
  ctx: Pick<Context, 'db' | 'viewer' | 'requestId'>,
  organizationId: string,
  members: Member[],
): Promise<Member[]> {
  const viewer = ctx.viewer;
  const member = viewer.kind === 'user' && viewer.organizations[organizationId] !== undefined;
  await recordAccess(
    ctx,
    ...members.map(({ userId }) => ({
      subjectUserId: userId,
      organizationId,
      purpose: member ? 'team-directory' : 'admin-review',
      fields: ['email', 'displayName', 'organization.role'],
      resource: `organization:${organizationId}:members`,
    })),
  );
  return members;
}

/** A member's role changed or their membership ended by someone else's hand (`change:role`, `change:membership`). */
export const recordMemberChange = (
  tx: Transaction,
  ctx: Pick<Context, 'viewer' | 'requestId'>,
  organizationId: string,
  userId: string,
  purpose: 'change:role' | 'change:membership',
) =>
  recordChange(tx, ctx, {
    subjectUserId: userId,
    organizationId,
    purpose,
    fields: ['organization.role'],
    resource: `organization:${organizationId}:member:${userId}`,
  });

/** Orders', messaging's and billing's reports, appended once each (the inbox drops redeliveries). */
export function accessReportConsumers(monitor?: SecurityMonitor): EventConsumer[] {
  const from = (
    service: string,
    event: typeof ordersPersonalDataAccessed,
  ): EventConsumer<typeof event.payload> => ({
    name: `${service}-personal-data-accessed`,
    event,
    async handle({ payload }, tx) {
      for (const access of payload.accesses) await appendAccess(tx, access, service);
      // An admin reading in bulk is a detection rule's business (security-monitoring.ts).
      if (monitor) await detectAdminBulkReads(tx, monitor, payload.accesses);
    },
  });
  return [
    from('orders', ordersPersonalDataAccessed),
    from('messaging', messagingPersonalDataAccessed),
    from('billing', billingPersonalDataAccessed),
  ] as EventConsumer[];
}

const filterInput = z
  .object({
    subjectUserId: z.uuid().nullish(),
    actorId: z.uuid().nullish(),
    organizationId: z.uuid().nullish(),
    from: z.date().nullish(),
    to: z.date().nullish(),
  })
  .nullish()
  .transform(
    (filter): AccessLogFilter => ({
      subjectUserId: filter?.subjectUserId ?? undefined,
      actorId: filter?.actorId ?? undefined,
      organizationId: filter?.organizationId ?? undefined,
      from: filter?.from ?? undefined,
      to: filter?.to ?? undefined,
    }),
  );

type PageArgs = { first?: number | null; after?: string | null };

async function page(ctx: Pick<Context, 'db'>, filter: AccessLogFilter, args: PageArgs) {
  const size = pageSize(args.first);
  const before = args.after ? decodeCursor(args.after, z.number().int().min(1)) : undefined;
  const rows = await accessLogPage(ctx.db, filter, before, size + 1);
  return toConnection(rows, size, (row) => row.seq);
}

/** `accessLog(filter)`: the whole log, newest first, for platform administrators. */
export async function accessLog(ctx: Pick<Context, 'db' | 'viewer'>, args: PageArgs & { filter?: unknown }) {
  requireAdmin(ctx.viewer);
  const parsed = filterInput.safeParse(args.filter);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DomainError('BAD_USER_INPUT', `filter.${issue.path.join('.')}: ${issue.message}`);
  }
  return page(ctx, parsed.data, args);
}

/**
 * `myDataAccessLog`: who read the caller's data, newest first. Which person read it is not shown
 * (their id is their own personal data): the kind of actor, the organization, the purpose and the
 * fields are. Platform administrators see actors in `accessLog`.
 */
export async function myDataAccessLog(ctx: Pick<Context, 'db' | 'viewer'>, args: PageArgs) {
  const user = requireUser(ctx.viewer);
  const connection = await page(ctx, { subjectUserId: user.userId }, args);
  for (const edge of connection.edges) edge.node = { ...edge.node, actorId: null };
  return connection;
}

/**
 * Publishes the chain's head on `bilten.identity.audit.anchor` every `intervalMs` when it moved
 * since the last anchor: a copy outside the database that a rewritten chain cannot match. Under
 * the writers' lock, so replicas never anchor the same head twice.
 */
export function startAuditAnchor(
  deps: { db: Database; outbox: Outbox; log: Logger },
  intervalMs: number,
): { stop(): Promise<void> } {
  return runPeriodically(
    intervalMs,
    () => anchorChainHead(deps).then(() => undefined),
    (error) => deps.log.error({ err: error }, 'anchoring the access log failed'),
  );
}

/** One anchoring pass; answers the head it published, if any. */
export async function anchorChainHead(deps: { db: Database; outbox: Outbox }) {
  return deps.db.transaction(async (tx) => {
    const head = await lockChainHead(tx);
    if (!head || (await lastAnchoredSeq(tx)) === head.seq) return undefined;
    const anchor = { seq: head.seq, rowHash: head.rowHash, at: new Date().toISOString() };
    await deps.outbox.publish(tx, auditChainAnchored, ANCHOR_AGGREGATE, anchor);
    return anchor;
  });
}
