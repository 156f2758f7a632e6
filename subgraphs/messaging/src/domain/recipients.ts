import {
  organizationCreated,
  organizationUpdated,
  userEmailChanged,
  userRegistered,
} from '@bilten/contracts/identity';
import { columnAad, type Database, type EventConsumer, type Transaction } from '@bilten/platform';
import { type MessagingKeys, openFor, sealFor } from '../db/person-keys.ts';
import { upsertOrganizationName, upsertRecipient } from '../db/recipients.ts';
import { DISPLAY_NAME_COLUMN, RECIPIENT_EMAIL_COLUMN, type RecipientRow } from '../db/schema.ts';
import { markOrganizationTestMode } from '../db/test-messages.ts';

/** The user's address in the book; null once they were erased here (their key destroyed). */
export const emailOf = (
  db: Database | Transaction,
  keys: MessagingKeys,
  recipient: Pick<RecipientRow, 'userId' | 'emailSealed'>,
) =>
  openFor(
    db,
    keys,
    { userId: recipient.userId },
    recipient.emailSealed,
    columnAad(RECIPIENT_EMAIL_COLUMN, recipient.userId),
  );

/** The name to greet the user by; null when unknown or erased. */
export const displayNameOf = async (
  db: Database | Transaction,
  keys: MessagingKeys,
  recipient: Pick<RecipientRow, 'userId' | 'displayNameSealed'>,
) =>
  recipient.displayNameSealed === null
    ? null
    : openFor(
        db,
        keys,
        { userId: recipient.userId },
        recipient.displayNameSealed,
        columnAad(DISPLAY_NAME_COLUMN, recipient.userId),
      );

/**
 * Records the user's address (and name) sealed under their key, as of `setAt`; nothing for a user
 * erased here, so a late event brings no data back.
 */
async function recordRecipient(
  tx: Transaction,
  keys: MessagingKeys,
  entry: { userId: string; email: string; displayName: string | null; setAt: Date },
): Promise<void> {
  const person = { userId: entry.userId };
  const emailSealed = await sealFor(
    tx,
    keys,
    person,
    entry.email,
    columnAad(RECIPIENT_EMAIL_COLUMN, entry.userId),
  );
  if (emailSealed === null) return;
  const displayNameSealed =
    entry.displayName === null
      ? null
      : await sealFor(tx, keys, person, entry.displayName, columnAad(DISPLAY_NAME_COLUMN, entry.userId));
  await upsertRecipient(tx, {
    userId: entry.userId,
    emailSealed,
    emailSetAt: entry.setAt,
    displayNameSealed,
  });
}

/**
 * The address book follows identity: a registration brings the address and name, a confirmed
 * change the new address. Each event counts as of when identity published it, so a registration
 * redelivered after a change does not bring the old address back.
 */
export function recipientBookConsumers(keys: MessagingKeys): EventConsumer[] {
  const registered: EventConsumer<typeof userRegistered.payload> = {
    name: 'recipient-book-registered',
    event: userRegistered,
    groupCommit: true,
    handle: ({ payload, occurredAt }, tx) =>
      recordRecipient(tx, keys, {
        userId: payload.userId,
        email: payload.email,
        displayName: payload.displayName,
        setAt: new Date(occurredAt),
      }),
  };
  const emailChanged: EventConsumer<typeof userEmailChanged.payload> = {
    name: 'recipient-book-email-changed',
    event: userEmailChanged,
    groupCommit: true,
    handle: ({ payload, occurredAt }, tx) =>
      recordRecipient(tx, keys, {
        userId: payload.userId,
        email: payload.email,
        displayName: null,
        setAt: new Date(occurredAt),
      }),
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
