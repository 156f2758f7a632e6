import {
  organizationCreated,
  organizationUpdated,
  userEmailChanged,
  userRegistered,
} from '@bilten/contracts/identity';
import { columnAad, type EventConsumer, type KeyRing, type Transaction } from '@bilten/platform';
import { upsertOrganizationName, upsertRecipient } from '../db/recipients.ts';
import { RECIPIENT_EMAIL_COLUMN, type RecipientRow } from '../db/schema.ts';
import { markOrganizationTestMode } from '../db/test-messages.ts';

/** A user's address as stored: encrypted, bound to that user's row. */
const sealEmail = (ring: KeyRing, userId: string, email: string) =>
  ring.encrypt(email, columnAad(RECIPIENT_EMAIL_COLUMN, userId));

export const emailOf = (ring: KeyRing, recipient: Pick<RecipientRow, 'userId' | 'emailSealed'>) =>
  ring.decrypt(recipient.emailSealed, columnAad(RECIPIENT_EMAIL_COLUMN, recipient.userId));

/**
 * The address book follows identity: a registration brings the address and name, a confirmed
 * change the new address. Each event counts as of when identity published it, so a registration
 * redelivered after a change does not bring the old address back.
 */
export function recipientBookConsumers(ring: KeyRing): EventConsumer[] {
  const registered: EventConsumer<typeof userRegistered.payload> = {
    name: 'recipient-book-registered',
    event: userRegistered,
    groupCommit: true,
    async handle({ payload, occurredAt }, tx) {
      await upsertRecipient(tx, {
        userId: payload.userId,
        emailSealed: sealEmail(ring, payload.userId, payload.email),
        emailSetAt: new Date(occurredAt),
        displayName: payload.displayName,
      });
    },
  };
  const emailChanged: EventConsumer<typeof userEmailChanged.payload> = {
    name: 'recipient-book-email-changed',
    event: userEmailChanged,
    groupCommit: true,
    async handle({ payload, occurredAt }, tx) {
      await upsertRecipient(tx, {
        userId: payload.userId,
        emailSealed: sealEmail(ring, payload.userId, payload.email),
        emailSetAt: new Date(occurredAt),
        displayName: null,
      });
    },
  };
  return [registered, emailChanged] as EventConsumer[];
}

/**
 * Organizations' names, to say whom a follower mail is from, and whether each is test-mode (its
 * messages are captured, test-messages.ts), which only the creation says.
 */
export function organizationNameConsumers(): EventConsumer[] {
  const handle = async (
    { payload, occurredAt }: { payload: { organizationId: string; name: string }; occurredAt: string },
    tx: Transaction,
  ) =>
    upsertOrganizationName(tx, {
      organizationId: payload.organizationId,
      name: payload.name,
      namedAt: new Date(occurredAt),
    });
  const created: EventConsumer<typeof organizationCreated.payload> = {
    name: 'organization-names-created',
    event: organizationCreated,
    groupCommit: true,
    handle,
  };
  // A consumer of its own, so a new durable subscription reads identity's stream from its start and
  // marks the test-mode organizations announced before messaging kept test mode.
  const testMode: EventConsumer<typeof organizationCreated.payload> = {
    name: 'organization-test-mode',
    event: organizationCreated,
    groupCommit: true,
    async handle({ payload }, tx) {
      if (payload.testMode) await markOrganizationTestMode(tx, payload.organizationId);
    },
  };
  const updated: EventConsumer<typeof organizationUpdated.payload> = {
    name: 'organization-names-updated',
    event: organizationUpdated,
    groupCommit: true,
    handle,
  };
  return [created, testMode, updated] as EventConsumer[];
}
