import { organizationClosed } from '@bilten/contracts/identity';
import {
  DomainError,
  decodeCursor,
  type EventConsumer,
  mutationRule,
  pageSize,
  requireUser,
  toConnection,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { deleteFollow, deleteFollowsOf, followsOf, insertFollow } from '../db/follows.ts';
import { lockOpenOrganization, markOrganizationClosed } from '../db/recipients.ts';

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
