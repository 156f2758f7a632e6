import { randomUUID } from 'node:crypto';
import { apiKeyRevoked, organizationClosed, sessionsRevoked } from '@bilten/contracts/identity';
import { captureLogs, createTestBus, createTestSigner, type TestBus, waitFor } from '@bilten/testkit';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createTokenVerifier, type Viewer } from '../src/auth.ts';
import { newEvent } from '../src/events.ts';
import { followRevocations } from '../src/revocations.ts';

const user = (sessionId: string): Viewer => ({
  kind: 'user',
  userId: randomUUID(),
  roles: [],
  organizations: {},
  tokenId: randomUUID(),
  emailVerified: true,
  sessionId,
});
const key = (keyId: string, organizationId = randomUUID()): Viewer => ({
  kind: 'apiKey',
  keyId,
  organizationId,
  scopes: ['events:read'],
  mode: 'TEST',
  tokenId: randomUUID(),
});
const sessionsEnded = (...sessionIds: string[]) =>
  newEvent(sessionsRevoked, randomUUID(), 1, { userId: randomUUID(), sessionIds, reason: 'logout' });

let testBus: TestBus | undefined;
afterEach(async () => {
  await testBus?.dispose();
  testBus = undefined;
});

describe.each(['jetstream', 'in-process'] as const)('followRevocations (%s)', (kind) => {
  it('refuses ended sessions, revoked keys and the keys of closed organizations as their events arrive', async () => {
    testBus = await createTestBus(kind, captureLogs().log);
    const revocations = await followRevocations(testBus.bus, captureLogs().log);
    const [session, other, apiKey, organization] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    expect(revocations.revoked(user(session))).toBe(false);

    await testBus.bus.publish(sessionsEnded(session));
    await testBus.bus.publish(
      newEvent(apiKeyRevoked, apiKey, 1, { apiKeyId: apiKey, organizationId: organization }),
    );
    await testBus.bus.publish(
      newEvent(organizationClosed, organization, 1, {
        organizationId: organization,
        closureId: randomUUID(),
      }),
    );
    await waitFor(async () => revocations.revoked(user(session)) || undefined);
    await waitFor(async () => revocations.revoked(key(apiKey)) || undefined);
    // Events of different subjects may arrive in any order: the closure can come last.
    await waitFor(async () => revocations.revoked(key(randomUUID(), organization)) || undefined);
    expect(revocations.revoked(user(other))).toBe(false);
    expect(revocations.revoked(key(randomUUID()))).toBe(false);
    expect(revocations.revoked({ kind: 'anonymous' })).toBe(false);
    await revocations.stop();
  });

  it('makes the token verifier answer UNAUTHENTICATED for a revoked session', async () => {
    testBus = await createTestBus(kind, captureLogs().log);
    const revocations = await followRevocations(testBus.bus, captureLogs().log);
    const signer = await createTestSigner();
    const verify = createTokenVerifier({ ...signer, revocations });
    const sid = randomUUID();
    const token = `Bearer ${await signer.sign({ sid })}`;
    expect((await verify(token)).kind).toBe('user');
    await testBus.bus.publish(sessionsEnded(sid));
    await waitFor(async () => revocations.revoked(user(sid)) || undefined);
    await expect(verify(token)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    await revocations.stop();
  });
});

describe('followRevocations on JetStream', () => {
  it('starts with the revocations of the last 16 minutes: a restarted replica forgets none still in force', async () => {
    testBus = await createTestBus('jetstream', captureLogs().log);
    const recent = randomUUID();
    const old = randomUUID();
    await testBus.bus.publish(sessionsEnded(recent));
    // Every token of a session ended 17 minutes ago is older than the 15 minutes a token is accepted.
    const long = sessionsEnded(old);
    await testBus.bus.publish({ ...long, occurredAt: new Date(Date.now() - 17 * 60_000).toISOString() });

    const revocations = await followRevocations(testBus.bus, captureLogs().log);
    // Known as soon as it resolves: no request is served before the history is read.
    expect(revocations.revoked(user(recent))).toBe(true);
    expect(revocations.revoked(user(old))).toBe(false);
    await revocations.stop();
  });
});

describe('the token verifier', () => {
  it('refuses tokens older than 15 minutes, whatever their expiry, so no revocation need be kept longer', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'EdDSA' }] };
    const verify = createTokenVerifier({ issuer: 'bilten-identity', audience: 'bilten', jwks });
    const issued = (minutesAgo: number) =>
      new SignJWT({ sid: randomUUID() })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'k' })
        .setSubject(randomUUID())
        .setJti(randomUUID())
        .setIssuer('bilten-identity')
        .setAudience('bilten')
        .setIssuedAt(Math.floor(Date.now() / 1000) - minutesAgo * 60)
        .setExpirationTime('1h')
        .sign(privateKey);
    expect((await verify(`Bearer ${await issued(14)}`)).kind).toBe('user');
    await expect(verify(`Bearer ${await issued(16)}`)).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });
});
