import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EVENT } from './samples.ts';

export const receipt: KindTemplate<'receipt'> = {
  strings: {
    en: {
      subject:
        "Your {% if kind == 'CREDIT_NOTE' %}credit note{% else %}receipt{% endif %} {{ number }} from {{ sellerName }}",
      heading: "Your {% if kind == 'CREDIT_NOTE' %}credit note{% else %}receipt{% endif %} {{ number }}",
      intro:
        "{% if kind == 'CREDIT_NOTE' %}{{ sellerName }} refunded {{ total | money: locale }} of your order for {{ event.title }}. Your credit note {{ number }} is ready.{% else %}Thank you for your payment of {{ total | money: locale }} to {{ sellerName }} for {{ event.title }}. Your receipt {{ number }} is ready.{% endif %}",
      keep: "Anyone with this link can open the {% if kind == 'CREDIT_NOTE' %}credit note{% else %}receipt{% endif %}: keep it to yourself.",
      action: "Open your {% if kind == 'CREDIT_NOTE' %}credit note{% else %}receipt{% endif %} (PDF)",
      shortTitle:
        "{% if kind == 'CREDIT_NOTE' %}Credit note{% else %}Receipt{% endif %} {{ number }} from {{ sellerName }}",
      shortBody: '{{ total | money: locale }} for {{ event.title }}.',
    },
    bs: {
      subject:
        "Vaš{% if kind == 'CREDIT_NOTE' %} knjižno odobrenje{% else %} račun{% endif %} {{ number }} od {{ sellerName }}",
      heading: "Vaš{% if kind == 'CREDIT_NOTE' %} knjižno odobrenje{% else %} račun{% endif %} {{ number }}",
      intro:
        "{% if kind == 'CREDIT_NOTE' %}{{ sellerName }} vam je vratio {{ total | money: locale }} za narudžbu za {{ event.title }}. Vaše knjižno odobrenje {{ number }} je spremno.{% else %}Hvala na uplati od {{ total | money: locale }} za {{ event.title }} ({{ sellerName }}). Vaš račun {{ number }} je spreman.{% endif %}",
      keep: "Svako ko ima ovaj link može otvoriti {% if kind == 'CREDIT_NOTE' %}knjižno odobrenje{% else %}račun{% endif %}: čuvajte ga za sebe.",
      action: "Otvorite {% if kind == 'CREDIT_NOTE' %}knjižno odobrenje{% else %}račun{% endif %} (PDF)",
      shortTitle:
        "{% if kind == 'CREDIT_NOTE' %}Knjižno odobrenje{% else %}Račun{% endif %} {{ number }} od {{ sellerName }}",
      shortBody: '{{ total | money: locale }} za {{ event.title }}.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'keep' }],
  action: { label: 'action', url: '{{ url }}' },
  url: (data) => data.url,
  sample: {
    receiptId: '01890000-0000-7000-8000-000000000021',
    kind: 'RECEIPT',
    number: 'R-2027-000042',
    sellerName: 'Kino Meeting Point d.o.o.',
    event: { title: SAMPLE_EVENT.title },
    total: { amount: 5000, currency: 'BAM' },
    url: 'https://bilten.example/receipts/42.pdf?token=sample',
  },
};
