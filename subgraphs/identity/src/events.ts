import { type ConsumerFactory, type EventConsumer, keyRingFromEnv, linkTokenSeal } from '@bilten/platform';
import type { IdentityConfig } from './config.ts';
import type { IdentityServices } from './context.ts';
import { accessReportConsumers } from './domain/access-log.ts';
import { accountRequestConsumers } from './domain/accounts.ts';
import { closureConsumers } from './domain/organization-closure.ts';
import { passwordResetConsumer } from './domain/passwords-reset.ts';
import { privacyAnswerConsumers } from './domain/privacy-saga.ts';
import { securityEventConsumers } from './domain/security-monitoring.ts';
import { gatewayUsageConsumer, usageJumpConsumers } from './domain/usage.ts';

/** What identity publishes; the contracts themselves live in packages/contracts. */
export {
  accountErasureRequested,
  addressClaimAttempted,
  apiKeyRevoked,
  auditChainAnchored,
  breachNotificationRequested,
  consentChanged,
  dataExportRequested,
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
  platformAlertRaised,
  registrationForTakenAddress,
  securityAlertRaised,
  sessionsRevoked,
  usageAlertRaised,
  usageJumped,
  userEmailChanged,
  userRegistered,
} from '@bilten/contracts/identity';

/**
 * Every consumer this subgraph runs, one durable subscription each: catalog's answers to closure
 * requests, and identity's own account requests (issue 12: looked up after the answer).
 */
export const consumers: ConsumerFactory<IdentityConfig, IdentityServices> = ({
  outbox,
  log,
  config,
  services,
}) => {
  const { personKeys, guestVault, securityMonitor } = services;
  const accounts = { outbox, log, links: linkTokenSeal(config), personKeys };
  return [
    ...closureConsumers({ outbox, log }),
    ...accountRequestConsumers(accounts),
    passwordResetConsumer(accounts) as EventConsumer,
    ...accessReportConsumers(securityMonitor),
    // Every other service's security events, into the one stream and its detection rules (issue 18).
    ...securityEventConsumers(securityMonitor),
    // The other services' answers to privacy requests (issue 18): export parts and erasures.
    ...privacyAnswerConsumers({ outbox, log, dataKeys: keyRingFromEnv(config), personKeys, guestVault }),
    // The gateway's counts of API-key calls, into the usage rollups (issue 19).
    gatewayUsageConsumer as EventConsumer,
    // Every metering subgraph's usage jumps, as alerts to the platform admins.
    ...usageJumpConsumers({ outbox, personKeys }),
  ];
};
