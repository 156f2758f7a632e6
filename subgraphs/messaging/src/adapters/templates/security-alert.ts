import type { KindTemplate } from './kind-template.ts';

/**
 * A security detection rule fired (identity's securityAlertRaised), told to a platform admin: which
 * rule, how severe, what it saw, when, and whether an incident was opened. No link: the admin
 * acts from the admin tools, never from a link in a mail.
 */
export const securityAlert: KindTemplate<'securityAlert'> = {
  strings: {
    en: {
      subject: 'Security alert ({{ severity }}): {{ rule }}',
      heading: 'Security alert: {{ rule }}',
      intro: 'The detection rule {{ rule }} fired on Bilten, severity {{ severity }}. What it saw:',
      raised: 'Raised at {{ raisedAt }}.',
      incident:
        '{% if incidentId %}Incident {{ incidentId }} was opened for it.{% else %}No incident was opened.{% endif %}',
      shortTitle: 'Security alert ({{ severity }}): {{ rule }}',
      shortBody: '{{ summary }}',
    },
    bs: {
      subject: 'Sigurnosno upozorenje ({{ severity }}): {{ rule }}',
      heading: 'Sigurnosno upozorenje: {{ rule }}',
      intro:
        'Pravilo detekcije {{ rule }} se aktiviralo na Biltenu, ozbiljnost {{ severity }}. Šta je uočeno:',
      raised: 'Podignuto u {{ raisedAt }}.',
      incident:
        '{% if incidentId %}Za njega je otvoren incident {{ incidentId }}.{% else %}Incident nije otvoren.{% endif %}',
      shortTitle: 'Sigurnosno upozorenje ({{ severity }}): {{ rule }}',
    },
  },
  blocks: [{ text: 'intro' }, { paragraphs: 'summary' }, { text: 'raised' }, { text: 'incident' }],
  url: () => null,
  sample: {
    alertId: '01938a2e-7c00-7000-8000-000000000001',
    rule: 'credential_stuffing',
    severity: 'HIGH',
    summary: '30 failed sign-ins over 10 accounts from 3 addresses within 5 minutes.',
    raisedAt: '2026-12-03T09:14:00.000Z',
    incidentId: '01938a2e-7c00-7000-8000-000000000000',
  },
};
