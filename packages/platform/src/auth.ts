import { GraphQLError } from 'graphql';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { z } from 'zod';
import { DomainError } from './errors.ts';
import type { Revocations } from './revocations.ts';

export const ORGANIZATION_ROLES = ['STAFF', 'ADMIN', 'OWNER'] as const;
export type OrganizationRole = (typeof ORGANIZATION_ROLES)[number];

/** What an API key may be granted: the closed list `createApiKey` accepts. */
export const API_KEY_SCOPES = [
  'events:read',
  'events:write',
  'orders:read',
  'orders:write',
  'reports:read',
  /** Scanning tickets at the door (checkInTicket, checkInManifest, syncCheckIns), nothing else. */
  'checkin',
] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
export const API_KEY_MODES = ['LIVE', 'TEST'] as const;
export type ApiKeyMode = (typeof API_KEY_MODES)[number];

/**
 * Who is calling: a signed-in user (with platform roles and memberships), a third party with an
 * organization's API key (the gateway exchanged it for a short-lived token), or nobody.
 */
export type Viewer =
  | { kind: 'anonymous' }
  | {
      kind: 'apiKey';
      keyId: string;
      organizationId: string;
      scopes: ApiKeyScope[];
      mode: ApiKeyMode;
      tokenId: string;
    }
  | {
      kind: 'user';
      userId: string;
      /** Platform roles, e.g. ADMIN. */
      roles: string[];
      /** Organization id → the user's role there. */
      organizations: Record<string, OrganizationRole>;
      tokenId: string;
      /** Whether the user has proven they own their email address. */
      emailVerified: boolean;
      /** The sign-in session (refresh-token family) the token was issued for. */
      sessionId?: string;
    };

export const ANONYMOUS: Viewer = { kind: 'anonymous' };

/** Access-token claims as identity signs them; anything else is rejected. */
const accessTokenClaims = z.object({
  sub: z.uuid(),
  jti: z.string().min(1),
  roles: z.array(z.string()).default([]),
  orgs: z.record(z.string(), z.enum(ORGANIZATION_ROLES)).default({}),
  email_verified: z.boolean().default(false),
  sid: z.string().optional(),
});

/** Tokens identity issues for API keys carry `kind: 'api_key'`; they are never a user's. */
const apiKeyTokenClaims = z.object({
  kind: z.literal('api_key'),
  sub: z.uuid(),
  jti: z.string().min(1),
  org: z.uuid(),
  scopes: z.array(z.enum(API_KEY_SCOPES)),
  mode: z.enum(API_KEY_MODES),
});

/**
 * No access token is accepted once it is older than this, whatever its `exp`: identity's live 15
 * minutes at most, and a revocation needs to be remembered no longer (see revocations.ts).
 */
export const ACCESS_TOKEN_MAX_AGE_SECONDS = 15 * 60;

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  /** Where identity publishes its signing keys; fetched once, cached, refetched for an unknown `kid`. */
  jwksUrl?: string;
  /** A fixed key set instead of a URL (tests, air-gapped set-ups). */
  jwks?: JSONWebKeySet;
  /** Keys looked up in-process (identity verifies with its own key store, no HTTP hop). */
  keys?: JWTVerifyGetKey;
  /** Ended sessions and revoked API keys (`followRevocations`): their tokens are refused. */
  revocations?: Pick<Revocations, 'revoked'>;
}

export type TokenVerifier = (authorization: string | undefined) => Promise<Viewer>;

const unauthenticated = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });

