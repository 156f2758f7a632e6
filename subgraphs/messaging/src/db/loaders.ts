import { type Database, loaderById } from '@bilten/platform';
import DataLoader from 'dataloader';
import { newestNotificationsOf, notificationsByIds } from './queries.ts';
import type { NotificationRow } from './schema.ts';

export interface NotificationPage {
  recipientId: string;
  limit: number;
  beforeId?: string;
}

export function createLoaders(db: Database) {
  return {
    notification: loaderById((ids) => notificationsByIds(db, ids)),
    /** One statement per distinct (limit, cursor) for all recipients asked in the same tick. */
    notificationPage: new DataLoader<NotificationPage, NotificationRow[], string>(
      async (pages) => {
        const groups = new Map<string, NotificationPage[]>();
        for (const page of pages) {
          const key = `${page.limit}|${page.beforeId ?? ''}`;
          groups.set(key, [...(groups.get(key) ?? []), page]);
        }
        const results = new Map<NotificationPage, NotificationRow[]>();
        for (const group of groups.values()) {
          const { limit, beforeId } = group[0]!;
          const rows = await newestNotificationsOf(
            db,
            [...new Set(group.map((p) => p.recipientId))],
            limit,
            beforeId,
          );
          for (const page of group)
            results.set(
              page,
              rows.filter((row) => row.recipientId === page.recipientId),
            );
        }
        return pages.map((page) => results.get(page)!);
      },
      { cacheKeyFn: (page) => `${page.recipientId}|${page.limit}|${page.beforeId ?? ''}` },
    ),
  };
}
