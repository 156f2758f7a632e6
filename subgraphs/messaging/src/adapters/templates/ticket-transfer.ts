import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EVENT } from './samples.ts';

export const ticketTransfer: KindTemplate<'ticketTransfer'> = {
  strings: {
    en: {
      subject: 'A ticket for {{ event.title }} is yours',
      heading: 'A ticket for {{ event.title }} is yours',
      intro:
        '{{ fromEmail }} gave you their ticket for {{ event.title }}. It has a new code, issued to you; the old one no longer gets in.',
      keep: 'Show its QR code at the entrance. Anyone with this link can open the ticket: keep it to yourself.',
      ignore: 'If you did not expect this, you can ignore this email.',
      action: 'Open your ticket',
      shortTitle: 'A ticket for {{ event.title }} is yours',
      shortBody: '{{ fromEmail }} gave you their ticket.',
    },
    bs: {
      subject: 'Ulaznica za {{ event.title }} je vaša',
      heading: 'Ulaznica za {{ event.title }} je vaša',
      intro:
        '{{ fromEmail }} vam je ustupio svoju ulaznicu za {{ event.title }}. Ona ima novi kod, izdan na vas; stari više ne važi na ulazu.',
      keep: 'Pokažite njen QR kod na ulazu. Svako ko ima ovaj link može otvoriti ulaznicu: čuvajte ga za sebe.',
      ignore: 'Ako ovo niste očekivali, slobodno zanemarite ovaj e-mail.',
      action: 'Otvorite ulaznicu',
      shortTitle: 'Ulaznica za {{ event.title }} je vaša',
      shortBody: '{{ fromEmail }} vam je ustupio svoju ulaznicu.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'keep' }, { text: 'ignore' }],
  action: { label: 'action', url: '{{ url }}' },
  url: (data) => data.url,
  sample: {
    fromEmail: 'amra@example.com',
    event: { id: SAMPLE_EVENT.id, title: SAMPLE_EVENT.title },
    ticketId: '01890000-0000-7000-8000-000000000031',
    url: 'https://bilten.example/tickets/31.pdf?token=sample',
  },
};
