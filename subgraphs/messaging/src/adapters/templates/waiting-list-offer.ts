import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EVENT, SAMPLE_EXPIRES_AT, SAMPLE_ISSUED_AT } from './samples.ts';

export const waitingListOffer: KindTemplate<'waitingListOffer'> = {
  strings: {
    en: {
      subject: 'Tickets for {{ event.title }} are waiting for you',
      heading: 'Tickets for {{ event.title }} are waiting for you',
      intro:
        'Good news from the waiting list: {% if quantity == 1 %}1 ticket{% else %}{{ quantity }} tickets{% endif %} for {{ event.title }} are set aside for you until {{ expiresAt | utc_time: locale }} ({{ issuedAt | valid_for: expiresAt, locale }}).',
      checkout:
        'Sign in to Bilten and check out reservation {{ reservationId }} before then; after that, the tickets go to the next person in line.',
      ignore: 'If you no longer want them, do nothing, or leave the waiting list.',
      shortTitle: 'Tickets for {{ event.title }} are waiting for you',
      shortBody:
        'Check out within {{ issuedAt | valid_for: expiresAt, locale }}, then they go to the next in line.',
    },
    bs: {
      subject: 'Ulaznice za {{ event.title }} čekaju na vas',
      heading: 'Ulaznice za {{ event.title }} čekaju na vas',
      intro:
        'Dobre vijesti s liste čekanja: ulaznice ({{ quantity }}) za {{ event.title }} čuvamo za vas do {{ expiresAt | utc_time: locale }} ({{ issuedAt | valid_for: expiresAt, locale }}).',
      checkout:
        'Prijavite se na Bilten i završite rezervaciju {{ reservationId }} do tada; nakon toga ulaznice idu sljedećem na listi.',
      ignore: 'Ako ih više ne želite, ne morate ništa raditi, ili napustite listu čekanja.',
      shortTitle: 'Ulaznice za {{ event.title }} čekaju na vas',
      shortBody:
        'Imate {{ issuedAt | valid_for: expiresAt, locale }} da završite kupovinu; nakon toga ulaznice idu sljedećem na listi.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'checkout' }, { text: 'ignore' }],
  url: () => null,
  sample: {
    event: { id: SAMPLE_EVENT.id, title: SAMPLE_EVENT.title },
    quantity: 2,
    reservationId: '01890000-0000-7000-8000-000000000041',
    expiresAt: SAMPLE_EXPIRES_AT,
    issuedAt: SAMPLE_ISSUED_AT,
  },
};
