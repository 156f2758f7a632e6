import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Viewer } from './auth.ts';
import type { EventDefinition } from './events.ts';
import type { BaseContext } from './subgraph.ts';
import { tickBatches } from './tick-batches.ts';

/**
 * The tamper-evident access audit (issue 18): every read of someone else's personal data is one
 * row of identity's hash-chained `access_log`. Services that serve such data report it through
 * their outbox (their own `personalDataAccessed` contract); identity appends. What lives here is
 * what writers, readers and `npm run audit:verify` must agree on.
 */

/** Who read: a signed-in user, a third party's API key, a platform admin, or the platform itself. */
export const ACCESS_ACTOR_KINDS = ['user', 'api_key', 'admin', 'system'] as const;
export type AccessActorKind = (typeof ACCESS_ACTOR_KINDS)[number];

/** The first row's `prev_hash`. */
export const ACCESS_LOG_GENESIS = '0'.repeat(64);

/** The fields of one access, as every service reports it. */
export interface PersonalDataAccess {
  actorId: string | null;
  actorKind: AccessActorKind;
  subjectUserId: string;
  organizationId: string | null;
  /** Why, in a word: `support`, `attendee-list`, `admin-review`, `check-in`, ... */
  purpose: string;
  /** Which personal fields were shown, e.g. `email`, `buyer.name`. */
  fields: string[];
  /** What was read, `<type>:<id>`. */
  resource: string;
  requestId: string | null;
  /** ISO-8601. */
  occurredAt: string;
}

/** A chained row: the access, where it happened, its place in the chain. */
export interface AccessLogEntry extends Omit<PersonalDataAccess, 'occurredAt'> {
  id: string;
  seq: number;
  occurredAt: Date;
  service: string;
}

/**
 * `sha256(prev_hash ‖ canonical JSON)`: the row's fields in this fixed order, times as ISO-8601
 * with milliseconds, absent values as null. Changing this order or format breaks every chain.
 */
export function accessLogRowHash(prevHash: string, row: AccessLogEntry): string {
  const canonical = JSON.stringify([
    row.id,
    row.seq,
    row.occurredAt.toISOString(),
    row.actorId ?? null,
    row.actorKind,
    row.subjectUserId,
    row.organizationId ?? null,
    row.purpose,
    row.fields,
    row.resource,
    row.requestId ?? null,
    row.service,
  ]);
  return createHash('sha256').update(prevHash).update(canonical).digest('hex');
}

/** The actor of a read: platform admins are `admin` (audited like anyone, issue 18). */
export function accessActorOf(viewer: Viewer): Pick<PersonalDataAccess, 'actorId' | 'actorKind'> {
  if (viewer.kind === 'user')
    return { actorId: viewer.userId, actorKind: viewer.roles.includes('ADMIN') ? 'admin' : 'user' };
  if (viewer.kind === 'apiKey') return { actorId: viewer.keyId, actorKind: 'api_key' };
  return { actorId: null, actorKind: 'system' };
}

/**
 * The access `ctx`'s caller makes to `subject`'s data, or null when there is nothing to record:
 * people reading their own data are not audited.
 */
export function personalDataAccess(
  ctx: Pick<BaseContext, 'viewer' | 'requestId'>,
  access: Pick<PersonalDataAccess, 'subjectUserId' | 'purpose' | 'fields' | 'resource'> & {
    organizationId?: string | null;
  },
): PersonalDataAccess | null {
  const actor = accessActorOf(ctx.viewer);
  if (actor.actorKind !== 'api_key' && actor.actorId === access.subjectUserId) return null;
  return {
    ...actor,
    subjectUserId: access.subjectUserId,
    organizationId: access.organizationId ?? null,
    purpose: access.purpose,
    fields: access.fields,
    resource: access.resource,
    requestId: ctx.requestId || null,
    occurredAt: new Date().toISOString(),
  };
}

type AccessOf = Parameters<typeof personalDataAccess>[1];

/** Most accesses one report event carries (the contracts' limit). */
const ACCESSES_PER_EVENT = 500;

// Every read resolved in the same tick of one request (a page of orders, ten users' notifications)
// goes into one event.
const pendingReports = tickBatches<PersonalDataAccess>();

/**
 * Reports reads of someone else's personal data on `contract` (the reporting service's own
 * `personalDataAccessed`); identity appends them to the chain. Reads of callers' own data are left
 * out. Reports made in the same tick of one request are gathered, like a dataloader's loads, and
 * written as one event in one small transaction of their own (a read has none): resolve the data
 * and report side by side (`Promise.all`) so neither breaks the other's batching. The caller's
 * answer waits for the write, so nothing is served unrecorded.
 */
export function reportPersonalDataAccess<S extends z.ZodType>(
  ctx: Pick<BaseContext, 'viewer' | 'requestId' | 'db' | 'outbox'>,
  contract: EventDefinition<S>,
  ...accesses: AccessOf[]
): Promise<void> {
  const reported = accesses.flatMap((access) => personalDataAccess(ctx, access) ?? []);
  if (!reported.length) return Promise.resolve();
  return pendingReports.add(ctx, reported, (gathered) =>
    ctx.db.transaction(async (tx) => {
      for (let at = 0; at < gathered.length; at += ACCESSES_PER_EVENT) {
        const accesses = gathered.slice(at, at + ACCESSES_PER_EVENT);
        await ctx.outbox.publish(tx, contract, accesses[0]!.subjectUserId, { accesses } as z.input<S>);
      }
    }),
  );
}
