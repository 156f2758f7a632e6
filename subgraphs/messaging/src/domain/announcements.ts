import { announcementPosted } from '@bilten/contracts/messaging';
import {
  DomainError,
  displayText,
  mutationRule,
  requireOrgRole,
  requireUser,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { type AnnouncementRow, announcementsInLastHour, insertAnnouncement } from '../db/announcements.ts';
import { lockEventSchedule } from '../db/event-schedules.ts';

/** Announcements one event may get an hour: enough to correct a mistake, too few to spam its holders. */
export const ANNOUNCEMENTS_PER_EVENT_PER_HOUR = 5;

const sendAnnouncementInput = z.object({
  eventId: uuidInput,
  // One line: it is the mail's subject and the push title.
  subject: displayText(200),
  body: z.string().trim().min(1, 'must not be empty').max(5_000, 'must be at most 5000 characters'),
});

interface SendAnnouncementResult {
  announcement: AnnouncementRow | null;
  errors: UserError[];
}

const invalid = (errors: UserError[]): SendAnnouncementResult => ({ announcement: null, errors });

/**
 * An organization's ADMIN+ writes to every ticket holder of one of its events (not cancelled). The
 * row and `announcementPosted` commit together; the announcement workflow delivers it. The event's
 * schedule row is locked while the hourly count is checked, so concurrent posts cannot all slip
 * under the limit.
 */
export const sendAnnouncement = mutationRule(
  { input: sendAnnouncementInput, caller: requireUser, invalid },
  async (ctx: Pick<Context, 'db' | 'viewer' | 'outbox'>, input, user): Promise<SendAnnouncementResult> =>
    ctx.db.transaction(async (tx) => {
      const schedule = await lockEventSchedule(tx, input.eventId);
      if (!schedule || schedule.cancelledAt)
        return invalid([{ code: 'NOT_FOUND', message: 'no such event', field: ['input', 'eventId'] }]);
      requireOrgRole(ctx.viewer, schedule.organizationId, 'ADMIN');
      if ((await announcementsInLastHour(tx, input.eventId)) >= ANNOUNCEMENTS_PER_EVENT_PER_HOUR)
        throw new DomainError(
          'RATE_LIMITED',
          `at most ${ANNOUNCEMENTS_PER_EVENT_PER_HOUR} announcements per event an hour`,
        );
      const announcement = await insertAnnouncement(tx, {
        id: uuidv7(),
        eventId: input.eventId,
        organizationId: schedule.organizationId,
        postedBy: user.userId,
        subject: input.subject,
        body: input.body,
      });
      await ctx.outbox.publish(tx, announcementPosted, announcement.id, {
        announcementId: announcement.id,
        eventId: announcement.eventId,
        organizationId: announcement.organizationId,
        postedBy: announcement.postedBy,
      });
      return { announcement, errors: [] };
    }),
);
