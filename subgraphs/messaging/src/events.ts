import { personalDataErased, personalDataExported } from '@bilten/contracts/messaging';
import {
  type ConsumerFactory,
  type EventConsumer,
  linkTokenSeal,
  privacyRequestConsumers,
} from '@bilten/platform';
import { createAddressHash } from './adapters/address-hash.ts';
import { createRenderer } from './adapters/renderer.ts';
import { linkBaseOf, type MessagingConfig } from './config.ts';
import type { MessagingServices } from './context.ts';
import { brandKitConsumer } from './domain/brand-kits.ts';
import { breachNoticeConsumer } from './domain/breach-notices.ts';
import { consentCopyConsumer } from './domain/consents.ts';
import { eventScheduleConsumers } from './domain/event-schedules.ts';
import { eventWorkflowConsumers } from './domain/event-workflows.ts';
import { organizationClosedConsumer } from './domain/followers.ts';
import { orderBookConsumers } from './domain/order-book.ts';
import { messagingPersonalDataSteps } from './domain/personal-data.ts';
import { platformAlertConsumer } from './domain/platform-alerts.ts';
import { organizationNameConsumers, recipientBookConsumers } from './domain/recipients.ts';
import { securityAlertConsumer } from './domain/security-alerts.ts';
import { usageAlertConsumer } from './domain/usage.ts';
import { webhookConsumers } from './domain/webhook-events.ts';
import { type WorkflowDeps, workflowConsumers } from './domain/workflows.ts';

/**
 * What messaging publishes, for the gateway's subscriptions: an in-app notification was stored, and
 * notifications were read.
 */
/** Someone read another person's notifications (an admin): identity's access log keeps it (issue 18). */
/** FORBIDDEN and RATE_LIMITED answers, reported by the kit (security-events.ts, issue 18). */
export {
  notificationCreated,
  notificationsRead,
  personalDataAccessed,
  personalDataErased,
  personalDataExported,
  securityEventsRecorded,
  usageJumped,
} from '@bilten/contracts/messaging';

// It consumes identity's account events, orders' and billing's events and catalog's published
// events to run the workflows (domain/workflows.ts: notices stored in-app and queued for the other
// channels), orders' events for its order book, identity's users and organizations for its address
// book and organizer names (a closure also ends the organization's follows). Orders', catalog's and
// check-ins' events also become the organizations' outbound webhooks (domain/webhook-events.ts).
// Identity's consents are copied for the marketing checks (domain/consents.ts).
// Identity's breach notices go to the affected users by email and in-app (domain/breach-notices.ts).

/** Every consumer this subgraph runs, one durable subscription each. */
export const consumers: ConsumerFactory<MessagingConfig, MessagingServices> = ({
  log,
  config,
  outbox,
  services,
}) => {
  const { ring, keys } = services;
  const site = config.PUBLIC_WEB_URL ?? config.PUBLIC_GATEWAY_URL;
  // What every workflow (domain/workflows.ts) runs with: notify()'s engine and where links go.
  const workflowDeps: WorkflowDeps = {
    outbox,
    ring,
    keys,
    // In-app notices link to the platform (the person is in Bilten's app): no brand is given.
    renderer: createRenderer({ site, gateway: config.PUBLIC_GATEWAY_URL }),
    push: { enabled: Boolean(config.VAPID_PUBLIC_KEY && config.VAPID_PRIVATE_KEY) },
    addressHash: createAddressHash(config),
    log,
    links: linkTokenSeal(config),
    accountLinks: linkBaseOf(config),
    gateway: config.PUBLIC_GATEWAY_URL,
    site,
  };
  return [
    ...workflowConsumers(workflowDeps),
    ...orderBookConsumers(keys),
    ...recipientBookConsumers(keys),
    ...organizationNameConsumers(),
    organizationClosedConsumer(),
    brandKitConsumer(),
    ...eventScheduleConsumers(),
    ...eventWorkflowConsumers(workflowDeps),
    ...webhookConsumers(),
    breachNoticeConsumer(workflowDeps),
    // Identity's security alerts go to the platform admins in-app and by email (domain/security-alerts.ts).
    securityAlertConsumer(workflowDeps),
    // Usage jumps go to the platform admins in-app (domain/usage.ts, issue 19).
    usageAlertConsumer(workflowDeps),
    // Alertmanager's alerts, named admins by identity, in-app (domain/platform-alerts.ts, issue 19).
    platformAlertConsumer(workflowDeps),
    consentCopyConsumer(keys),
    // Its step of a user's export and erasure (issue 18): domain/personal-data.ts.
    ...privacyRequestConsumers({
      service: 'messaging',
      outbox,
      exported: personalDataExported,
      erased: personalDataErased,
      steps: messagingPersonalDataSteps(workflowDeps),
    }),
  ] as EventConsumer[];
};
