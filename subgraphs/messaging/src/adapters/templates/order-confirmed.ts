import type { KindTemplate } from './kind-template.ts';
import { orderPath, SAMPLE_EVENT, SAMPLE_ORDER_ID } from './samples.ts';

export const orderConfirmed: KindTemplate<'orderConfirmed'> = {
  strings: {
    en: {
      subject: 'Your tickets for {{ event.title }}',
      heading: 'Your tickets for {{ event.title }}',
      intro:
        'Thank you for your order: {% if tickets.size == 1 %}1 ticket{% else %}{{ tickets.size }} tickets{% endif %} for {{ event.title }}, {{ total | money: locale }} paid. The tickets are attached to this email as PDFs.',
      ticket: 'Ticket {{ forloop.index }}',
      keep: 'Each ticket has its QR code, to show at the entrance. Anyone with a link can open its ticket: keep them to yourself.',
      shortTitle: 'Your tickets for {{ event.title }}',
      shortBody:
        '{% if tickets.size == 1 %}1 ticket{% else %}{{ tickets.size }} tickets{% endif %}, {{ total | money: locale }} paid.',
    },
    bs: {
      subject: 'Vaše ulaznice za {{ event.title }}',
      heading: 'Vaše ulaznice za {{ event.title }}',
      intro:
        'Hvala na narudžbi za {{ event.title }}: broj ulaznica {{ tickets.size }}, plaćeno {{ total | money: locale }}. Ulaznice su priložene ovom e-mailu kao PDF.',
      ticket: 'Ulaznica {{ forloop.index }}',
      keep: 'Svaka ulaznica ima svoj QR kod koji pokazujete na ulazu. Svako ko ima link može otvoriti ulaznicu: čuvajte ih za sebe.',
      shortTitle: 'Vaše ulaznice za {{ event.title }}',
      shortBody: 'Broj ulaznica: {{ tickets.size }}, plaćeno {{ total | money: locale }}.',
    },
  },
  blocks: [
    { text: 'intro' },
    { links: { items: 'tickets', label: 'ticket', url: '{{ item.url }}' } },
    { text: 'keep' },
  ],
  url: (data) => orderPath(data.orderId),
  attachments: (data) =>
    data.tickets.map((ticket, index) => ({ filename: `ticket-${index + 1}.pdf`, url: ticket.url })),
  sample: {
    orderId: SAMPLE_ORDER_ID,
    event: { id: SAMPLE_EVENT.id, title: SAMPLE_EVENT.title },
    total: { amount: 5000, currency: 'BAM' },
    tickets: [
      {
        ticketId: '01890000-0000-7000-8000-000000000011',
        url: 'https://bilten.example/tickets/1.pdf?token=a',
      },
      {
        ticketId: '01890000-0000-7000-8000-000000000012',
        url: 'https://bilten.example/tickets/2.pdf?token=b',
      },
    ],
  },
};
