import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_ISSUED_AT } from './samples.ts';

export const invitation: KindTemplate<'invitation'> = {
  strings: {
    en: {
      subject: 'Join {{ organizationName }} on Bilten',
      heading: 'Join {{ organizationName }}',
      intro:
        "{{ inviterName }} invited you to join {{ organizationName }} on Bilten as {% case role %}{% when 'OWNER' %}an owner{% when 'ADMIN' %}an administrator{% else %}a staff member{% endcase %}.",
      validity:
        'This link works once and expires in {{ issuedAt | valid_for: expiresAt, locale }}. Sign in (or create an account) with the address this email was sent to, to accept.',
      ignore: 'If you did not expect this invitation, you can ignore this email.',
      action: 'Accept the invitation',
      shortTitle: 'Join {{ organizationName }}',
      shortBody: '{{ inviterName }} invited you to join {{ organizationName }} on Bilten.',
    },
    bs: {
      subject: 'Pridružite se organizaciji {{ organizationName }} na Biltenu',
      heading: 'Pridružite se organizaciji {{ organizationName }}',
      intro:
        "{{ inviterName }} vas poziva da se pridružite organizaciji {{ organizationName }} na Biltenu kao {% case role %}{% when 'OWNER' %}vlasnik{% when 'ADMIN' %}administrator{% else %}član osoblja{% endcase %}.",
      validity:
        'Ovaj link radi jednom i ističe za {{ issuedAt | valid_for: expiresAt, locale }}. Prijavite se (ili otvorite račun) s adresom na koju je stigao ovaj e-mail da biste prihvatili poziv.',
      ignore: 'Ako niste očekivali ovaj poziv, slobodno zanemarite ovaj e-mail.',
      action: 'Prihvatite poziv',
      shortTitle: 'Pridružite se organizaciji {{ organizationName }}',
      shortBody: '{{ inviterName }} vas poziva u organizaciju {{ organizationName }} na Biltenu.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'validity' }, { text: 'ignore' }],
  action: { label: 'action', url: '{{ link }}' },
  url: () => null,
  sample: {
    link: 'https://bilten.example/accept-invitation?token=sample',
    organizationName: 'Kino Meeting Point',
    inviterName: 'Amra Hodžić',
    role: 'ADMIN',
    expiresAt: '2027-06-08T10:00:00.000Z',
    issuedAt: SAMPLE_ISSUED_AT,
  },
};
