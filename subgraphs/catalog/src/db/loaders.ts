import { type Database, loaderById, loaderOfLists } from '@bilten/platform';
import {
  eventsByIds,
  type SeriesPage,
  seriesPages,
  seriesSizes,
  ticketTypesByEventIds,
  ticketTypesByIds,
} from './queries.ts';
import type { EventRow } from './schema.ts';

export function createLoaders(db: Database) {
  // One loader per distinct page asked: the series of every event at one level of a query share
  // it (the same arguments), so their pages come in one statement.
  const pages = new Map<string, ReturnType<typeof loaderOfLists<EventRow>>>();
  const sizes = new Map<boolean, ReturnType<typeof loaderById<{ seriesId: string; size: number }>>>();
  return {
    event: loaderById((ids) => eventsByIds(db, ids)),
    ticketType: loaderById((ids) => ticketTypesByIds(db, ids)),
    ticketTypesOfEvent: loaderOfLists(
      (ids) => ticketTypesByEventIds(db, ids),
      (row) => row.eventId,
    ),
    /** The page of occurrences of each series asked for, by series id. */
    seriesPage(page: SeriesPage) {
      const key = JSON.stringify(page);
      let loader = pages.get(key);
      if (!loader) {
        loader = loaderOfLists(
          (ids) => seriesPages(db, ids, page),
          (row) => row.seriesId!,
        );
        pages.set(key, loader);
      }
      return loader;
    },
    /** How many occurrences (drafts too, or not) each series asked for has. */
    seriesSize(withDrafts: boolean) {
      let loader = sizes.get(withDrafts);
      if (!loader) {
        loader = loaderById(
          (ids) => seriesSizes(db, ids, withDrafts),
          (row) => row.seriesId,
        );
        sizes.set(withDrafts, loader);
      }
      return loader;
    },
  };
}
