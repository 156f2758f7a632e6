import { type PersonalDataSteps, purgeSentEventsAbout } from '@bilten/platform';
import { anonymizeAuthor, personalRecordsOf } from '../db/personal-data.ts';
import { eventStore } from '../db/schema.ts';

const iso = (date: Date) => date.toISOString();

/**
 * Branding's step of a user's export and erasure (issue 18, articles 15 and 17). Branding keeps no
 * name, email or phone: a user appears as who uploaded an image (with its file name), saved a kit
 * version or added a domain. Those belong to the organization and stay; erasure removes the user's
 * id from them (nullable columns: null) and drops the uploads' file names, which may name them.
 */
export const brandingPersonalData: PersonalDataSteps = {
  async collect(tx, userId) {
    const records = await personalRecordsOf(tx, userId);
    return {
      uploads: records.uploads.map((upload) => ({ ...upload, createdAt: iso(upload.createdAt) })),
      brandKitsLastSaved: records.kits.map((kit) => ({ ...kit, updatedAt: iso(kit.updatedAt) })),
      brandKitVersions: records.kitVersions.map((version) => ({
        ...version,
        changedAt: iso(version.changedAt),
      })),
      customDomains: records.domains.map((domain) => ({ ...domain, createdAt: iso(domain.createdAt) })),
    };
  },
  async erase(tx, subject) {
    const { userId } = subject;
    const counts = await anonymizeAuthor(tx, userId);
    const { purged } = await purgeSentEventsAbout(tx, eventStore, subject);
    return {
      'assets.anonymized': counts.uploads,
      'brand_kits.anonymized': counts.kits,
      'brand_kit_versions.anonymized': counts.kitVersions,
      'custom_domains.anonymized': counts.domains,
      'outbox.purged': purged,
    };
  },
};
