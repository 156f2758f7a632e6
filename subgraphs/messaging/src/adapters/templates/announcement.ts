import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EVENT } from './samples.ts';

/** The organizer's own words: subject and body as they wrote them, only framed by ours. */
export const announcement: KindTemplate<'announcement'> = {
  strings: {
    en: {
      subject: '{{ subject }}',
      heading: '{{ subject }}',
      intro: '{{ organizer.name }} writes to ticket holders of {{ event.title }}:',
      why: 'You get this because you have a ticket for {{ event.title }}.',
      action: 'See the event',
      shortTitle: '{{ organizer.name }}: {{ subject }}',
      shortBody: '{{ body }}',
    },
    bs: {
      intro: '{{ organizer.name }} piše vlasnicima ulaznica za {{ event.title }}:',
      why: 'Ovo dobijate jer imate ulaznicu za {{ event.title }}.',
      action: 'Pogledajte događaj',
    },
  },
  blocks: [{ text: 'intro' }, { paragraphs: 'body' }, { text: 'why' }],
  action: { label: 'action', url: '{{ event.url }}' },
  url: (data) => data.event.url,
  sample: {
    event: SAMPLE_EVENT,
    organizer: { name: 'Kino Meeting Point' },
    subject: 'Doors open at 19:30',
    body: 'Doors open half an hour earlier than planned.\n\nThe cloakroom is free for ticket holders.',
  },
};
