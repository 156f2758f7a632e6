import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EVENT, SAMPLE_PLACE, SAMPLE_STARTS } from './samples.ts';

export const eventRescheduled: KindTemplate<'eventRescheduled'> = {
  strings: {
    en: {
      subject: '{{ event.title }} has moved',
      heading: '{{ event.title }} has moved',
      now: 'New: {{ current.starts | local_time: locale }}, {{ current.place }}.',
      before: 'Before: {{ previous.starts | local_time: locale }}, {{ previous.place }}.',
      valid: 'Your tickets stay valid for the new date and place: you do not need to do anything.',
      refund:
        'If you cannot come any more, the event page says whether and until when the organizer refunds tickets.',
      action: 'See the event',
      shortTitle: '{{ event.title }} has moved',
      shortBody:
        'Now {{ current.starts | local_time: locale }}, {{ current.place }}. Your tickets stay valid.',
    },
    bs: {
      subject: '{{ event.title }} je pomjeren',
      heading: '{{ event.title }} je pomjeren',
      now: 'Novo: {{ current.starts | local_time: locale }}, {{ current.place }}.',
      before: 'Ranije: {{ previous.starts | local_time: locale }}, {{ previous.place }}.',
      valid: 'Vaše ulaznice važe i za novi datum i mjesto: ne morate ništa raditi.',
      refund:
        'Ako više ne možete doći, na stranici događaja piše da li i do kada organizator vraća novac za ulaznice.',
      action: 'Pogledajte događaj',
      shortTitle: '{{ event.title }} je pomjeren',
      shortBody:
        'Sada {{ current.starts | local_time: locale }}, {{ current.place }}. Ulaznice i dalje važe.',
    },
  },
  blocks: [{ text: 'now' }, { text: 'before' }, { text: 'valid' }, { text: 'refund' }],
  action: { label: 'action', url: '{{ event.url }}' },
  url: (data) => data.event.url,
  sample: {
    event: SAMPLE_EVENT,
    previous: { starts: SAMPLE_STARTS, place: SAMPLE_PLACE },
    current: {
      starts: { ...SAMPLE_STARTS, at: '2027-06-19T18:30:00.000Z' },
      place: 'Dom mladih, Skenderija, Sarajevo',
    },
  },
};
