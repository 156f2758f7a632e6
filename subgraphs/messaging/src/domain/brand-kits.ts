import { brandKitChanged } from '@bilten/contracts/branding';
import type { Database, EventConsumer, Transaction } from '@bilten/platform';
import { DEFAULT_COLOURS } from '../adapters/renderer.ts';
import { brandSourcesOf, upsertBrandKit } from '../db/brand-kits.ts';
import type { Brand } from './channels.ts';

/**
 * Messaging keeps its own copy of every organization's brand kit, from branding's events, so a
 * fan-out renders thousands of mails without asking branding. The newest kit wins.
 */
export function brandKitConsumer(): EventConsumer {
  const consumer: EventConsumer<typeof brandKitChanged.payload> = {
    name: 'brand-kits',
    event: brandKitChanged,
    // One statement through `tx`: safe to share a transaction with other organizations' events.
    groupCommit: true,
    async handle({ payload }, tx) {
      await upsertBrandKit(tx, {
        organizationId: payload.organizationId,
        primaryColor: payload.primaryColor,
        accentColor: payload.accentColor,
        logoUrl: payload.logoUrl,
        changedAt: new Date(payload.changedAt),
      });
    },
  };
  return consumer as EventConsumer;
}

/**
 * The organization's brand as its mails show it: its kit (Bilten's colours while messaging has
 * none) and its name; null when messaging knows neither. The renderer checks every value again.
 */
export async function brandOf(db: Database | Transaction, organizationId: string): Promise<Brand | null> {
  const { kit, name } = await brandSourcesOf(db, organizationId);
  if (!kit && !name) return null;
  return {
    primaryColor: kit?.primaryColor ?? DEFAULT_COLOURS.primaryColor,
    accentColor: kit?.accentColor ?? DEFAULT_COLOURS.accentColor,
    logoUrl: kit?.logoUrl ?? null,
    organizerName: name,
  };
}
