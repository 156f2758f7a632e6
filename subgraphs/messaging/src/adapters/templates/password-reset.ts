import type { KindTemplate } from './kind-template.ts';
import { SAMPLE_EXPIRES_AT, SAMPLE_ISSUED_AT } from './samples.ts';

export const passwordReset: KindTemplate<'passwordReset'> = {
  strings: {
    en: {
      subject: 'Reset your Bilten password',
      heading: 'Reset your password',
      intro: 'Someone asked to reset the password of your Bilten account.',
      validity: 'This link works once and expires in {{ issuedAt | valid_for: expiresAt, locale }}.',
      ignore: "If it wasn't you, ignore this email: your password stays as it is.",
      action: 'Choose a new password',
      shortTitle: 'Reset your password',
      shortBody: 'We emailed you a link to choose a new password.',
    },
    bs: {
      subject: 'Promijenite lozinku za Bilten',
      heading: 'Promijenite lozinku',
      intro: 'Neko je zatražio promjenu lozinke vašeg Bilten računa.',
      validity: 'Ovaj link radi jednom i ističe za {{ issuedAt | valid_for: expiresAt, locale }}.',
      ignore: 'Ako to niste bili vi, zanemarite ovaj e-mail: vaša lozinka ostaje ista.',
      action: 'Izaberite novu lozinku',
      shortTitle: 'Promijenite lozinku',
      shortBody: 'Poslali smo vam e-mailom link za izbor nove lozinke.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'validity' }, { text: 'ignore' }],
  action: { label: 'action', url: '{{ link }}' },
  url: () => null,
  sample: {
    link: 'https://bilten.example/reset-password?token=sample',
    expiresAt: SAMPLE_EXPIRES_AT,
    issuedAt: SAMPLE_ISSUED_AT,
  },
};
