import { eventTables, usageTables } from '@bilten/platform';
import {
  type AnyPgColumn,
  bigint,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

export const branding = pgSchema('branding');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(branding);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;
/** Hourly usage rollups per organization and the jumps announced (issue 19, platform usage.ts). */
export const usage = usageTables(branding);
export const { usageHourly, usageJumps } = usage;

/** What an uploaded image is for: each kind has its own sizes (domain/assets.ts). */
export const ASSET_KINDS = ['LOGO', 'COVER', 'FAVICON', 'EMAIL_HEADER'] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];
export const assetKind = branding.enum('asset_kind', ASSET_KINDS);

/** Fonts a kit may name: web-safe or freely licensed families every touchpoint can fall back from. */
export const BRAND_FONTS = [
  'SYSTEM_UI',
  'INTER',
  'ROBOTO',
  'OPEN_SANS',
  'LATO',
  'SOURCE_SERIF',
  'MERRIWEATHER',
  'GEORGIA',
] as const;
export type BrandFont = (typeof BRAND_FONTS)[number];
export const brandFont = branding.enum('brand_font', BRAND_FONTS);

/** How a ticket's page is laid out (orders' ticket PDF). */
export const TICKET_LAYOUTS = ['CLASSIC', 'COMPACT', 'POSTER'] as const;
export type TicketLayout = (typeof TICKET_LAYOUTS)[number];
export const ticketLayout = branding.enum('ticket_layout', TICKET_LAYOUTS);

/** One stored image of an asset: what `/assets/{sha256}` serves. */
export interface AssetVariant {
  /** e.g. `original`, `w512`, `w128`, `email600`, `icon32`: what each use needs (domain/assets.ts). */
  name: string;
  /** Hex SHA-256 of the stored bytes: the storage key and the URL. */
  sha256: string;
  contentType: string;
  width: number;
  height: number;
  byteSize: number;
}

/**
 * Uploaded images, checked by content and re-encoded (domain/assets.ts). The bytes live in the
 * storage port under each variant's SHA-256; the same bytes uploaded twice are stored once.
 */
export const assets = branding.table(
  'assets',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    kind: assetKind().notNull(),
    /** The canonical variant (re-encoded full size): its hash names the asset in kits and events. */
    sha256: text().notNull(),
    contentType: text('content_type').notNull(),
    width: integer().notNull(),
    height: integer().notNull(),
    byteSize: integer('byte_size').notNull(),
    variants: jsonb().$type<AssetVariant[]>().notNull(),
    /** The file name as uploaded, for display only (never used to decide anything). */
    originalName: text('original_name'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('assets_organization_idx').on(table.organizationId, table.createdAt, table.id)],
);
export type AssetRow = typeof assets.$inferSelect;

export const brandKits = branding.table('brand_kits', {
  id: uuid().primaryKey(),
  /** One kit per organization; the unique index makes the creation event idempotent. */
  organizationId: uuid('organization_id').notNull().unique(),
  primaryColor: text('primary_color').notNull(),
  accentColor: text('accent_color').notNull(),
  backgroundColor: text('background_color').notNull().default('#FFFFFF'),
  textColor: text('text_color').notNull().default('#111827'),
  logoAssetId: uuid('logo_asset_id').references((): AnyPgColumn => assets.id),
  logoOnDarkAssetId: uuid('logo_on_dark_asset_id').references((): AnyPgColumn => assets.id),
  faviconAssetId: uuid('favicon_asset_id').references((): AnyPgColumn => assets.id),
  emailHeaderAssetId: uuid('email_header_asset_id').references((): AnyPgColumn => assets.id),
  coverAssetId: uuid('cover_asset_id').references((): AnyPgColumn => assets.id),
  fontFamily: brandFont('font_family').notNull().default('SYSTEM_UI'),
  emailFooter: text('email_footer'),
  ticketLayout: ticketLayout('ticket_layout').notNull().default('CLASSIC'),
  /** Starts at 1, +1 per saved change or restore; each is kept in brand_kit_versions. */
  version: integer().notNull().default(1),
  updatedBy: uuid('updated_by'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
export type BrandKitRow = typeof brandKits.$inferSelect;

/** The kit's settings as saved at one version: what a restore puts back. */
export type BrandKitSettings = Pick<
  BrandKitRow,
  | 'primaryColor'
  | 'accentColor'
  | 'backgroundColor'
  | 'textColor'
  | 'logoAssetId'
  | 'logoOnDarkAssetId'
  | 'faviconAssetId'
  | 'emailHeaderAssetId'
  | 'coverAssetId'
  | 'fontFamily'
  | 'emailFooter'
  | 'ticketLayout'
>;

/** Every saved version of every kit, like catalog's event versions: the history and what restores read. */
export const brandKitVersions = branding.table(
  'brand_kit_versions',
  {
    kitId: uuid('kit_id')
      .notNull()
      .references(() => brandKits.id),
    version: integer().notNull(),
    settings: jsonb().$type<BrandKitSettings>().notNull(),
    /** Set when this version was made by restoring an earlier one. */
    restoredFrom: integer('restored_from'),
    changedBy: uuid('changed_by'),
    requestId: text('request_id'),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.kitId, table.version] })],
);
export type BrandKitVersionRow = typeof brandKitVersions.$inferSelect;

