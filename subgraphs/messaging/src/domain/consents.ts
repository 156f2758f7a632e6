import { consentChanged } from '@bilten/contracts/identity';
import type { EventConsumer } from '@bilten/platform';
import { saveConsentCopy } from '../db/consents.ts';
import type { MessagingKeys } from '../db/person-keys.ts';

/**
 * Messaging's copy of identity's consents for Bilten's own purposes (MARKETING_EMAIL,
 * MARKETING_PUSH, ANALYTICS; issue 18): every marketing delivery asks it (delivery-rules.ts). Not
 * `ordered`: identity numbers all of a user's events in one sequence, most of which this consumer
 * never sees; the `changedAt` guard keeps an older answer from winning instead. Sharing with
 * organizers is orders' business and is not kept here. A change arriving after the user was erased
 * here (their key destroyed) stores nothing: erasure deleted the copy for good.
 */
export const consentCopyConsumer = (keys: MessagingKeys): EventConsumer<typeof consentChanged.payload> => ({
  name: 'consent-copy',
  event: consentChanged,
  async handle({ payload }, tx) {
    if (payload.organizationId !== null) return;
    if (await keys.users.vault.isShredded(tx, payload.userId)) return;
    await saveConsentCopy(tx, {
      userId: payload.userId,
      purpose: payload.purpose,
      granted: payload.granted,
      textVersion: payload.textVersion,
      changedAt: new Date(payload.changedAt),
    });
  },
});
