import { randomUUID } from 'node:crypto';
import { createTestSigner } from '@bilten/testkit';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  createTokenVerifier,
  requireAdmin,
  requireOrgAccess,
  requireOrgRole,
  requireScope,
  requireUser,
  requireVerifiedUser,
} from '../src/auth.ts';
import type { DomainError } from '../src/errors.ts';

const signer = await createTestSigner();
const verify = createTokenVerifier({ issuer: signer.issuer, audience: signer.audience, jwks: signer.jwks });
const bearer = (token: string) => `Bearer ${token}`;

async function rejection(authorization: string) {
  try {
    await verify(authorization);
  } catch (err) {
    return (err as { extensions?: { code?: string } }).extensions?.code;
  }
  return 'accepted';
}

describe('access token verification', () => {
  it('reads the viewer from a valid token, and anonymous from no header', async () => {
    const sub = randomUUID();
    const org = randomUUID();
    const viewer = await verify(
      bearer(await signer.sign({ sub, roles: ['ADMIN'], orgs: { [org]: 'OWNER' } })),
    );
    expect(viewer).toMatchObject({
      kind: 'user',
      userId: sub,
      roles: ['ADMIN'],
      organizations: { [org]: 'OWNER' },
    });
    expect(await verify(undefined)).toEqual({ kind: 'anonymous' });
    const unverified = await verify(bearer(await signer.sign({ sub, email_verified: false, sid: 's-1' })));
    expect(unverified).toMatchObject({ emailVerified: false, sessionId: 's-1' });
  });

  it('rejects tampered, expired, foreign, unsigned and malformed tokens as UNAUTHENTICATED', async () => {
    const good = await signer.sign({ roles: ['CUSTOMER'] });
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const elevated = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), roles: ['ADMIN'] }),
    ).toString('base64url');
    const unsignedHeader = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const foreign = await new SignJWT({ roles: ['ADMIN'] })
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.jwks.keys[0]!.kid })
      .setSubject(randomUUID())
      .setJti('x')
      .setIssuedAt()
      .setIssuer(signer.issuer)
      .setAudience(signer.audience)
      .setExpirationTime('5m')
      .sign(stranger.privateKey);
    // HS256 keyed with the public key: the classic algorithm confusion.
    const publicJwk = await exportJWK(stranger.publicKey);
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(randomUUID())
      .setJti('y')
      .setIssuedAt()
      .setIssuer(signer.issuer)
      .setAudience(signer.audience)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));

    const cases: Record<string, string> = {
      'tampered claims': `${header}.${elevated}.${signature}`,
      'alg none': `${unsignedHeader}.${payload}.`,
      'wrong key': foreign,
      'algorithm confusion': confused,
      expired: await signer.sign({}, { expiresIn: '-1m' }),
      'wrong audience': await signer.sign({}, { audience: 'someone-else' }),
      'wrong issuer': await signer.sign({}, { issuer: 'evil' }),
      'unknown key id': await signer.sign({}, { kid: 'rotated-away' }),
      'subject not a user id': await signer.sign({ sub: 'admin' }),
      'bad organization role': await signer.sign({ orgs: { [randomUUID()]: 'GOD' } }),
      'email_verified not a boolean': await signer.sign({ email_verified: 'yes' }),
    };
    for (const [name, token] of Object.entries(cases))
      expect(await rejection(bearer(token)), name).toBe('UNAUTHENTICATED');
    expect(await rejection('Basic dXNlcjpwYXNz')).toBe('UNAUTHENTICATED');
    expect(await rejection(`Bearer ${'a'.repeat(10_000)}`)).toBe('UNAUTHENTICATED');
  });

  it('fetches keys from a JWKS URL', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(signer.jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const remote = createTokenVerifier({
        issuer: signer.issuer,
        audience: signer.audience,
        jwksUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`,
      });
      expect(await remote(bearer(await signer.sign({ roles: ['ADMIN'] })))).toMatchObject({ kind: 'user' });
    } finally {
      server.close();
    }
  });
});

describe('permission helpers', () => {
  const org = randomUUID();
  const user = (roles: string[], orgs: Record<string, 'STAFF' | 'ADMIN' | 'OWNER'> = {}) => ({
    kind: 'user' as const,
    userId: randomUUID(),
    roles,
    organizations: orgs,
    tokenId: 't',
    emailVerified: true,
  });
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
      return 'allowed';
    } catch (err) {
      return (err as DomainError).code;
    }
  };

  it('separates anonymous, customers, staff, admins, owners and platform admins', () => {
    expect(codeOf(() => requireUser({ kind: 'anonymous' }))).toBe('UNAUTHENTICATED');
    expect(codeOf(() => requireAdmin({ kind: 'anonymous' }))).toBe('UNAUTHENTICATED');
    expect(codeOf(() => requireAdmin(user([])))).toBe('FORBIDDEN');
    expect(codeOf(() => requireAdmin(user(['ADMIN'])))).toBe('allowed');
    expect(codeOf(() => requireOrgRole(user([], { [org]: 'STAFF' }), org, 'ADMIN'))).toBe('FORBIDDEN');
    expect(codeOf(() => requireOrgRole(user([], { [org]: 'ADMIN' }), org, 'ADMIN'))).toBe('allowed');
    expect(codeOf(() => requireOrgRole(user([], { [org]: 'OWNER' }), org, 'ADMIN'))).toBe('allowed');
    expect(codeOf(() => requireOrgRole(user([], { [randomUUID()]: 'OWNER' }), org, 'STAFF'))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(() => requireOrgRole({ kind: 'anonymous' }, org, 'STAFF'))).toBe('UNAUTHENTICATED');
  });

  it('requireVerifiedUser: anonymous is UNAUTHENTICATED, an unverified email EMAIL_NOT_VERIFIED', () => {
    expect(codeOf(() => requireVerifiedUser({ kind: 'anonymous' }))).toBe('UNAUTHENTICATED');
    expect(codeOf(() => requireVerifiedUser({ ...user([]), emailVerified: false }))).toBe(
      'EMAIL_NOT_VERIFIED',
    );
    expect(codeOf(() => requireVerifiedUser(user([])))).toBe('allowed');
  });

  it('API keys: never a user (FORBIDDEN), and only their own organization and scopes', () => {
    const key = {
      kind: 'apiKey' as const,
      keyId: randomUUID(),
      organizationId: org,
      scopes: ['events:read' as const],
      mode: 'TEST' as const,
      tokenId: 't',
    };
    for (const guard of [requireUser, requireVerifiedUser, requireAdmin]) {
      expect(codeOf(() => guard(key))).toBe('FORBIDDEN');
    }
    expect(codeOf(() => requireOrgRole(key, org, 'STAFF'))).toBe('FORBIDDEN');
    expect(codeOf(() => requireScope(key, org, 'events:read'))).toBe('allowed');
    expect(codeOf(() => requireScope(key, org, 'events:write'))).toBe('FORBIDDEN');
    expect(codeOf(() => requireScope(key, randomUUID(), 'events:read'))).toBe('FORBIDDEN');
    expect(codeOf(() => requireScope(user([], { [org]: 'OWNER' }), org, 'events:read'))).toBe('FORBIDDEN');
    expect(codeOf(() => requireScope({ kind: 'anonymous' }, org, 'events:read'))).toBe('UNAUTHENTICATED');
  });

  it('reads an API-key viewer from a token identity issued for a key', async () => {
    const keyId = randomUUID();
    const token = await signer.sign({
      sub: keyId,
      kind: 'api_key',
      org,
      scopes: ['orders:read'],
      mode: 'LIVE',
    });
    expect(await verify(bearer(token))).toEqual({
      kind: 'apiKey',
      keyId,
      organizationId: org,
      scopes: ['orders:read'],
      mode: 'LIVE',
      tokenId: expect.any(String),
    });
    const unknownScope = await signer.sign({
      sub: keyId,
      kind: 'api_key',
      org,
      scopes: ['admin'],
      mode: 'LIVE',
    });
    expect(await rejection(bearer(unknownScope))).toBe('UNAUTHENTICATED');
  });
});

describe('requireOrgAccess', () => {
  const org = randomUUID();
  const access = { role: 'ADMIN', scope: 'events:write' } as const;
  const user = (orgs: Record<string, 'STAFF' | 'ADMIN' | 'OWNER'>) => ({
    kind: 'user' as const,
    userId: randomUUID(),
    roles: [],
    organizations: orgs,
    tokenId: 't',
    emailVerified: true,
  });
  const key = (organizationId: string, scopes: Array<'events:read' | 'events:write'>) => ({
    kind: 'apiKey' as const,
    keyId: randomUUID(),
    organizationId,
    scopes,
    mode: 'LIVE' as const,
    tokenId: 't',
  });
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
      return 'allowed';
    } catch (err) {
      return (err as DomainError).code;
    }
  };

  it('lets users with the role and keys of the organization with the scope in, nobody else', () => {
    const cases: Array<[string, Parameters<typeof requireOrgAccess>[0], string]> = [
      ['anonymous', { kind: 'anonymous' }, 'UNAUTHENTICATED'],
      ['user with the role', user({ [org]: 'ADMIN' }), 'allowed'],
      ['user above the role', user({ [org]: 'OWNER' }), 'allowed'],
      ['user below the role', user({ [org]: 'STAFF' }), 'FORBIDDEN'],
      ['user of another organization', user({ [randomUUID()]: 'OWNER' }), 'FORBIDDEN'],
      ['key with the scope', key(org, ['events:read', 'events:write']), 'allowed'],
      ['key without the scope', key(org, ['events:read']), 'FORBIDDEN'],
      ['key of another organization', key(randomUUID(), ['events:write']), 'FORBIDDEN'],
    ];
    for (const [name, viewer, code] of cases)
      expect(
        codeOf(() => requireOrgAccess(viewer, org, access)),
        name,
      ).toBe(code);
  });

  it('answers with the caller it let in', () => {
    const writer = key(org, ['events:write']);
    expect(requireOrgAccess(writer, org, access)).toBe(writer);
  });
});
