import { type ConsumerFactory, type EventConsumer, linkTokenSeal } from '@bilten/platform';
import type { IdentityConfig } from './config.ts';
import { accessReportConsumers } from './domain/access-log.ts';
import { accountRequestConsumers } from './domain/accounts.ts';
import { closureConsumers } from './domain/organization-closure.ts';
import { passwordResetConsumer } from './domain/passwords-reset.ts';

/** What identity publishes; the contracts themselves live in packages/contracts. */
export {
  addressClaimAttempted,
  apiKeyRevoked,
  auditChainAnchored,
  emailChangeRequested,
  emailVerificationRequested,
  emailVerificationRequestedForAddress,
  invitationCreated,
  loginLocked,
  organizationClosed,
  organizationClosureRequested,
  organizationCreated,
  organizationUpdated,
  passwordResetRequested,
  passwordResetRequestedForAddress,
  registrationForTakenAddress,
  sessionsRevoked,
  userEmailChanged,
  userRegistered,
} from '@bilten/contracts/identity';

/**
 * Every consumer this subgraph runs, one durable subscription each: catalog's answers to closure
 * requests, and identity's own account requests (issue 12: looked up after the answer).
 */
export const consumers: ConsumerFactory<IdentityConfig> = ({ outbox, log, config }) => {
  const accounts = { outbox, log, links: linkTokenSeal(config) };
  return [
    ...closureConsumers({ outbox, log }),
    ...accountRequestConsumers(accounts),
    passwordResetConsumer(accounts) as EventConsumer,
    ...accessReportConsumers(),
  ];
};
