import type { KindTemplate } from './kind-template.ts';

/**
 * A platform alert (Alertmanager, through identity's platformAlertRaised) fired or resolved, told to
 * a platform admin: which alert, where, how severe, since when, what it says and its runbook. No
 * link: the runbook is often a path in the repository, not a page the app can open.
 */
export const platformAlert: KindTemplate<'platformAlert'> = {
  strings: {
    en: {
      subject:
        '{% if status == "resolved" %}Resolved{% else %}Firing{% endif %}{% if severity %} ({{ severity }}){% endif %}: {{ alertname }}{% if service %} in {{ service }}{% endif %}',
      heading: '{% if status == "resolved" %}Resolved{% else %}Firing{% endif %}: {{ alertname }}',
      intro:
        'The platform alert {{ alertname }} {% if status == "resolved" %}was resolved{% else %}is firing{% endif %}{% if service %} for {{ service }}{% endif %}, severity {{ severity | default: "not set" }}, since {{ startsAt }}.',
      runbook: '{% if runbook %}Runbook: {{ runbook }}{% else %}The alert names no runbook.{% endif %}',
      shortTitle:
        '{% if status == "resolved" %}Resolved{% else %}Firing{% endif %}{% if severity %} ({{ severity }}){% endif %}: {{ alertname }}{% if service %} in {{ service }}{% endif %}',
      shortBody: '{{ summary }}{% if runbook %} Runbook: {{ runbook }}{% endif %}',
    },
    bs: {
      subject:
        '{% if status == "resolved" %}Riješeno{% else %}Aktivno{% endif %}{% if severity %} ({{ severity }}){% endif %}: {{ alertname }}{% if service %} u servisu {{ service }}{% endif %}',
      heading: '{% if status == "resolved" %}Riješeno{% else %}Aktivno{% endif %}: {{ alertname }}',
      intro:
        'Upozorenje platforme {{ alertname }} {% if status == "resolved" %}je riješeno{% else %}je aktivno{% endif %}{% if service %} za servis {{ service }}{% endif %}, ozbiljnost {{ severity | default: "nije navedena" }}, od {{ startsAt }}.',
      runbook: '{% if runbook %}Uputstvo: {{ runbook }}{% else %}Upozorenje ne navodi uputstvo.{% endif %}',
      shortTitle:
        '{% if status == "resolved" %}Riješeno{% else %}Aktivno{% endif %}{% if severity %} ({{ severity }}){% endif %}: {{ alertname }}{% if service %} u servisu {{ service }}{% endif %}',
      shortBody: '{{ summary }}{% if runbook %} Uputstvo: {{ runbook }}{% endif %}',
    },
  },
  blocks: [{ text: 'intro' }, { paragraphs: 'summary' }, { text: 'runbook' }],
  url: () => null,
  sample: {
    alertname: 'BiltenSLOLatencyFastBurn',
    status: 'firing',
    severity: 'critical',
    service: 'gateway',
    summary: 'gateway: slow GraphQL operations burn the latency budget fast',
    runbook: 'k8s/monitoring/README.md#biltenslolatencyfastburn',
    startsAt: '2026-12-03T09:14:00.000Z',
  },
};
