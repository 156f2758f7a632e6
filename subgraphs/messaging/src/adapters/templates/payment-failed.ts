import type { KindTemplate } from './kind-template.ts';
import { orderPath, SAMPLE_EVENT, SAMPLE_ORDER_ID } from './samples.ts';

export const paymentFailed: KindTemplate<'paymentFailed'> = {
  strings: {
    en: {
      subject: 'Your payment for {{ event.title }} did not go through',
      heading: 'Your payment did not go through',
      intro: 'We could not take the payment for your order for {{ event.title }}: {{ reason }}.',
      payable:
        'Your order stays open until it expires: sign in to Bilten to pay it again, with the same card or another way. No tickets are issued until it is paid.',
      shortTitle: 'Payment failed: {{ event.title }}',
      shortBody: '{{ reason }}. Your order can still be paid until it expires.',
    },
    bs: {
      subject: 'Plaćanje za {{ event.title }} nije uspjelo',
      heading: 'Plaćanje nije uspjelo',
      intro: 'Nismo mogli naplatiti vašu narudžbu za {{ event.title }}: {{ reason }}.',
      payable:
        'Narudžba ostaje otvorena dok ne istekne: prijavite se na Bilten i platite je ponovo, istom karticom ili na drugi način. Ulaznice se izdaju tek kada je narudžba plaćena.',
      shortTitle: 'Plaćanje nije uspjelo: {{ event.title }}',
      shortBody: '{{ reason }}. Narudžbu još možete platiti dok ne istekne.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'payable' }],
  url: (data) => orderPath(data.orderId),
  sample: {
    orderId: SAMPLE_ORDER_ID,
    event: { id: SAMPLE_EVENT.id, title: SAMPLE_EVENT.title },
    reason: 'the card was declined',
  },
};
