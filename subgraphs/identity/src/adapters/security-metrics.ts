import { Counter, type Registry } from 'prom-client';

/** The monitoring's Prometheus series (alert rules: k8s/monitoring/prometheus-rules.yaml). */
export interface SecurityMetrics {
  /** `source`: the service that saw it (the registry's own `service` label is identity's). */
  events: Counter<'source' | 'type'>;
  alerts: Counter<'rule' | 'severity'>;
  /** Puts both on the registry `/metrics` serves. */
  register(registry: Registry): void;
}

export function createSecurityMetrics(): SecurityMetrics {
  const events = new Counter({
    name: 'security_events_total',
    help: 'Security events recorded, by the service that saw them (source) and type',
    labelNames: ['source', 'type'] as const,
    registers: [],
  });
  const alerts = new Counter({
    name: 'security_alerts_total',
    help: 'Security alerts raised by detection rules, by rule and severity',
    labelNames: ['rule', 'severity'] as const,
    registers: [],
  });
  return {
    events,
    alerts,
    register(registry) {
      registry.registerMetric(events);
      registry.registerMetric(alerts);
    },
  };
}
