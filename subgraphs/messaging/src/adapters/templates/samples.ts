import type { LocalTime } from '../../domain/channels.ts';

/** What previews show: one made-up event, the same in every kind. */
export const SAMPLE_EVENT = {
  id: '01890000-0000-7000-8000-000000000001',
  title: 'Sarajevo Jazz Night',
  url: 'https://bilten.example/events/sarajevo-jazz-night',
};
export const SAMPLE_STARTS: LocalTime = { at: '2027-06-12T18:00:00.000Z', timezone: 'Europe/Sarajevo' };
export const SAMPLE_PLACE = 'Kino Meeting Point, Hamdije Kreševljakovića 13, Sarajevo';
export const SAMPLE_ORDER_ID = '01890000-0000-7000-8000-000000000002';
export const SAMPLE_ISSUED_AT = '2027-06-01T10:00:00.000Z';
/** A day after `SAMPLE_ISSUED_AT`. */
export const SAMPLE_EXPIRES_AT = '2027-06-02T10:00:00.000Z';

/** An app path for what has no absolute link in its data (an order): the sender resolves it against the web app. */
export const orderPath = (orderId: string) => `/orders/${encodeURIComponent(orderId)}`;
