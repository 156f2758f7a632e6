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

export const ORGANIZATION_ROLES = ['STAFF', 'ADMIN', 'OWNER'] as const;
export type OrganizationRole = (typeof ORGANIZATION_ROLES)[number];

/** Who is calling: a signed-in user (with platform roles and memberships) or nobody. */
export type Viewer =
  | { kind: 'anonymous' }
  | {
      kind: 'user';
      userId: string;
      /** Platform roles, e.g. ADMIN. */
      roles: string[];
      /** Organization id → the user's role there. */
      organizations: Record<string, OrganizationRole>;
      tokenId: string;
    };

export const ANONYMOUS: Viewer = { kind: 'anonymous' };

/** Access-token claims as identity signs them; anything else is rejected. */
const accessTokenClaims = z.object({
  sub: z.uuid(),
  jti: z.string().min(1),
  roles: z.array(z.string()).default([]),
  orgs: z.record(z.string(), z.enum(ORGANIZATION_ROLES)).default({}),
});

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  /** Where identity publishes its signing keys; fetched once, cached, refetched for an unknown `kid`. */
  jwksUrl?: string;
  /** A fixed key set instead of a URL (tests, air-gapped set-ups). */
  jwks?: JSONWebKeySet;
}

export type TokenVerifier = (authorization: string | undefined) => Promise<Viewer>;

const unauthenticated = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });

/**
 * Every subgraph verifies access tokens itself: asymmetric signatures only (EdDSA, ES256), the
 * expected issuer and audience, an expiry, and the claims above. No header means anonymous; a
 * bad token is an error, never a silent downgrade to anonymous.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const keys: JWTVerifyGetKey = options.jwks
    ? createLocalJWKSet(options.jwks)
    : createRemoteJWKSet(new URL(options.jwksUrl ?? 'http://localhost:4001/.well-known/jwks.json'), {
        cacheMaxAge: 10 * 60_000,
        cooldownDuration: 30_000,
        timeoutDuration: 2_000,
      });
  return async (authorization) => {
    if (!authorization) return ANONYMOUS;
    const match = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(authorization);
    if (!match) throw unauthenticated('authorization must be "Bearer <access token>"');
    try {
      const { payload } = await jwtVerify(match[1]!, keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ['EdDSA', 'ES256'],
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      });
      const claims = accessTokenClaims.parse(payload);
      return {
        kind: 'user',
        userId: claims.sub,
        roles: claims.roles,
        organizations: claims.orgs,
        tokenId: claims.jti,
      };
    } catch {
      throw unauthenticated('access token is invalid or expired');
    }
  };
}

export function requireUser(viewer: Viewer): Extract<Viewer, { kind: 'user' }> {
  if (viewer.kind !== 'user') throw new DomainError('UNAUTHENTICATED', 'sign in first');
  return viewer;
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
