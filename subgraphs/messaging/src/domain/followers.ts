import { eventPublished } from '@bilten/contracts/catalog';
import { organizationClosed } from '@bilten/contracts/identity';
import {
  DomainError,
  decodeCursor,
  type EventConsumer,
  mutationRule,
  type Outbox,
  pageSize,
  requireUser,
  type Transaction,
  toConnection,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { deleteFollow, deleteFollowsOf, followerIdsAfter, followsOf, insertFollow } from '../db/follows.ts';
import { preferencesOfUsers } from '../db/preferences.ts';
import { lockOpenOrganization, markOrganizationClosed } from '../db/recipients.ts';
import type { Channel } from '../db/schema.ts';
import { KINDS, type NotificationKind, shouldDeliver } from './delivery-rules.ts';
import { storeInAppNotifications } from './notifications.ts';

interface FollowResult {
  organization: { id: string } | null;
  following: boolean;
  errors: UserError[];
}

const followInput = z.object({ organizationId: uuidInput });
const invalid = (errors: UserError[]): FollowResult => ({ organization: null, following: false, errors });

/**
 * Only an organization identity told messaging about and that is open: anything else is NOT_FOUND
 * and stores nothing. Idempotent: following twice keeps one follow (and its first date).
 */
export const followOrganization = mutationRule(
  { input: followInput, caller: requireUser, invalid },
  async (ctx: Pick<Context, 'db' | 'viewer'>, { organizationId }, user): Promise<FollowResult> => {
    const followed = await ctx.db.transaction(async (tx) => {
      if (!(await lockOpenOrganization(tx, organizationId))) return false;
      await insertFollow(tx, user.userId, organizationId);
      return true;
    });
    if (!followed)
      return invalid([
        { code: 'NOT_FOUND', message: 'no such organization', field: ['input', 'organizationId'] },
      ]);
    return { organization: { id: organizationId }, following: true, errors: [] };
  },
);

/** Idempotent: unfollowing what one does not follow changes nothing. */
export const unfollowOrganization = mutationRule(
  { input: followInput, caller: requireUser, invalid },
  async (ctx: Pick<Context, 'db' | 'viewer'>, { organizationId }, user): Promise<FollowResult> => {
    await deleteFollow(ctx.db, user.userId, organizationId);
    return { organization: { id: organizationId }, following: false, errors: [] };
  },
);

/** `User.following`: whom one follows is one's own business, so only the user themself sees it. */
export async function followingPage(
  ctx: Pick<Context, 'db' | 'viewer'>,
  { userId, first, after }: { userId: string; first?: number | null; after?: string | null },
) {
  const user = requireUser(ctx.viewer);
  const size = pageSize(first);
  if (user.userId !== userId)
    throw new DomainError('FORBIDDEN', 'whom a user follows is visible to them only');
  const rows = await followsOf(ctx.db, userId, size + 1, after ? decodeCursor(after) : undefined);
  const page = toConnection(rows, size, (row) => row.organizationId);
  return {
    ...page,
    edges: page.edges.map(({ cursor, node }) => ({
      cursor,
      node: { id: node.organizationId },
      followedAt: node.createdAt,
    })),
  };
}

/**
 * Organization closed → marked closed and its follows deleted in the consumer's transaction, so
 * its follower count is 0 and nothing published for it later reaches anyone. A redelivery finds
 * nothing left to delete and keeps the first closing date.
 */
export function organizationClosedConsumer(): EventConsumer<typeof organizationClosed.payload> {
  return {
    name: 'organization-closed-follows',
    event: organizationClosed,
    async handle({ payload, occurredAt }, tx) {
      await markOrganizationClosed(tx, payload.organizationId, new Date(occurredAt));
      await deleteFollowsOf(tx, payload.organizationId);
    },
  };
}

/** Followers read per statement: bounded memory and statement size for organizations with many. */
export const FAN_OUT_BATCH = 1000;

/**
 * The organization's followers whose preferences take `kind` by `channel`, in batches walked by
 * user id: what every fan-out to followers (in-app, email) goes through.
 */
export async function* followersTaking(
  tx: Transaction,
  organizationId: string,
  kind: NotificationKind,
  channel: Channel,
): AsyncGenerator<string[]> {
  let after: string | undefined;
  for (;;) {
    const followers = await followerIdsAfter(tx, organizationId, FAN_OUT_BATCH, after);
    if (!followers.length) return;
    const preferences = new Map((await preferencesOfUsers(tx, followers)).map((row) => [row.userId, row]));
    yield followers.filter((userId) => shouldDeliver(preferences.get(userId) ?? null, kind, channel));
    after = followers.at(-1);
  }
}

/**
 * Event published → one IN_APP notification per follower who has EVENT_UPDATES in-app on. Public
 * events only: an unlisted event is for those who have its link. Followers are walked in batches
 * by user id; each notification is keyed by the event id, so a redelivery (or a second consumer
 * name) notifies nobody twice.
 */
export function eventPublishedFollowersConsumer(
  outbox: Outbox,
): EventConsumer<typeof eventPublished.payload> {
  return {
    name: 'event-published-followers',
    event: eventPublished,
    async handle(event, tx) {
      const { eventId, organizationId, title, startsAt, timezone, visibility } = event.payload;
      if (visibility !== 'PUBLIC') return;
      const when = new Intl.DateTimeFormat('en-GB', {
        dateStyle: 'medium',
        timeStyle: 'short',
        timeZone: timezone,
      }).format(new Date(startsAt));
      for await (const recipients of followersTaking(tx, organizationId, KINDS.eventPublished, 'IN_APP'))
        await storeInAppNotifications(
          tx,
          outbox,
          recipients.map((recipientId) => ({
            recipientId,
            category: KINDS.eventPublished.category,
            subject: `New event: ${title}`,
            body: `${title} is on sale: ${when} (${timezone}). Event id ${eventId}.`,
            sourceEventId: event.id,
          })),
        );
    },
  };
}
