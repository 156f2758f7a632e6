import { type ConsumerFactory, linkTokenSeal } from '@bilten/platform';
import { createMailer } from './adapters/mailer.ts';
import { linkBaseOf, type MessagingConfig } from './config.ts';
import { transactionalMailConsumers } from './domain/transactional-mail.ts';

// Messaging publishes nothing yet. It consumes identity's account events (their contracts live in
// packages/contracts) to send the transactional mails.

/** Every consumer this subgraph runs, one durable subscription each. */
export const consumers: ConsumerFactory<MessagingConfig> = ({ log, config }) =>
  transactionalMailConsumers({
    mailer: createMailer({
      smtpUrl: config.SMTP_URL,
      from: config.MAIL_FROM,
      log,
      production: config.NODE_ENV === 'production',
    }),
    from: config.MAIL_FROM,
    web: linkBaseOf(config),
    links: linkTokenSeal(config),
    perRecipientPerHour: config.MAIL_PER_RECIPIENT_PER_HOUR,
    log,
  });
