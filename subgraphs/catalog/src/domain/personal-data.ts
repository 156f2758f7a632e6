import { type PersonalDataSteps, purgeSentEventsAbout } from '@bilten/platform';
import { anonymizeActor, personalRecordsOf } from '../db/personal-data.ts';
import { eventStore } from '../db/schema.ts';

/**
 * Catalog's step of a user's export and erasure (issue 18, articles 15 and 17). Catalog keeps no
 * name, email or phone; a user appears only as the actor of audit entries and event versions.
 * Erasure keeps both (the organization's record of how its events changed) with the actor, its
 * address and browser removed (nullable columns: null, no marker needed).
 */
export const catalogPersonalData: PersonalDataSteps = {
  async collect(tx, userId) {
    const { audit, versions } = await personalRecordsOf(tx, userId);
    return {
      auditEntries: audit.map((entry) => ({ ...entry, occurredAt: entry.occurredAt.toISOString() })),
      eventVersions: versions.map((version) => ({ ...version, createdAt: version.createdAt.toISOString() })),
    };
  },
  async erase(tx, subject) {
    const { userId } = subject;
    const { audit, versions } = await anonymizeActor(tx, userId);
    const { purged } = await purgeSentEventsAbout(tx, eventStore, subject);
    return { 'audit_log.anonymized': audit, 'event_versions.anonymized': versions, 'outbox.purged': purged };
  },
};
