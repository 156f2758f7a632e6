import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EVENT } from './samples.ts';

export const eventCancelled: KindTemplate<'eventCancelled'> = {
  strings: {
    en: {
      subject: '{{ event.title }} is cancelled',
      heading: '{{ event.title }} is cancelled',
      intro:
        'We are sorry: {{ event.title }} will not take place.{% if reason != blank %} The organizer says: {{ reason }}{% endif %}',
      money:
        '{% if refund %}You get {{ refund | money: locale }} back in full, to the payment method you paid with. You do not need to do anything.{% else %}Your tickets were free, so there is nothing for you to do.{% endif %}',
      shortTitle: '{{ event.title }} is cancelled',
      shortBody:
        '{% if refund %}{{ refund | money: locale }} is refunded in full to how you paid.{% else %}Nothing for you to do.{% endif %}',
    },
    bs: {
      subject: '{{ event.title }} je otkazan',
      heading: '{{ event.title }} je otkazan',
      intro:
        'Žao nam je: {{ event.title }} se neće održati.{% if reason != blank %} Organizator kaže: {{ reason }}{% endif %}',
      money:
        '{% if refund %}Dobijate nazad {{ refund | money: locale }} u cijelosti, na način plaćanja koji ste koristili. Ne morate ništa raditi.{% else %}Vaše ulaznice su bile besplatne, pa ne morate ništa raditi.{% endif %}',
      shortTitle: '{{ event.title }} je otkazan',
      shortBody:
        '{% if refund %}{{ refund | money: locale }} vam se vraća u cijelosti.{% else %}Ne morate ništa raditi.{% endif %}',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'money' }],
  url: () => null,
  sample: {
    event: { id: SAMPLE_EVENT.id, title: SAMPLE_EVENT.title },
    reason: 'the main act fell ill.',
    refund: { amount: 5000, currency: 'BAM' },
  },
};
