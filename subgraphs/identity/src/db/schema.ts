import { eventTables, personKeyTable, usageTables } from '@bilten/platform';
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

export const identity = pgSchema('identity');

/** Outbox, inbox and consumer positions: this subgraph's side of exactly-once events. */
export const eventStore = eventTables(identity);
export const { outbox, outboxSequences, inbox, consumerPositions } = eventStore;
/** Hourly usage rollups per organization and the jumps announced (issue 19, platform usage.ts). */
export const usage = usageTables(identity);
export const { usageHourly, usageJumps } = usage;

/** Each person's data key (issue 18, per-person keys): a user's, keyed by their user id. */
export const personKeys = personKeyTable(identity);

/** Email and name sealed under the user's own key (db/users.ts); read them through `openUser`. */
export const users = identity.table('users', {
  id: uuid().primaryKey(),
  /** The normalized address (NFKC, trimmed, lower case), sealed. */
  emailSealed: text('email_sealed').notNull(),
  /**
   * Blind index of the address: lookups and uniqueness (the unique index is the source of truth).
   * Null only for a row written before per-person keys, until the start-up step seals it.
   */
  emailIndex: text('email_index').unique(),
  displayNameSealed: text('display_name_sealed').notNull(),
  /** argon2id PHC string; null for accounts made before passwords existed (they cannot sign in). */
  passwordHash: text('password_hash'),
  emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true }),
  /** Platform roles, e.g. ADMIN. */
  roles: text().array().notNull().default(sql`'{}'::text[]`),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** ACTIVE → CLOSING (an OWNER asked; catalog decides) → CLOSED, or back to ACTIVE when refused. */
export const ORGANIZATION_STATUSES = ['ACTIVE', 'CLOSING', 'CLOSED'] as const;
export const organizationStatus = identity.enum('organization_status', ORGANIZATION_STATUSES);

