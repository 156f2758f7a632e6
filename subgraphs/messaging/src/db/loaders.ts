import { type Database, loaderById } from '@bilten/platform';
import DataLoader from 'dataloader';
import { followerCounts } from './follows.ts';
import { openNotifications } from './notification-texts.ts';
import type { MessagingKeys } from './person-keys.ts';
import {
  type NotificationFilter,
  newestNotificationsOf,
  notificationsByIds,
  unreadCounts,
} from './queries.ts';
import type { NotificationRow } from './schema.ts';

export interface NotificationPage {
  recipientId: string;
  limit: number;
  beforeId?: string;
  filter: NotificationFilter;
}

const filterKey = ({ unread, archived }: NotificationFilter) => `${unread ?? ''}|${archived ?? ''}`;

/** A count per id in one statement for all ids asked in the same tick; absent ids count 0. */
const countLoader = (count: (ids: string[]) => Promise<Map<string, number>>) =>
  new DataLoader<string, number>(async (ids) => {
    const counts = await count([...ids]);
    return ids.map((id) => counts.get(id) ?? 0);
  });

/** Notifications come out of the loaders opened: the texts of all rows asked in one tick decrypted together. */
export function createLoaders(db: Database, keys: MessagingKeys) {
  return {
    notification: loaderById(async (ids) => openNotifications(db, keys, await notificationsByIds(db, ids))),
    /** One statement per distinct (limit, cursor, filter) for all recipients asked in the same tick. */
    notificationPage: new DataLoader<NotificationPage, NotificationRow[], string>(
      async (pages) => {
        const groups = new Map<string, NotificationPage[]>();
        for (const page of pages) {
          const key = `${page.limit}|${page.beforeId ?? ''}|${filterKey(page.filter)}`;
          groups.set(key, [...(groups.get(key) ?? []), page]);
        }
        const results = new Map<NotificationPage, NotificationRow[]>();
        for (const group of groups.values()) {
          const { limit, beforeId, filter } = group[0]!;
          const rows = await openNotifications(
            db,
            keys,
            await newestNotificationsOf(
              db,
              [...new Set(group.map((p) => p.recipientId))],
              limit,
              beforeId,
              filter,
            ),
          );
          for (const page of group)
            results.set(
              page,
              rows.filter((row) => row.recipientId === page.recipientId),
            );
        }
        return pages.map((page) => results.get(page)!);
      },
      {
        cacheKeyFn: (page) =>
          `${page.recipientId}|${page.limit}|${page.beforeId ?? ''}|${filterKey(page.filter)}`,
      },
    ),
    unreadCount: countLoader((recipientIds) => unreadCounts(db, recipientIds)),
    followerCount: countLoader((organizationIds) => followerCounts(db, organizationIds)),
  };
}
