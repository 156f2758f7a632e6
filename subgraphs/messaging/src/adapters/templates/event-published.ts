import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EVENT, SAMPLE_STARTS } from './samples.ts';

export const eventPublished: KindTemplate<'eventPublished'> = {
  strings: {
    en: {
      // An organizer messaging has not heard the name of yet is not named.
      subject:
        '{% if organizer.name != blank %}New from {{ organizer.name }}: {% else %}New event: {% endif %}{{ event.title }}',
      heading: '{{ event.title }}',
      intro:
        '{% if organizer.name != blank %}{{ organizer.name }} published{% else %}Just published:{% endif %} {{ event.title }}, on {{ event.starts | local_time: locale }}.',
      why: 'You get this because you follow {% if organizer.name != blank %}{{ organizer.name }}{% else %}its organizer{% endif %} on Bilten.',
      action: 'See the event',
      shortTitle:
        '{% if organizer.name != blank %}New from {{ organizer.name }}{% else %}New event{% endif %}',
      shortBody: '{{ event.title }}, {{ event.starts | local_time: locale }}',
    },
    bs: {
      subject:
        '{% if organizer.name != blank %}Novo od {{ organizer.name }}: {% else %}Novi događaj: {% endif %}{{ event.title }}',
      intro:
        '{% if organizer.name != blank %}{{ organizer.name }} je objavio događaj{% else %}Upravo objavljeno:{% endif %} {{ event.title }}, {{ event.starts | local_time: locale }}.',
      why: 'Ovo dobijate jer pratite {% if organizer.name != blank %}{{ organizer.name }}{% else %}organizatora{% endif %} na Biltenu.',
      action: 'Pogledajte događaj',
      shortTitle:
        '{% if organizer.name != blank %}Novo od {{ organizer.name }}{% else %}Novi događaj{% endif %}',
      shortBody: '{{ event.title }}, {{ event.starts | local_time: locale }}',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'why' }],
  action: { label: 'action', url: '{{ event.url }}' },
  url: (data) => data.event.url,
  sample: {
    event: { ...SAMPLE_EVENT, starts: SAMPLE_STARTS },
    organizer: { name: 'Kino Meeting Point' },
  },
};
