/** What identity publishes; the contracts themselves live in packages/contracts. It consumes nothing yet. */
export {
  emailVerificationRequested,
  invitationCreated,
  loginLocked,
  organizationCreated,
  passwordResetRequested,
  userRegistered,
} from '@bilten/contracts/identity';
