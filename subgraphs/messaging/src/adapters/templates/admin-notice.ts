import type { KindTemplate } from './kind-template.ts';

/** A word from Bilten's own staff: their subject and body, in our frame. */
export const adminNotice: KindTemplate<'adminNotice'> = {
  strings: {
    en: {
      subject: '{{ subject }}',
      heading: '{{ subject }}',
      from: 'A message from the Bilten team:',
      shortTitle: '{{ subject }}',
      shortBody: '{{ body }}',
    },
    bs: { from: 'Poruka Bilten tima:' },
  },
  blocks: [{ text: 'from' }, { paragraphs: 'body' }],
  url: () => null,
  sample: {
    subject: 'Scheduled maintenance on Sunday',
    body: 'Bilten is unavailable on Sunday between 02:00 and 03:00 (Europe/Sarajevo).\n\nTickets already bought work as always.',
  },
};
