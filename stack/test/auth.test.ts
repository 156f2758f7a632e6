import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway } from '@bilten/gateway';
import { identitySubgraph, openSigningKeys } from '@bilten/identity';
import { DEFAULT_AUTH, parseEnv } from '@bilten/platform';
import { captureLogs, createTestSigner, emailIndexOf, graphql, linkTokenOf, waitFor } from '@bilten/testkit';
import { drizzle } from 'drizzle-orm/postgres-js';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import {
  CreateOrganizationDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  MySessionsDocument,
  RefreshTokenDocument,
  RegisterDocument,
  VerifyEmailDocument,
} from './generated/operations.ts';
import { startTestStack, TEST_LIMITS, TEST_WEB_URL, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('in-process');
});
afterAll(async () => {
  await stack?.dispose();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const EVENTS = '{ events(first: 1) { edges { cursor } } }';

/** Identity's signing keys, from the stack's database (signing for `audience` instead of the real one). */
const identitySigningKeys = (audience = DEFAULT_AUTH.audience) =>
  openSigningKeys({
    db: drizzle(stack.sql),
    env: parseEnv(identitySubgraph.config, stack.env),
    issuer: DEFAULT_AUTH.issuer,
    audience,
    log: captureLogs('signing-keys').log,
  });

describe('accounts through the gateway', () => {
  it('register → verify → login → call subgraphs → refresh → logout → refresh fails', async () => {
    const email = 'Lejla.Hadzic@Example.com';
    const password = 'mostar bridge at dawn';
    const registered = await graphql(stack.url, RegisterDocument, {
      input: { email, password, displayName: 'Lejla' },
    });
    // The same answer as for a taken address (issue 12): the account shows at sign-in.
    expect(registered.body.data!.register).toEqual({ accepted: true, errors: [] });

    // Unverified: may sign in, may not create an organization.
    const early = (await graphql(stack.url, LoginDocument, { input: { email, password } })).body.data!.login;
    const user = early.user!;
    expect(user.email).toBe('lejla.hadzic@example.com');
    const refused = await graphql(
      stack.url,
      CreateOrganizationDocument,
      { input: { name: 'Too Early', slug: 'too-early' } },
      bearer(early.accessToken!),
    );
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('EMAIL_NOT_VERIFIED');

    // The token arrives the way a person gets it: in a mail, over SMTP, as a link to the web app.
    const mail = await stack.smtp.waitForMessage((m) => m.envelope.to.includes('lejla.hadzic@example.com'));
    expect(mail.parsed.subject).toBe('Confirm your email address');
    const token = linkTokenOf(mail, '/verify-email');
    expect(mail.parsed.html).toContain(
      `href="${TEST_WEB_URL}/verify-email?token=${encodeURIComponent(token)}"`,
    );
    const verified = await graphql(stack.url, VerifyEmailDocument, { input: { token } });
    expect(verified.body.data!.verifyEmail).toEqual({
      user: { id: user.id, emailVerified: true },
      errors: [],
    });

    const login = await graphql(
      stack.url,
      LoginDocument,
      { input: { email: email.toUpperCase(), password } },
      { 'user-agent': 'BiltenWeb/3.1' },
    );
    const session = login.body.data!.login;
    expect(session).toMatchObject({ expiresIn: 900, user: { id: user.id }, errors: [] });
    const auth = bearer(session.accessToken!);

    // Identity verifies with its own keys; catalog fetched identity's JWKS over HTTP.
    expect((await graphql(stack.url, MeDocument, undefined, auth)).body.data!.me).toEqual({
      id: user.id,
      email: 'lejla.hadzic@example.com',
      displayName: 'Lejla',
      emailVerified: true,
    });
    expect((await graphql(stack.url, EVENTS, undefined, auth)).body.errors).toBeUndefined();
    const created = await graphql(
      stack.url,
      CreateOrganizationDocument,
      { input: { name: 'Lejla Events', slug: 'lejla-events' } },
      auth,
    );
    expect(created.body.data!.createOrganization.errors).toEqual([]);
    const sessions = (await graphql(stack.url, MySessionsDocument, undefined, auth)).body.data!.mySessions;
    expect(sessions.find((s) => s.current)).toMatchObject({ ip: '127.0.0.1', userAgent: 'BiltenWeb/3.1' });

    const refreshed = (
      await graphql(stack.url, RefreshTokenDocument, { input: { refreshToken: session.refreshToken! } })
    ).body.data!.refreshToken;
    expect(refreshed.refreshToken).not.toBe(session.refreshToken);
    const claims = JSON.parse(Buffer.from(refreshed.accessToken!.split('.')[1]!, 'base64url').toString());
    expect(claims.orgs[created.body.data!.createOrganization.organization!.id]).toBe('OWNER');

    const logout = await graphql(stack.url, LogoutDocument, {
      input: { refreshToken: refreshed.refreshToken! },
    });
    expect(logout.body.data!.logout.loggedOut).toBe(true);
    const afterLogout = await graphql(stack.url, RefreshTokenDocument, {
      input: { refreshToken: refreshed.refreshToken! },
    });
    expect(afterLogout.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(afterLogout.body.data).toBeNull();
  });

  it('makes exactly one account out of 20 concurrent registrations of one address', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        graphql(stack.url, RegisterDocument, {
          input: {
            email: i % 2 ? 'RACE@example.com' : `race@EXAMPLE.com${' '.repeat(i % 3)}`,
            password: 'twenty at once, one wins',
            displayName: `Racer ${i}`,
          },
        }),
      ),
    );
    for (const result of results) expect(result.status).toBe(200);
    // One answer for all: nobody learns which one made the account, or that it exists (issue 12).
    for (const result of results) expect(result.body.data!.register).toEqual({ accepted: true, errors: [] });
    const rows =
      await stack.sql`select id from identity.users where email_index = ${emailIndexOf('race@example.com')}`;
    expect(rows).toHaveLength(1);
    // The owner hears of the other nineteen attempts by mail: three notices an hour at most.
    const notices = () =>
      stack.smtp.messages.filter(
        (m) =>
          m.envelope.to.includes('race@example.com') &&
          m.parsed.subject === 'Someone tried to use your email address on Bilten',
      );
    await waitFor(async () => notices().length === 3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(notices()).toHaveLength(3);
    expect(notices()[0]!.parsed.text).toContain('sign in with this address and your password');
  });

  it('rejects tampered, foreign-key, alg none, expired and wrong-audience tokens at every subgraph', async () => {
    const user = await stack.signUp();
    const [header, payload, signature] = user.accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const elevated = Buffer.from(JSON.stringify({ ...claims, roles: ['ADMIN'] })).toString('base64url');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const stranger = await createTestSigner();
    const kid = decodeProtectedHeader(user.accessToken).kid;
    // Identity's real key, as it signs: expiry and audience are then the only flaws of their cases.
    const { iat: _iat, exp: _exp, iss: _iss, aud: _aud, ...own } = claims;
    const reissue = async (options: { audience?: string; expiresInSeconds?: number } = {}) => {
      const keys = await identitySigningKeys(options.audience);
      return keys.sign({ ...own, jti: randomUUID() }, options.expiresInSeconds);
    };
    const cases = {
      tampered: `${header}.${elevated}.${signature}`,
      'alg none': `${none}.${payload}.`,
      'wrong key, same kid': await stranger.sign({ sub: user.userId }, { kid }),
      expired: await reissue({ expiresInSeconds: -120 }),
      'wrong audience': await reissue({ audience: 'elsewhere' }),
    };
    // identity (own key store) and catalog (JWKS over HTTP) both say no.
    for (const [name, token] of Object.entries(cases)) {
      for (const query of ['{ me { id } }', EVENTS]) {
        const { body } = await graphql(stack.url, query, undefined, bearer(token));
        expect(body.errors?.[0]?.extensions?.code, `${name}: ${query}`).toBe('UNAUTHENTICATED');
        expect(Object.values(body.data ?? {}).filter(Boolean), name).toEqual([]);
      }
    }
    // The same key and claims, unexpired and for this audience, are accepted everywhere.
    const valid = bearer(await reissue());
    expect((await graphql(stack.url, '{ me { id } }', undefined, valid)).body).toEqual({
      data: { me: { id: user.userId } },
    });
    expect((await graphql(stack.url, EVENTS, undefined, valid)).body.errors).toBeUndefined();
  });
});

describe('JWKS through the gateway', () => {
  const jwksOf = async (base: string) => {
    const response = await fetch(new URL('/.well-known/jwks.json', base));
    return { status: response.status, body: (await response.json()) as JSONWebKeySet };
  };

  it('serves identity’s public keys, and 502 within the deadline when identity does not answer', async () => {
    const direct = await jwksOf(stack.subgraphs.identity.url);
    const viaGateway = await jwksOf(stack.url);
    expect(viaGateway).toEqual(direct);
    expect(viaGateway.body.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(viaGateway.body.keys[0]).not.toHaveProperty('d');

    const silent = createServer(() => {});
    silent.listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    const gateway = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: { identity: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/graphql` },
      limits: { ...TEST_LIMITS, subgraphTimeoutMs: 300 },
      blockFieldSuggestions: false,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const started = Date.now();
      const response = await fetch(new URL('/.well-known/jwks.json', gateway.url));
      expect(response.status).toBe(502);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await gateway.stop();
      silent.closeAllConnections();
      silent.close();
    }
  });
});
