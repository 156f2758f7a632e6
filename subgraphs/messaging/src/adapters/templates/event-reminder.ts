import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EVENT, SAMPLE_PLACE, SAMPLE_STARTS } from './samples.ts';

export const eventReminder: KindTemplate<'eventReminder'> = {
  strings: {
    en: {
      subject: 'Tomorrow: {{ event.title }}',
      heading: 'See you tomorrow at {{ event.title }}',
      when: 'It starts {{ event.starts | local_time: locale }}, at {{ event.place }}.',
      tickets: 'Have your tickets ready: their QR codes get you in.',
      action: 'See the event',
      shortTitle: 'Tomorrow: {{ event.title }}',
      shortBody: '{{ event.starts | local_time: locale }}, {{ event.place }}',
    },
    bs: {
      subject: 'Sutra: {{ event.title }}',
      heading: 'Vidimo se sutra na događaju {{ event.title }}',
      when: 'Počinje {{ event.starts | local_time: locale }}, na mjestu {{ event.place }}.',
      tickets: 'Pripremite ulaznice: njihov QR kod vas uvodi unutra.',
      action: 'Pogledajte događaj',
      shortTitle: 'Sutra: {{ event.title }}',
      shortBody: '{{ event.starts | local_time: locale }}, {{ event.place }}',
    },
  },
  blocks: [{ text: 'when' }, { text: 'tickets' }],
  action: { label: 'action', url: '{{ event.url }}' },
  url: (data) => data.event.url,
  sample: { event: { ...SAMPLE_EVENT, starts: SAMPLE_STARTS, place: SAMPLE_PLACE } },
};
