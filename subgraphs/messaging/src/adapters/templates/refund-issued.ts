import type { KindTemplate } from './kind-template.ts';
import { orderPath, SAMPLE_EVENT, SAMPLE_ORDER_ID } from './samples.ts';

export const refundIssued: KindTemplate<'refundIssued'> = {
  strings: {
    en: {
      subject: 'Your refund of {{ amount | money: locale }} for {{ event.title }}',
      heading: 'Your refund is on its way',
      intro: 'We refunded {{ amount | money: locale }} of your order for {{ event.title }}.',
      method:
        'The money goes back to the original payment method; depending on your bank, it can take a few days to show.',
      shortTitle: 'Refund of {{ amount | money: locale }}',
      shortBody: 'For {{ event.title }}, back to your original payment method.',
    },
    bs: {
      subject: 'Povrat {{ amount | money: locale }} za {{ event.title }}',
      heading: 'Vaš povrat novca je na putu',
      intro: 'Vratili smo vam {{ amount | money: locale }} za narudžbu za {{ event.title }}.',
      method:
        'Novac se vraća na način plaćanja koji ste koristili; zavisno od banke, može proći nekoliko dana dok ga ne vidite.',
      shortTitle: 'Povrat {{ amount | money: locale }}',
      shortBody: 'Za {{ event.title }}, na način plaćanja koji ste koristili.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'method' }],
  url: (data) => orderPath(data.orderId),
  sample: {
    orderId: SAMPLE_ORDER_ID,
    event: { id: SAMPLE_EVENT.id, title: SAMPLE_EVENT.title },
    amount: { amount: 2500, currency: 'BAM' },
  },
};