export const DOMAIN_STATES = [
  'PENDING_VERIFICATION',
  'VERIFIED',
  'CERTIFICATE_ISSUED',
  'ACTIVE',
  'FAILED',
] as const;
export type DomainState = (typeof DOMAIN_STATES)[number];
export const domainState = branding.enum('domain_state', DOMAIN_STATES);

/**
 * Organizers' own hostnames. A hostname (ASCII, punycode, no trailing dot) belongs to one
 * organization at a time; removing a domain deletes its row, so it may be claimed again.
 */
export const customDomains = branding.table(
  'custom_domains',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    hostname: text().notNull().unique(),
    state: domainState().notNull().default('PENDING_VERIFICATION'),
    /** The value the `_bilten-challenge.<hostname>` TXT record must hold. */
    verificationToken: text('verification_token').notNull(),
    /** Why the last verification or certificate attempt failed, in words an organizer can act on. */
    failureReason: text('failure_reason'),
    lastCheckedAt: timestamp('last_checked_at', { withTimezone: true }),
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    activatedAt: timestamp('activated_at', { withTimezone: true }),
    /** The certificate chain (PEM), encrypted with the platform's key ring (columnAad by id). */
    certificateChainEncrypted: text('certificate_chain_encrypted'),
    /** Its private key (PEM), encrypted likewise. */
    certificateKeyEncrypted: text('certificate_key_encrypted'),
    certificateIssuedAt: timestamp('certificate_issued_at', { withTimezone: true }),
    certificateExpiresAt: timestamp('certificate_expires_at', { withTimezone: true }),
    /** When the certificate job next tries this domain (first issue, renewal or a retry). */
    certificateDueAt: timestamp('certificate_due_at', { withTimezone: true }),
    /** A replica working on this domain's certificate holds it until then; others skip it. */
    certificateLeaseUntil: timestamp('certificate_lease_until', { withTimezone: true }),
    certificateAttempts: integer('certificate_attempts').notNull().default(0),
    certificateError: text('certificate_error'),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('custom_domains_organization_idx').on(table.organizationId),
    index('custom_domains_certificate_due_idx').on(table.certificateDueAt),
  ],
);
export type CustomDomainRow = typeof customDomains.$inferSelect;

/** The platform's ACME account per directory URL: its key, encrypted (columnAad by directory URL). */
export const acmeAccounts = branding.table('acme_accounts', {
  directoryUrl: text('directory_url').primaryKey(),
  accountKeyEncrypted: text('account_key_encrypted').notNull(),
  accountUrl: text('account_url'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * HTTP-01 challenges under way: the gateway answers `/.well-known/acme-challenge/{token}` with the
 * key authorization, whichever replica started the order.
 */
export const acmeChallenges = branding.table('acme_challenges', {
  token: text().primaryKey(),
  keyAuthorization: text('key_authorization').notNull(),
  hostname: text().notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * Every blob in the storage port, by content hash: what `/assets/{sha256}` serves and with which
 * detected type. A blob no asset's variants name any more is deleted with the last such asset.
 */
export const storedBlobs = branding.table('stored_blobs', {
  sha256: text().primaryKey(),
  contentType: text('content_type').notNull(),
  byteSize: bigint('byte_size', { mode: 'number' }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** `Organization` as branding resolves it: only its key (identity owns the rest). */
export type OrganizationRef = { id: string };
/** `Event` as branding receives it: its key and, for `branding`, its organizer's key (catalog's). */
export type EventRef = { id: string; organizer?: { id: string } | null };
