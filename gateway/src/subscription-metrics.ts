import { Counter, Gauge, type Registry } from 'prom-client';

/** Why the gateway closed a websocket: too slow to read, its token expired, or over a size limit. */
export type DisconnectReason = 'slow' | 'expired' | 'limit';

/**
 * The websocket side of the gateway's /metrics. Field labels are the served root fields only
 * (LIVE_FIELDS), so their number is bounded.
 */
export function createSubscriptionMetrics(registry: Registry) {
  const registers = [registry];
  return {
    connections: new Gauge({
      name: 'gateway_websocket_connections',
      help: 'Open graphql-ws connections',
      registers,
    }),
    active: new Gauge({
      name: 'gateway_subscriptions_active',
      help: 'Running subscriptions, by root field',
      labelNames: ['field'],
      registers,
    }),
    messages: new Counter({
      name: 'gateway_subscription_messages_total',
      help: 'Subscription messages sent to clients, by root field',
      labelNames: ['field'],
      registers,
    }),
    reads: new Counter({
      name: 'gateway_subscription_reads_total',
      help: 'Reads through the supergraph for subscriptions (one serves many subscribers of a public field)',
      labelNames: ['field'],
      registers,
    }),
    refused: new Counter({
      name: 'gateway_subscriptions_refused_total',
      help: 'Subscriptions refused, by error code (RATE_LIMITED: over the per-connection limit)',
      labelNames: ['code'],
      registers,
    }),
    disconnects: new Counter({
      name: 'gateway_websocket_disconnects_total',
      help: 'Websockets the gateway closed, by reason: slow, expired (token), limit (message too large)',
      labelNames: ['reason'],
      registers,
    }),
  };
}

export type SubscriptionMetrics = ReturnType<typeof createSubscriptionMetrics>;
