import { z } from 'zod';
import {
  defineEvent,
  personalDataErasedPayload,
  personalDataExportedPayload,
  securityEventsPayload,
  usageJumpedPayload,
} from './define.ts';

// Branding's events: every service that renders for an organization (messaging's mails and
// pushes, orders' tickets, billing's receipts) keeps a copy of its brand from them, and the
// gateway's host map follows its domains.

const hexColor = z.string().regex(/^#[0-9A-F]{6}$/);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** An image a touchpoint embeds: the variant's content hash (fetched from `/assets/{sha256}` and checked against it). */
const brandImage = z.object({
  sha256,
  contentType: z.enum(['image/png', 'image/jpeg']),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});

/**
 * What every touchpoint renders an organization with: its kit and the domain its links point at.
 * Fields added after version 1 default to Bilten's own look, so older events still parse.
 */
const brandedContext = z.object({
  organizationId: z.uuid(),
  primaryColor: hexColor,
  accentColor: hexColor,
  backgroundColor: hexColor.default('#FFFFFF'),
  textColor: hexColor.default('#111827'),
  /** Public URL of the logo's standard variant (`<PUBLIC_ASSETS_URL>/assets/<sha256>`). */
  logoUrl: z.string().nullable(),
  /** The logo as a PNG sized for documents (PDFs embed it): null without a logo. */
  logo: brandImage.nullable().default(null),
  /** The email header image, as a PNG or JPEG 600 pixels wide: null without one. */
  emailHeader: brandImage.nullable().default(null),
  fontFamily: z.string().default('SYSTEM_UI'),
  emailFooter: z.string().max(500).nullable().default(null),
  ticketLayout: z.enum(['CLASSIC', 'COMPACT', 'POSTER']).default('CLASSIC'),
  /** The organization's ACTIVE custom domain (ASCII hostname): its links point there. */
  domain: z.string().nullable().default(null),
  /** The kit's version; 0 in events older than versions. */
  version: z.number().int().nonnegative().default(0),
  changedAt: z.iso.datetime(),
});
export type BrandedContext = z.infer<typeof brandedContext>;

/**
 * An organization's brand was created or changed (its kit, or which domain is active): the whole
 * context as it is now, so a consumer keeps a copy without asking branding. `changedAt` orders
 * them: an older context never replaces a newer one, whatever order they arrive in.
 */
export const brandKitChanged = defineEvent({
  type: 'bilten.branding.brand_kit.changed',
  // 2: the whole BrandedContext (issue 17): background and text colours, logo and email header
  // images, font, footer, ticket layout, active domain, version.
  version: 2,
  aggregateType: 'brand_kit',
  payload: brandedContext,
});

const domainPayload = z.object({
  domainId: z.uuid(),
  organizationId: z.uuid(),
  /** ASCII (punycode), lower case, no trailing dot. */
  hostname: z.string().min(1).max(253),
  occurredAt: z.iso.datetime(),
});

/** A custom domain's ownership was proven: the gateway answers that host with its organization's brand. */
export const domainVerified = defineEvent({
  type: 'bilten.branding.domain.verified',
  aggregateType: 'custom_domain',
  payload: domainPayload,
});

/** A domain became the organization's ACTIVE one (certificate issued): its links point there. */
export const domainActivated = defineEvent({
  type: 'bilten.branding.domain.activated',
  aggregateType: 'custom_domain',
  payload: domainPayload,
});

/** A domain was removed (or lost verification): the gateway stops answering for it. */
export const domainRemoved = defineEvent({
  type: 'bilten.branding.domain.removed',
  aggregateType: 'custom_domain',
  payload: domainPayload,
});

/** Security events this service saw (issue 18): identity's monitoring records them and runs its detection rules. */
export const securityEventsRecorded = defineEvent({
  type: 'bilten.branding.security_event.recorded',
  aggregateType: 'security_event',
  payload: securityEventsPayload,
});

/** This service's part of a user's data export (issue 18), answering identity's `dataExportRequested`. */
export const personalDataExported = defineEvent({
  type: 'bilten.branding.personal_data.exported',
  aggregateType: 'privacy_request',
  payload: personalDataExportedPayload,
});

/** This service erased or anonymized what it held about a user (issue 18), answering `accountErasureRequested`. */
export const personalDataErased = defineEvent({
  type: 'bilten.branding.personal_data.erased',
  aggregateType: 'privacy_request',
  payload: personalDataErasedPayload,
});

/** An organization's usage of a metric branding meters jumped in one hour (issue 19): messaging tells the platform admins. */
export const usageJumped = defineEvent({
  type: 'bilten.branding.usage.jumped',
  aggregateType: 'organization',
  payload: usageJumpedPayload,
});