/**
 * Every subgraph verifies access tokens itself: asymmetric signatures only (EdDSA, ES256), the
 * expected issuer and audience, an expiry, an age, the claims above, and that nobody revoked
 * them. No header means anonymous; a bad token is an error, never a silent downgrade to anonymous.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const keys: JWTVerifyGetKey = options.jwks
    ? createLocalJWKSet(options.jwks)
    : options.keys && !options.jwksUrl
      ? options.keys
      : createRemoteJWKSet(new URL(options.jwksUrl ?? 'http://localhost:4001/.well-known/jwks.json'), {
          cacheMaxAge: 10 * 60_000,
          cooldownDuration: 30_000,
          timeoutDuration: 2_000,
        });
  return async (authorization) => {
    if (!authorization) return ANONYMOUS;
    const match = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(authorization);
    if (!match) throw unauthenticated('authorization must be "Bearer <access token>"');
    const viewer = await verify(match[1]!);
    if (options.revocations?.revoked(viewer)) throw unauthenticated('access token was revoked');
    return viewer;
  };

  async function verify(token: string): Promise<Viewer> {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ['EdDSA', 'ES256'],
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        maxTokenAge: ACCESS_TOKEN_MAX_AGE_SECONDS,
      });
      if (payload.kind === 'api_key') {
        const key = apiKeyTokenClaims.parse(payload);
        return {
          kind: 'apiKey',
          keyId: key.sub,
          organizationId: key.org,
          scopes: key.scopes,
          mode: key.mode,
          tokenId: key.jti,
        };
      }
      const claims = accessTokenClaims.parse(payload);
      return {
        kind: 'user',
        userId: claims.sub,
        roles: claims.roles,
        organizations: claims.orgs,
        tokenId: claims.jti,
        emailVerified: claims.email_verified,
        sessionId: claims.sid,
      };
    } catch {
      throw unauthenticated('access token is invalid or expired');
    }
  }
}

/** A person, signed in. An API key is authenticated but never a user: FORBIDDEN, not UNAUTHENTICATED. */
export function requireUser(viewer: Viewer): Extract<Viewer, { kind: 'user' }> {
  if (viewer.kind === 'apiKey')
    throw new DomainError('FORBIDDEN', 'API keys cannot do this; sign in as a user');
  if (viewer.kind !== 'user') throw new DomainError('UNAUTHENTICATED', 'sign in first');
  return viewer;
}

/** Signed in with a verified email address: needed to create organizations or buy tickets. */
export function requireVerifiedUser(viewer: Viewer): Extract<Viewer, { kind: 'user' }> {
  const user = requireUser(viewer);
  if (!user.emailVerified) throw new DomainError('EMAIL_NOT_VERIFIED', 'verify your email address first');
  return user;
}

export function requireAdmin(viewer: Viewer): Extract<Viewer, { kind: 'user' }> {
  const user = requireUser(viewer);
  if (!user.roles.includes('ADMIN')) throw new DomainError('FORBIDDEN', 'platform administrators only');
  return user;
}

/** The caller must hold at least `minimum` in the organization (STAFF < ADMIN < OWNER). */
export function requireOrgRole(viewer: Viewer, organizationId: string, minimum: OrganizationRole) {
  const user = requireUser(viewer);
  const role = user.organizations[organizationId];
  if (!role || ORGANIZATION_ROLES.indexOf(role) < ORGANIZATION_ROLES.indexOf(minimum)) {
    throw new DomainError('FORBIDDEN', `needs the ${minimum} role in this organization`);
  }
  return user;
}

/**
 * An API key of `organizationId` granted `scope`. Users are refused here: a resolver open to
 * both uses `requireOrgAccess`.
 */
export function requireScope(viewer: Viewer, organizationId: string, scope: ApiKeyScope) {
  if (viewer.kind === 'anonymous') throw new DomainError('UNAUTHENTICATED', 'an API key is needed');
  if (
    viewer.kind !== 'apiKey' ||
    viewer.organizationId !== organizationId ||
    !viewer.scopes.includes(scope)
  ) {
    throw new DomainError('FORBIDDEN', `needs an API key of this organization with the ${scope} scope`);
  }
  return viewer;
}

/**
 * Access to an organization's resources by either kind of caller: a user holding at least `role`
 * there, or an API key of that organization granted `scope`.
 */
export function requireOrgAccess(
  viewer: Viewer,
  organizationId: string,
  access: { role: OrganizationRole; scope: ApiKeyScope },
): Exclude<Viewer, { kind: 'anonymous' }> {
  return viewer.kind === 'apiKey'
    ? requireScope(viewer, organizationId, access.scope)
    : requireOrgRole(viewer, organizationId, access.role);
}
