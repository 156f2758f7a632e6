import { z } from 'zod';
import { defineEvent } from './define.ts';

// Branding's events: messaging styles every organization's mails with its brand kit.

const hexColor = z.string().regex(/^#[0-9A-F]{6}$/);

/**
 * An organization's brand kit was created or changed: the whole kit as it is now, so a consumer
 * keeps a copy without asking branding. `changedAt` orders them: an older kit never replaces a
 * newer one, whatever order they arrive in.
 */
export const brandKitChanged = defineEvent({
  type: 'bilten.branding.brand_kit.changed',
  aggregateType: 'brand_kit',
  payload: z.object({
    organizationId: z.uuid(),
    primaryColor: hexColor,
    accentColor: hexColor,
    logoUrl: z.string().nullable(),
    changedAt: z.iso.datetime(),
  }),
});
