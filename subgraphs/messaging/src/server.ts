import {
  type Database,
  defineSubgraph,
  type EncryptedColumn,
  keyRingFromEnv,
  type Logger,
  startUsageJumpWatch,
  usageJumpRulesOf,
} from '@bilten/platform';
import type { Registry } from 'prom-client';
import { createAddressHash } from './adapters/address-hash.ts';
import { createDeliveryMetrics } from './adapters/delivery-metrics.ts';
import { registerDeliveryWebhooks } from './adapters/delivery-webhooks.ts';
import { createEmailSender } from './adapters/mailer.ts';
import { createRenderer } from './adapters/renderer.ts';
import { createSmsSender } from './adapters/sms.ts';
import { registerTracking } from './adapters/tracking-routes.ts';
import { createUnsubscribeLinks, registerUnsubscribe } from './adapters/unsubscribe-links.ts';
import { createPushSender, vapidPublicKey } from './adapters/web-push.ts';
import { createWebhookMetrics, createWebhookSender } from './adapters/webhook-sender.ts';
import type { MessagingConfig } from './config.ts';
import { messagingEnv } from './config.ts';
import { createContext } from './context.ts';
import { type MessagingKeys, messagingKeysFromEnv } from './db/person-keys.ts';
import { DELIVERY_COLUMNS, eventStore, usage, WEBHOOK_SECRET_COLUMNS } from './db/schema.ts';
import { startDeliveryWorker } from './domain/delivery-worker.ts';
import { createEmailTracking, trackClick, trackOpen } from './domain/engagement.ts';
import { optOut } from './domain/preferences.ts';
import { startReminderSweep } from './domain/reminders.ts';
import { sealPersonData } from './domain/sealing-migration.ts';
import { startTestMessageSweep } from './domain/test-messages.ts';
import { startWebhookWorker } from './domain/webhook-deliveries.ts';
import * as published from './events.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

/** Signs the one-click opt-out links; for the stack's tests, which follow them through the gateway. */
export { createUnsubscribeLinks };

/**
 * Messaging's columns under the key ring, for `npm run keys:rotate`: template data and webhook
 * secrets. Personal data is sealed per person (db/person-keys.ts): its KEKs rotate by re-wrapping.
 */
export const encryptedColumns: EncryptedColumn[] = [DELIVERY_COLUMNS[1], ...WEBHOOK_SECRET_COLUMNS];

export const messagingSubgraph = defineSubgraph({
  name: 'messaging',
  directory: new URL('../', import.meta.url),
  config: messagingEnv,
  port: (config) => config.MESSAGING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  securityEvents: published.securityEventsRecorded,
  async setup({ config, db, log }) {
    const links = createUnsubscribeLinks({ env: config, gateway: config.PUBLIC_GATEWAY_URL });
    const ring = keyRingFromEnv(config);
    const keys = messagingKeysFromEnv(db, config);
    // Rows from before per-person keys are sealed under them before anything is served or sent.
    const sealed = await sealPersonData(db, { keys, ring });
    if (sealed) log.info({ sealed }, 'personal data sealed under per-person keys');
    return {
      services: {
        ring,
        keys,
        webPushPublicKey: vapidPublicKey(config),
        production: config.NODE_ENV === 'production',
        webhookTargets: webhookTargetsOf(config),
        renderer: rendererOf(config),
      },
      // `/unsubscribe`, which the gateway serves at its own door (gateway/src/unsubscribe.ts).
      routes: (app) => {
        registerUnsubscribe(app, { links, optOut: (target) => optOut(db, target), log });
        // `/t/o/…` and `/t/c/…` (opens, clicks) and `/webhooks/email|sms`, also through the gateway (messaging-routes.ts).
        registerTracking(app, {
          links: createEmailTracking({ env: config, gateway: config.PUBLIC_GATEWAY_URL }),
          trackOpen: (deliveryId) => trackOpen(db, deliveryId),
          trackClick: (deliveryId) => trackClick(db, deliveryId),
          log,
        });
        registerDeliveryWebhooks(app, { db, config, log });
      },
      // Every periodic job runs on the events' connections; stopping stops them all (and waits).
      background: (deps) => {
        const jobs = [
          startReminderSweep(deps, config.REMINDER_SWEEP_MS),
          startDeliveryWorkerFromConfig(config, keys, deps),
          startTestMessageSweep(deps),
          startWebhookWorkerFromConfig(config, deps),
          startUsageJumpWatch(deps, {
            tables: usage,
            event: published.usageJumped,
            rules: usageJumpRulesOf(config),
            intervalMs: config.USAGE_JUMP_CHECK_MS,
          }),
        ];
        return { stop: async () => void (await Promise.all(jobs.map((job) => job.stop()))) };
      },
    };
  },
});

/** Where mails' links and images point: the web app (or the gateway) and the gateway's files and assets. */
export const rendererOf = (config: MessagingConfig) =>
  createRenderer({
    site: config.PUBLIC_WEB_URL ?? config.PUBLIC_GATEWAY_URL,
    gateway: config.PUBLIC_GATEWAY_URL,
  });

/** The worker of a running messaging: every sender and setting from its configuration. */
function startDeliveryWorkerFromConfig(
  config: MessagingConfig,
  keys: MessagingKeys,
  { db, log, registry }: { db: Database; log: Logger; registry: Registry },
): { stop(): Promise<void> } {
  return startDeliveryWorker({
    db,
    log,
    metrics: createDeliveryMetrics(registry),
    ring: keyRingFromEnv(config),
    keys,
    addressHash: createAddressHash(config),
    renderer: rendererOf(config),
    email: createEmailSender(config, log),
    push: createPushSender(config),
    sms: createSmsSender(config, log),
    tracking: createEmailTracking({ env: config, gateway: config.PUBLIC_GATEWAY_URL }),
    unsubscribe: createUnsubscribeLinks({ env: config, gateway: config.PUBLIC_GATEWAY_URL }),
    from: config.MAIL_FROM,
    maxAttempts: config.DELIVERY_MAX_ATTEMPTS,
    retryBaseMs: config.DELIVERY_RETRY_BASE_MS,
    pollMs: config.DELIVERY_POLL_MS,
    perRecipientPerHour: config.MAIL_PER_RECIPIENT_PER_HOUR,
  });
}

const webhookTargetsOf = (config: MessagingConfig) => ({
  allowHttp: config.WEBHOOK_ALLOW_HTTP,
  allowedHosts: config.WEBHOOK_ALLOWED_HOSTS,
});

/** The webhook worker of a running messaging: signs with the endpoints' secrets, posts under the SSRF rule. */
function startWebhookWorkerFromConfig(
  config: MessagingConfig,
  { db, log, registry }: { db: Database; log: Logger; registry: Registry },
): { stop(): Promise<void> } {
  return startWebhookWorker({
    db,
    log,
    ring: keyRingFromEnv(config),
    sender: createWebhookSender({ policy: webhookTargetsOf(config), timeoutMs: config.WEBHOOK_TIMEOUT_MS }),
    retryScale: config.WEBHOOK_RETRY_SCALE,
    pollMs: config.WEBHOOK_POLL_MS,
    leaseMs: config.WEBHOOK_TIMEOUT_MS + 30_000,
    count: createWebhookMetrics(registry),
  });
}
