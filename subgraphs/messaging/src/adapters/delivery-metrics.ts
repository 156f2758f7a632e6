import { Counter, Histogram, type Registry } from 'prom-client';

/** How a delivery attempt ended, as the worker counts it. */
export type DeliveryOutcome =
  | 'sent'
  | 'retried'
  | 'failed'
  | 'bounced'
  | 'suppressed'
  | 'rate_limited'
  /** A test-mode organization's: kept in test_messages, not sent. */
  | 'captured';

export interface DeliveryMetrics {
  /** One attempt's outcome; a `sent` one also observes how long the delivery waited since it was queued. */
  record(channel: string, outcome: DeliveryOutcome, queuedAt: Date): void;
}

/**
 * `messaging_deliveries_total{channel,outcome}` and `messaging_delivery_seconds{channel}` (queued
 * to accepted by the transport) on messaging's `/metrics`: a failing provider shows as retries,
 * a slow queue as the latency's tail.
 */
export function createDeliveryMetrics(registry: Registry): DeliveryMetrics {
  const outcomes = new Counter({
    name: 'messaging_deliveries_total',
    help: 'Delivery attempts by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'messaging_delivery_seconds',
    help: 'Seconds from a delivery being queued to its transport accepting it',
    labelNames: ['channel'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [registry],
  });
  return {
    record(channel, outcome, queuedAt) {
      outcomes.inc({ channel, outcome });
      if (outcome === 'sent') latency.observe({ channel }, (Date.now() - queuedAt.getTime()) / 1000);
    },
  };
}
