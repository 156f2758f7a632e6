import { eventTables } from '@bilten/platform';
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

export const users = identity.table('users', {
  id: uuid().primaryKey(),
  /** Normalized (NFKC, trimmed, lower case): the unique index is the source of truth. */
  email: text().notNull().unique(),
  displayName: text('display_name').notNull(),
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
    /** Normalized like account addresses: only the account with this address may accept. */
    email: text().notNull(),
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
  (table) => [index('organization_invitations_organization_idx').on(table.organizationId, table.createdAt)],
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
    /** The address this token proves: the account's own, or for a change the new one. */
    email: text().notNull(),
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
    ip: text(),
    userAgent: text('user_agent'),
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

export type UserRow = typeof users.$inferSelect;
export type OrganizationRow = typeof organizations.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
export type PasswordResetRow = typeof passwordResets.$inferSelect;
export type InvitationRow = typeof organizationInvitations.$inferSelect;
export type MemberRow = typeof organizationMembers.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type SigningKeyRow = typeof signingKeys.$inferSelect;
export type AccessLogRow = typeof accessLog.$inferSelect;
