import { Gauge, type Registry } from 'prom-client';

/**
 * The regulator's 72-hour clock on identity's `/metrics` (alerts: k8s/monitoring/prometheus-rules.yaml):
 * personal-data breaches the regulator has not heard of, past their deadline and due within a day.
 * Counts without labels, so a thousand incidents are still two series.
 */
export function createIncidentMetrics() {
  const overdue = new Gauge({
    name: 'bilten_incidents_regulator_overdue',
    help: 'Personal-data breaches past their 72-hour regulator deadline and not notified (GDPR article 33)',
    registers: [],
  });
  const dueSoon = new Gauge({
    name: 'bilten_incidents_regulator_due_soon',
    help: 'Personal-data breaches not yet notified whose 72-hour regulator deadline is less than 24 hours away',
    registers: [],
  });
  return {
    overdue,
    dueSoon,
    /** Puts both on the registry `/metrics` serves (known only when the background work starts). */
    register(registry: Registry) {
      registry.registerMetric(overdue);
      registry.registerMetric(dueSoon);
    },
  };
}

export type IncidentMetrics = ReturnType<typeof createIncidentMetrics>;
