import type { EventRow, events } from '../db/schema.ts';
import type { EventDefinitionInput } from './validation.ts';

type EventColumns = Partial<typeof events.$inferInsert>;

/** Input fields → column values; only the fields present in `input` are returned. */
export function columnsOf(input: EventDefinitionInput): EventColumns {
  const columns: EventColumns = {};
  const set = <K extends keyof EventColumns>(key: K, value: EventColumns[K]) => {
    columns[key] = value;
  };
  if (input.title !== undefined) set('title', input.title);
  if (input.description !== undefined) {
    set('description', input.description?.description ?? null);
    set('descriptionHtml', input.description?.descriptionHtml ?? null);
  }
  if (input.category !== undefined) set('category', input.category);
  if (input.tags !== undefined) set('tags', input.tags);
  if (input.imageIds !== undefined) set('imageIds', input.imageIds);
  if (input.startsAt !== undefined) set('startsAt', input.startsAt);
  if (input.endsAt !== undefined) set('endsAt', input.endsAt);
  if (input.timezone !== undefined) set('timezone', input.timezone);
  if (input.venue !== undefined) {
    set('venueName', input.venue?.name ?? null);
    set('venueAddress', input.venue?.address ?? null);
    set('venueCity', input.venue?.city ?? null);
    set('venueCountry', input.venue?.country ?? null);
    set('venueLatitude', input.venue?.latitude ?? null);
    set('venueLongitude', input.venue?.longitude ?? null);
  }
  if (input.onlineUrl !== undefined) set('onlineUrl', input.onlineUrl ?? null);
  if (input.currency !== undefined) set('currency', input.currency);
  if (input.capacity !== undefined) set('capacity', input.capacity);
  if (input.refundPolicy !== undefined) {
    set('refundPolicy', input.refundPolicy?.kind ?? 'NONE');
    set('refundDaysBeforeStart', input.refundPolicy?.daysBeforeStart ?? null);
    set('refundPercent', input.refundPolicy?.percent ?? null);
  }
  if (input.visibility !== undefined) set('visibility', input.visibility);
  return columns;
}

/** The venue columns as one venue (what the API shows and versions store), or null without one. */
export function venueOf(event: EventRow) {
  return event.venueName
    ? {
        name: event.venueName,
        address: event.venueAddress ?? '',
        city: event.venueCity ?? '',
        country: event.venueCountry ?? '',
        latitude: event.venueLatitude,
        longitude: event.venueLongitude,
      }
    : null;
}

/** The refund policy columns as one policy (what the API shows and versions store). */
export const refundPolicyOf = (event: EventRow) => ({
  kind: event.refundPolicy,
  daysBeforeStart: event.refundDaysBeforeStart,
  percent: event.refundPercent,
});
