import { type ConsumerFactory, type EventConsumer, keyRingFromEnv, linkTokenSeal } from '@bilten/platform';
import { createMailer } from './adapters/mailer.ts';
import { createUnsubscribeLinks } from './adapters/unsubscribe-links.ts';
import { linkBaseOf, type MessagingConfig } from './config.ts';
import { eventPublishedFollowerMailConsumer } from './domain/follower-mail.ts';
import { eventPublishedFollowersConsumer, organizationClosedConsumer } from './domain/followers.ts';
import { organizationNameConsumers, recipientBookConsumers } from './domain/recipients.ts';
import {
  billingMailConsumers,
  orderMailConsumers,
  transactionalMailConsumers,
} from './domain/transactional-mail.ts';

/**
 * What messaging publishes, for the gateway's subscriptions: an in-app notification was stored, and
 * notifications were read.
 */
export { notificationCreated, notificationsRead } from '@bilten/contracts/messaging';

// It consumes identity's account events, orders' ticket and waiting-list events and billing's
// receipts to send the transactional mails, identity's users and organizations for its address
// book and organizer names (a closure also ends the organization's follows), and catalog's
// published events to notify followers (in-app, email).

/** Every consumer this subgraph runs, one durable subscription each. */
export const consumers: ConsumerFactory<MessagingConfig> = ({ log, config, outbox }) => {
  const mailer = createMailer({
    smtpUrl: config.SMTP_URL,
    from: config.MAIL_FROM,
    log,
    production: config.NODE_ENV === 'production',
  });
  const ring = keyRingFromEnv(config);
  const shared = {
    mailer,
    from: config.MAIL_FROM,
    links: linkTokenSeal(config),
    perRecipientPerHour: config.MAIL_PER_RECIPIENT_PER_HOUR,
    log,
  };
  return [
    ...transactionalMailConsumers({ ...shared, web: linkBaseOf(config) }),
    ...orderMailConsumers({ ...shared, gateway: config.PUBLIC_GATEWAY_URL }),
    ...billingMailConsumers({ ...shared, gateway: config.PUBLIC_GATEWAY_URL }),
    eventPublishedFollowersConsumer(outbox),
    ...recipientBookConsumers(ring),
    ...organizationNameConsumers(),
    organizationClosedConsumer(),
    eventPublishedFollowerMailConsumer({
      ...shared,
      ring,
      unsubscribe: createUnsubscribeLinks({ env: config, gateway: config.PUBLIC_GATEWAY_URL }),
      web: config.PUBLIC_WEB_URL ?? config.PUBLIC_GATEWAY_URL,
    }),
  ] as EventConsumer[];
};