export const organizations = identity.table('organizations', {
  id: uuid().primaryKey(),
  name: text().notNull(),
  slug: text().notNull().unique(),
  status: organizationStatus().notNull().default('ACTIVE'),
  /** A test-mode organization takes Sandbox payments only: for trying Bilten without money. */
  testMode: boolean('test_mode').notNull().default(false),
  /**
   * For an organization's sandbox (its test environment, opened by a TEST API key or openSandbox):
   * the live organization it belongs to. One sandbox per organization; the sandbox is testMode.
   */
  sandboxOf: uuid('sandbox_of')
    .unique()
    .references((): AnyPgColumn => organizations.id, { onDelete: 'cascade' }),
  /** The latest closure request: only the answer to this one counts. */
  closureId: uuid('closure_id'),
  /** Why catalog refused the latest closure request, for the team to read. */
  closureRefusal: text('closure_refusal'),
  closedAt: timestamp('closed_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Every slug an organization has held, its current one included: a slug stays its
 * organization's for good, so old links keep resolving and no other organization can take it.
 */
export const organizationSlugs = identity.table('organization_slugs', {
  slug: text().primaryKey(),
  organizationId: uuid('organization_id')
    .notNull()
    .references(() => organizations.id, { onDelete: 'cascade' }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const organizationMembers = identity.table(
  'organization_members',
  {
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** OWNER | ADMIN | STAFF */
    role: text().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.organizationId, table.userId] }),
    index('organization_members_user_idx').on(table.userId),
  ],
);

/**
 * Invitations to join an organization, by email: the link's token is single use, 7 days, and
 * only its SHA-256 is kept.
 */
export const organizationInvitations = identity.table(
  'organization_invitations',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    /**
     * The address, sealed under the invitee's guest person id (its blind index: they may have no
     * account, db/invitations.ts); acceptance compares `email_index`, normalized like accounts'.
     */
    emailSealed: text('email_sealed').notNull(),
    /** Null only until the start-up step seals rows written before per-person keys. */
    emailIndex: text('email_index'),
    /** OWNER | ADMIN | STAFF */
    role: text().notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    invitedBy: uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    acceptedBy: uuid('accepted_by').references(() => users.id, { onDelete: 'set null' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('organization_invitations_organization_idx').on(table.organizationId, table.createdAt),
    index('organization_invitations_email_index_idx').on(table.emailIndex),
  ],
);

/**
 * An organization's API keys for third parties. The secret is shown once; only its SHA-256 is
 * kept (a 32-byte random secret needs no slow hash), with a short prefix to tell keys apart.
 */
export const apiKeys = identity.table(
  'api_keys',
  {
    id: uuid().primaryKey(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    /** e.g. `bk_live_AbC123xy`: the mode and the first characters of the secret. */
    prefix: text().notNull(),
    secretHash: text('secret_hash').notNull().unique(),
    scopes: text().array().notNull(),
    /** LIVE | TEST */
    mode: text().notNull(),
    /**
     * The dated REST version (`Bilten-Version`) the key was created on: what its calls get unless
     * they name another (Stripe's model). One of API_VERSIONS (@bilten/contracts).
     */
    apiVersion: text('api_version').notNull(),
    /** Which rate-limit plan the gateway charges the key by (GATEWAY_RATE_LIMIT_PLANS); set by platform admins. */
    plan: text().notNull().default('standard'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Updated at most once a minute per key. */
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (table) => [index('api_keys_organization_idx').on(table.organizationId, table.createdAt)],
);

/** Single-use email verification tokens; only the SHA-256 of the token is kept. */
export const emailVerifications = identity.table(
  'email_verifications',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The address this token proves (the account's own, or for a change the new one), sealed under the user's key. */
    emailSealed: text('email_sealed').notNull(),
    /** `verify` (the account's address) or `change` (moves the account to `email` once proven). */
    purpose: text().notNull().default('verify'),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('email_verifications_user_idx').on(table.userId, table.createdAt)],
);

/** Single-use password reset tokens (1 h); only the SHA-256 of the token is kept. */
export const passwordResets = identity.table(
  'password_resets',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('password_resets_user_idx').on(table.userId)],
);

/** A sign-in: one refresh-token family, listed to its user and revocable as a whole. */
export const sessions = identity.table(
  'sessions',
  {
    id: uuid().primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The client's address and user agent, sealed under the user's key (db/client-data.ts). */
    ipSealed: text('ip_sealed'),
    userAgentSealed: text('user_agent_sealed'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }).notNull().defaultNow(),
    /** Latest expiry of its refresh tokens: past it the session is over. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokedReason: text('revoked_reason'),
  },
  (table) => [index('sessions_user_idx').on(table.userId)],
);

/** Opaque refresh tokens by SHA-256; a used one stays, so its reuse can be recognized. */
export const refreshTokens = identity.table(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** Set when exchanged for its successor; presenting it again is reuse. */
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('refresh_tokens_session_idx').on(table.sessionId)],
);

/** Access-token signing keys (Ed25519); the private half encrypted at rest. */
export const signingKeys = identity.table('signing_keys', {
  kid: text().primaryKey(),
  publicJwk: jsonb('public_jwk').notNull(),
  /** AES-256-GCM: base64url of iv ‖ tag ‖ ciphertext of the private JWK. */
  privateJwkEncrypted: text('private_jwk_encrypted').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  /** Signing starts here; until then the key is only published, so verifiers have it beforehand. */
  activatesAt: timestamp('activates_at', { withTimezone: true }).notNull().defaultNow(),
  /** When a newer key takes over; the public key stays published until its tokens expired. */
  retiredAt: timestamp('retired_at', { withTimezone: true }),
});

/**
 * Counters behind brute-force protection and rate limits, shared by every replica: hits in the
 * current window, and for sign-in keys a lock with a growing duration.
 */
export const throttles = identity.table('throttles', {
  /** e.g. `login:email:<sha256>`, `login:ip:<address>`, `register:ip:<address>` */
  key: text().primaryKey(),
  hits: integer().notNull(),
  windowStartedAt: timestamp('window_started_at', { withTimezone: true }).notNull(),
  lockedUntil: timestamp('locked_until', { withTimezone: true }),
  /** Lockouts so far: each one lasts twice as long as the one before. */
  lockouts: integer().notNull().default(0),
});

/**
 * Who read whose personal data (issue 18): append-only (a trigger refuses UPDATE, DELETE and
 * TRUNCATE, see migration 0010) and hash-chained, `row_hash = sha256(prev_hash ‖ canonical row)`
 * (accessLogRowHash), one writer at a time (db/access-log.ts). `npm run audit:verify` checks it.
 */
export const accessLog = identity.table(
  'access_log',
  {
    id: uuid().primaryKey(),
    /** 1, 2, 3, ... without gaps: the chain's order. */
    seq: bigint({ mode: 'number' }).notNull().unique(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
    /** A user's id, an API key's id, or null for the platform itself. */
    actorId: text('actor_id'),
    /** user | api_key | admin | system */
    actorKind: text('actor_kind').notNull(),
    /** Whose data was read. */
    subjectUserId: uuid('subject_user_id').notNull(),
    organizationId: uuid('organization_id'),
    purpose: text().notNull(),
    fields: text().array().notNull(),
    /** `<type>:<id>` of what was read. */
    resource: text().notNull(),
    requestId: text('request_id'),
    /** The subgraph that served the data. */
    service: text().notNull(),
    prevHash: text('prev_hash').notNull(),
    rowHash: text('row_hash').notNull(),
  },
  (table) => [
    index('access_log_subject_idx').on(table.subjectUserId, table.seq),
    index('access_log_actor_idx').on(table.actorId, table.seq),
    index('access_log_organization_idx').on(table.organizationId, table.seq),
  ],
);

/** What a user can consent to (issue 18); ORGANIZER_SHARING is given per organization. */
export const CONSENT_PURPOSES = [
  'MARKETING_EMAIL',
  'MARKETING_PUSH',
  'ANALYTICS',
  'ORGANIZER_SHARING',
] as const;
export const consentPurpose = identity.enum('consent_purpose', CONSENT_PURPOSES);

/** Each user's current answer per purpose and scope; `consent_history` keeps every change. */
export const consents = identity.table(
  'consents',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: consentPurpose().notNull(),
    /** The organization an ORGANIZER_SHARING consent is for; '' for unscoped purposes. */
    scope: text().notNull().default(''),
    granted: boolean().notNull(),
    /** The version of the consent text the user was shown, e.g. `marketing-email/2026-11`. */
    textVersion: text('text_version').notNull(),
    /** Where it was given or withdrawn: `checkout`, `account-settings`, `api`, ... */
    source: text().notNull(),
    /** Sealed under the user's key (db/client-data.ts). */
    ipAddressSealed: text('ip_address_sealed'),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.purpose, table.scope] })],
);

export const consentHistory = identity.table(
  'consent_history',
  {
    id: uuid().primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: consentPurpose().notNull(),
    scope: text().notNull().default(''),
    granted: boolean().notNull(),
    textVersion: text('text_version').notNull(),
    source: text().notNull(),
    /** Sealed under the user's key (db/client-data.ts). */
    ipAddressSealed: text('ip_address_sealed'),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
  },
  (table) => [index('consent_history_user_idx').on(table.userId, table.occurredAt)],
);

/**
 * Security events of every service (issue 18), in one common shape (`securityEventsPayload`):
 * what detection rules count over sliding windows.
 */
export const securityEvents = identity.table(
  'security_events',
  {
    id: uuid().primaryKey(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    /** The service that saw it. */
    service: text().notNull(),
    type: text().notNull(),
    actorId: text('actor_id'),
    actorKind: text('actor_kind').notNull(),
    ip: text(),
    organizationId: uuid('organization_id'),
    requestId: text('request_id'),
    target: text(),
    details: jsonb().$type<Record<string, string | number | boolean | null>>().notNull().default({}),
  },
  (table) => [
    index('security_events_type_idx').on(table.type, table.occurredAt),
    index('security_events_ip_idx').on(table.ip, table.occurredAt),
    index('security_events_actor_idx').on(table.actorId, table.occurredAt),
  ],
);

export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export const severity = identity.enum('severity', SEVERITIES);

/** A detection rule that fired; `dedupe_key` (rule + subject + window) keeps one alert per burst. */
export const securityAlerts = identity.table(
  'security_alerts',
  {
    id: uuid().primaryKey(),
    rule: text().notNull(),
    severity: severity().notNull(),
    dedupeKey: text('dedupe_key').notNull().unique(),
    summary: text().notNull(),
    details: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    raisedAt: timestamp('raised_at', { withTimezone: true }).notNull(),
    incidentId: uuid('incident_id').references((): AnyPgColumn => incidents.id, { onDelete: 'set null' }),
  },
  (table) => [index('security_alerts_raised_idx').on(table.raisedAt)],
);

/**
 * Alertmanager's alerts announced to the platform admins (issue 19): one row per (fingerprint,
 * startsAt, status), so Alertmanager's repeat notifications of one alert announce nothing new.
 */
export const platformAlerts = identity.table(
  'platform_alerts',
  {
    fingerprint: text().notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    status: text().notNull(),
    alertname: text().notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.fingerprint, table.startsAt, table.status] })],
);

/** DETECTED → TRIAGED → CONTAINED → RESOLVED → POSTMORTEM (GDPR articles 33 and 34). */
export const INCIDENT_STATUSES = ['DETECTED', 'TRIAGED', 'CONTAINED', 'RESOLVED', 'POSTMORTEM'] as const;
export const incidentStatus = identity.enum('incident_status', INCIDENT_STATUSES);

/** Security incidents and, when personal data was involved, the breach register (article 33(5)). */
export const incidents = identity.table(
  'incidents',
  {
    id: uuid().primaryKey(),
    title: text().notNull(),
    description: text().notNull(),
    severity: severity().notNull(),
    status: incidentStatus().notNull().default('DETECTED'),
    /** Whether personal data was involved: then the regulator must hear within 72 hours. */
    personalDataBreach: boolean('personal_data_breach').notNull().default(false),
    /** A user's id, or `detection:<rule>` when a rule opened it. */
    openedBy: text('opened_by').notNull(),
    detectedAt: timestamp('detected_at', { withTimezone: true }).notNull(),
    /** detected_at + 72 hours (article 33(1)). */
    regulatorDeadlineAt: timestamp('regulator_deadline_at', { withTimezone: true }).notNull(),
    regulatorNotifiedAt: timestamp('regulator_notified_at', { withTimezone: true }),
    /** The register's facts: categories of data, likely consequences, measures taken. */
    dataCategories: text('data_categories').array().notNull().default(sql`'{}'::text[]`),
    likelyConsequences: text('likely_consequences').notNull().default(''),
    measuresTaken: text('measures_taken').notNull().default(''),
    postmortem: text(),
    usersNotifiedAt: timestamp('users_notified_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (table) => [index('incidents_status_idx').on(table.status, table.detectedAt)],
);

/** Everything that happened to an incident, in order: status changes, notes, containment, notices. */
export const incidentTimeline = identity.table(
  'incident_timeline',
  {
    id: uuid().primaryKey(),
    incidentId: uuid('incident_id')
      .notNull()
      .references(() => incidents.id, { onDelete: 'cascade' }),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    /** A user's id, or `detection:<rule>`, or `system`. */
    actor: text().notNull(),
    /** OPENED | STATUS_CHANGED | NOTE | CONTAINMENT | USERS_NOTIFIED | REGULATOR_NOTIFIED | ALERT */
    kind: text().notNull(),
    message: text().notNull(),
    details: jsonb().$type<Record<string, unknown>>().notNull().default({}),
  },
  (table) => [index('incident_timeline_incident_idx').on(table.incidentId, table.occurredAt)],
);

export const incidentAffectedUsers = identity.table(
  'incident_affected_users',
  {
    incidentId: uuid('incident_id')
      .notNull()
      .references(() => incidents.id, { onDelete: 'cascade' }),
    /** No reference: an erased user stays counted as affected. */
    userId: uuid('user_id').notNull(),
    addedAt: timestamp('added_at', { withTimezone: true }).notNull(),
    notifiedAt: timestamp('notified_at', { withTimezone: true }),
  },
  (table) => [primaryKey({ columns: [table.incidentId, table.userId] })],
);

/** EXPORT (article 15) and ERASURE (article 17) requests, and their saga across the six subgraphs. */
export const PRIVACY_REQUEST_KINDS = ['EXPORT', 'ERASURE'] as const;
export const privacyRequestKind = identity.enum('privacy_request_kind', PRIVACY_REQUEST_KINDS);
export const PRIVACY_REQUEST_STATUSES = ['IN_PROGRESS', 'COMPLETED', 'EXPIRED'] as const;
export const privacyRequestStatus = identity.enum('privacy_request_status', PRIVACY_REQUEST_STATUSES);

export const privacyRequests = identity.table(
  'privacy_requests',
  {
    id: uuid().primaryKey(),
    kind: privacyRequestKind().notNull(),
    /** No reference: the record of an erasure outlives the account it erased. */
    userId: uuid('user_id').notNull(),
    status: privacyRequestStatus().notNull().default('IN_PROGRESS'),
    requestedAt: timestamp('requested_at', { withTimezone: true }).notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    /** EXPORT: the one-time private key (encrypted), dropped once the archive is assembled. */
    privateKeySealed: text('private_key_sealed'),
    /** EXPORT: the assembled JSON archive (encrypted), deleted on download or expiry. */
    archiveSealed: text('archive_sealed'),
    /** EXPORT: SHA-256 of the single-use download token. */
    downloadTokenHash: text('download_token_hash').unique(),
    downloadExpiresAt: timestamp('download_expires_at', { withTimezone: true }),
    downloadedAt: timestamp('downloaded_at', { withTimezone: true }),
  },
  (table) => [index('privacy_requests_user_idx').on(table.userId, table.requestedAt)],
);

/** Each subgraph's step of a request: done when its `personalDataExported` / `personalDataErased` arrived. */
export const privacyRequestSteps = identity.table(
  'privacy_request_steps',
  {
    requestId: uuid('request_id')
      .notNull()
      .references(() => privacyRequests.id, { onDelete: 'cascade' }),
    service: text().notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    /** EXPORT: the part, still sealed for the request's key; ERASURE: the counts. */
    sealedPart: text('sealed_part'),
    summary: jsonb().$type<Record<string, number>>(),
  },
  (table) => [primaryKey({ columns: [table.requestId, table.service] })],
);

/** A user's stored row: email and name still sealed. */
export type SealedUserRow = typeof users.$inferSelect;
/** A user as the domain sees them: email and name opened (db/users.ts `openUser`). */
export type UserRow = Omit<SealedUserRow, 'emailSealed' | 'emailIndex' | 'displayNameSealed'> & {
  email: string;
  displayName: string;
};
export type OrganizationRow = typeof organizations.$inferSelect;
/** A session's stored row: address and user agent still sealed. */
export type SessionRow = typeof sessions.$inferSelect;
export type PasswordResetRow = typeof passwordResets.$inferSelect;
export type SealedInvitationRow = typeof organizationInvitations.$inferSelect;
/** An invitation as the domain sees it: its address opened (db/invitations.ts). */
export type InvitationRow = Omit<SealedInvitationRow, 'emailSealed' | 'emailIndex'> & { email: string };
export type MemberRow = typeof organizationMembers.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type SigningKeyRow = typeof signingKeys.$inferSelect;
export type AccessLogRow = typeof accessLog.$inferSelect;
export type SealedConsentRow = typeof consents.$inferSelect;
/** A consent as the domain sees it: the address it came from opened (db/client-data.ts). */
export type ConsentRow = Omit<SealedConsentRow, 'ipAddressSealed'> & { ipAddress: string | null };
export type SecurityEventRow = typeof securityEvents.$inferSelect;
export type SecurityAlertRow = typeof securityAlerts.$inferSelect;
export type IncidentRow = typeof incidents.$inferSelect;
export type PrivacyRequestRow = typeof privacyRequests.$inferSelect;
