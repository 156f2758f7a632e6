import { type Database, loaderById, loaderOfLists } from '@bilten/platform';
import { eventsByIds, eventsOfSeries, ticketTypesByEventIds, ticketTypesByIds } from './queries.ts';

export function createLoaders(db: Database) {
  return {
    event: loaderById((ids) => eventsByIds(db, ids)),
    ticketType: loaderById((ids) => ticketTypesByIds(db, ids)),
    ticketTypesOfEvent: loaderOfLists(
      (ids) => ticketTypesByEventIds(db, ids),
      (row) => row.eventId,
    ),
    occurrencesOfSeries: loaderOfLists(
      (ids) => eventsOfSeries(db, ids),
      (row) => row.seriesId!,
    ),
  };
}
