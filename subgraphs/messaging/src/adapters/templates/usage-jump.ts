import type { KindTemplate } from './kind-template.ts';

/**
 * An organization's usage jumped (identity's usageAlertRaised), told to a platform admin: which
 * organization, which metric, in which hour, and how far above its trailing mean.
 */
export const usageJump: KindTemplate<'usageJump'> = {
  strings: {
    en: {
      subject: 'Usage jump: {{ metric }} of organization {{ organizationId }}',
      heading: 'Usage jump: {{ metric }}',
      intro:
        'Organization {{ organizationId }} used {{ quantity }} {{ metric }} in the hour from {{ hour }}, against a trailing hourly mean of {{ trailingHourlyMean }}.',
      shortTitle: 'Usage jump: {{ metric }}',
      shortBody:
        '{{ quantity }} {{ metric }} in the hour from {{ hour }} (mean {{ trailingHourlyMean }}), organization {{ organizationId }}.',
    },
    bs: {
      subject: 'Skok potrošnje: {{ metric }} organizacije {{ organizationId }}',
      heading: 'Skok potrošnje: {{ metric }}',
      intro:
        'Organizacija {{ organizationId }} je potrošila {{ quantity }} {{ metric }} u satu od {{ hour }}, uz prosjek od {{ trailingHourlyMean }} po satu.',
      shortTitle: 'Skok potrošnje: {{ metric }}',
    },
  },
  blocks: [{ text: 'intro' }],
  url: () => null,
  sample: {
    organizationId: '01938a2e-7c00-7000-8000-000000000002',
    metric: 'api_calls',
    hour: '2026-12-03T09:00:00.000Z',
    quantity: '12000',
    trailingHourlyMean: '850',
  },
};
