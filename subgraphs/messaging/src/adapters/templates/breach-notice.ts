import type { KindTemplate } from './kind-template.ts';

/**
 * A personal-data breach, told to a person it concerns (GDPR article 34): what happened, which of
 * their data, what Bilten did, what they can do, whom to ask. Plain words, no link to click.
 */
export const breachNotice: KindTemplate<'breachNotice'> = {
  strings: {
    en: {
      subject: 'Important: a security incident concerning your Bilten account',
      heading: 'A security incident concerning your data',
      intro:
        'We are writing to tell you about a security incident at Bilten that concerns your personal data.',
      happened: 'What happened: {{ title }}',
      data: 'Which of your data was concerned: {{ dataCategories }}.',
      measures: 'What we have done:',
      advice:
        'What you can do: change your Bilten password, and the same password wherever else you used it; be wary of emails or calls that ask for your password or payment details, even if they seem to come from us.',
      contact: 'Questions? Contact us at {{ contact }}.',
      shortTitle: 'A security incident concerns your data',
      shortBody: 'We emailed you what happened, what we did and what you can do.',
    },
    bs: {
      subject: 'Važno: sigurnosni incident u vezi s vašim Bilten računom',
      heading: 'Sigurnosni incident u vezi s vašim podacima',
      intro: 'Obavještavamo vas o sigurnosnom incidentu u Biltenu koji se tiče vaših ličnih podataka.',
      happened: 'Šta se desilo: {{ title }}',
      data: 'Koji vaši podaci su pogođeni: {{ dataCategories }}.',
      measures: 'Šta smo poduzeli:',
      advice:
        'Šta možete uraditi: promijenite lozinku za Bilten, i istu lozinku gdje god ste je još koristili; budite oprezni s e-mailovima ili pozivima koji traže vašu lozinku ili podatke o plaćanju, čak i ako izgledaju kao da dolaze od nas.',
      contact: 'Pitanja? Javite nam se na {{ contact }}.',
      shortTitle: 'Sigurnosni incident se tiče vaših podataka',
      shortBody: 'Poslali smo vam e-mailom šta se desilo, šta smo poduzeli i šta možete uraditi.',
    },
  },
  blocks: [
    { text: 'intro' },
    { text: 'happened' },
    { paragraphs: 'description' },
    { text: 'data' },
    { text: 'measures' },
    { paragraphs: 'measuresTaken' },
    { text: 'advice' },
    { text: 'contact' },
  ],
  url: () => null,
  sample: {
    incidentId: '01938a2e-7c00-7000-8000-000000000000',
    title: 'Unauthorized sign-ins to customer accounts',
    description:
      'On 3 December someone signed in to a number of Bilten accounts with passwords stolen from another website.\n\nThey could see the names, email addresses and orders of those accounts.',
    dataCategories: 'names, email addresses, order history',
    measuresTaken:
      'We signed every affected account out everywhere, blocked the addresses the sign-ins came from and added checks against stolen passwords.',
    contact: 'privacy@bilten.example',
  },
};
