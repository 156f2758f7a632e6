import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EXPIRES_AT, SAMPLE_ISSUED_AT } from './samples.ts';

export const emailVerification: KindTemplate<'emailVerification'> = {
  strings: {
    en: {
      subject: 'Confirm your email address',
      heading: 'Confirm your email address',
      intro:
        '{% if newAccount %}Welcome to Bilten! Please confirm your email address to finish setting up your account.{% else %}Please confirm that this email address belongs to your Bilten account.{% endif %}',
      validity: 'This link expires in {{ issuedAt | valid_for: expiresAt, locale }}.',
      ignore:
        '{% if newAccount %}If you did not create a Bilten account, you can ignore this email.{% else %}If you did not ask for this, you can ignore this email.{% endif %}',
      action: 'Confirm your email address',
      shortTitle: 'Confirm your email address',
      shortBody: 'Open the link we emailed you to confirm your address.',
    },
    bs: {
      subject: 'Potvrdite svoju e-mail adresu',
      heading: 'Potvrdite svoju e-mail adresu',
      intro:
        '{% if newAccount %}Dobro došli na Bilten! Potvrdite svoju e-mail adresu da biste završili otvaranje računa.{% else %}Potvrdite da ova e-mail adresa pripada vašem Bilten računu.{% endif %}',
      validity: 'Ovaj link ističe za {{ issuedAt | valid_for: expiresAt, locale }}.',
      ignore:
        '{% if newAccount %}Ako niste otvorili Bilten račun, slobodno zanemarite ovaj e-mail.{% else %}Ako ovo niste tražili, slobodno zanemarite ovaj e-mail.{% endif %}',
      action: 'Potvrdite e-mail adresu',
      shortTitle: 'Potvrdite svoju e-mail adresu',
      shortBody: 'Otvorite link koji smo vam poslali e-mailom da potvrdite adresu.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'validity' }, { text: 'ignore' }],
  action: { label: 'action', url: '{{ link }}' },
  // The link carries a single-use token: it belongs in the mailbox only.
  url: () => null,
  sample: {
    link: 'https://bilten.example/verify-email?token=sample',
    expiresAt: SAMPLE_EXPIRES_AT,
    issuedAt: SAMPLE_ISSUED_AT,
    newAccount: true,
  },
};
