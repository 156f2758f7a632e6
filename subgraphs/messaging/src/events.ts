import { type ConsumerFactory, linkTokenSeal } from '@bilten/platform';
import { createMailer } from './adapters/mailer.ts';
import { linkBaseOf, type MessagingConfig } from './config.ts';
import {
  billingMailConsumers,
  orderMailConsumers,
  transactionalMailConsumers,
} from './domain/transactional-mail.ts';

// Messaging publishes nothing yet. It consumes identity's account events, orders' ticket and
// waiting-list events and billing's receipts (their contracts live in packages/contracts) to send
// the transactional mails.

/** Every consumer this subgraph runs, one durable subscription each. */
export const consumers: ConsumerFactory<MessagingConfig> = ({ log, config }) => {
  const mailer = createMailer({
    smtpUrl: config.SMTP_URL,
    from: config.MAIL_FROM,
    log,
    production: config.NODE_ENV === 'production',
  });
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
  ];
};
