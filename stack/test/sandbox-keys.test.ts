/**
 * Issue 16, test-mode sandboxes through the public door: a TEST key acts on its organization's
 * sandbox and a LIVE key on the organization, the team reaches the sandbox with the roles it
 * holds in the live organization, and the gateway knows each key's facts (`credentialFor`), also
 * while identity cannot be reached.
 */
import { readFileSync } from 'node:fs';
import { startGateway } from '@bilten/gateway';
import { API_VERSIONS, CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import { captureLogs, graphql, type SignedInUser, startFaultProxy } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { eventInput, gatewayCall, startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

const OLDEST = API_VERSIONS[0];

let stack: TestStack;
let organizationId: string;
let owner: SignedInUser;

beforeAll(async () => {
  stack = await startTestStack('in-process');
  ({ organizationId, owner } = await stack.organizationOwner(`sandbox-${Date.now()}`));
}, 120_000);

afterAll(async () => {
  await stack?.dispose();
});

async function createKey(mode: 'LIVE' | 'TEST') {
  const { createApiKey } = await gatewayCall<{
    createApiKey: { apiKey: { id: string; actsOn: { id: string } }; secret: string };
  }>(
    stack,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id actsOn { id } } secret } }',
    { input: { organizationId, name: `${mode} key`, scopes: ['events:read', 'events:write'], mode } },
    owner.headers,
  );
  return {
    id: createApiKey.apiKey.id,
    actsOn: createApiKey.apiKey.actsOn.id,
    headers: { authorization: `Bearer ${createApiKey.secret}` },
  };
}

const CREATE_EVENT = 'mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }';

async function createEvent(headers: Record<string, string>, organization: string) {
  const { body } = await graphql<{ createEvent: { event: { id: string } | null } | null }, unknown>(
    stack.url,
    CREATE_EVENT,
    { input: eventInput(organization, 'Sandbox Night') },
    headers,
  );
  return { id: body.data?.createEvent?.event?.id, code: body.errors?.[0]?.extensions?.code };
}

const getEvent = (origin: string, id: string, headers: Record<string, string>) =>
  fetch(`${origin}/api/v1/events/${id}`, { headers });

describe('keys and the team in the sandbox', () => {
  it('lets a TEST key act in the sandbox only, a LIVE key in the organization only', async () => {
    const test = await createKey('TEST');
    const live = await createKey('LIVE');
    expect(live.actsOn).toBe(organizationId);
    const sandboxId = test.actsOn;
    expect(sandboxId).not.toBe(organizationId);

    const inSandbox = await createEvent(test.headers, sandboxId);
    expect(inSandbox.id).toEqual(expect.any(String));
    expect(await createEvent(test.headers, organizationId)).toEqual({ id: undefined, code: 'FORBIDDEN' });
    expect(await createEvent(live.headers, sandboxId)).toEqual({ id: undefined, code: 'FORBIDDEN' });
    const inLive = await createEvent(live.headers, organizationId);
    expect(inLive.id).toEqual(expect.any(String));

    // Drafts: each key sees its own side's only.
    const origin = new URL(stack.url).origin;
    expect((await getEvent(origin, inSandbox.id!, test.headers)).status).toBe(200);
    expect((await getEvent(origin, inSandbox.id!, live.headers)).status).toBe(404);
    expect((await getEvent(origin, inLive.id!, test.headers)).status).toBe(404);
  });

  it('lets the team act in the sandbox with its live roles, on the token it signed in with', async () => {
    const { openSandbox } = await gatewayCall<{ openSandbox: { sandbox: { id: string } } }>(
      stack,
      'mutation($input: OpenSandboxInput!) { openSandbox(input: $input) { sandbox { id } } }',
      { input: { organizationId } },
      owner.headers,
    );
    const sandboxId = openSandbox.sandbox.id;
    // The owner's token predates the sandbox: the gateway forwards the memberships of now.
    const created = await createEvent(owner.headers, sandboxId);
    expect(created.id).toEqual(expect.any(String));
    const outsider = await stack.signUp();
    expect((await createEvent(outsider.headers, sandboxId)).code).toBe('FORBIDDEN');
  });
});

describe('credentialFor', () => {
  it("gives the gateway the key's facts, and keeps the last ones while identity is unreachable", async () => {
    const test = await createKey('TEST');
    // Pinned on the oldest version before its first use, so no gateway holds other facts of it.
    await stack.sql`update identity.api_keys set api_version = ${OLDEST} where id = ${test.id}`;
    expect(OLDEST).not.toBe(CURRENT_API_VERSION);
    const { id: eventId } = await createEvent(test.headers, test.actsOn);

    const identity = new URL(stack.subgraphs.identity.url);
    const proxy = await startFaultProxy({ host: identity.hostname, port: Number(identity.port) });
    const gateway = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: {
        ...Object.fromEntries(Object.values(stack.subgraphs).map((service) => [service.name, service.url])),
        identity: stack.subgraphs.identity.url.replace(identity.host, `127.0.0.1:${proxy.port}`),
      },
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const origin = new URL(gateway.url).origin;
      const first = await getEvent(origin, eventId!, test.headers);
      expect(first.status).toBe(200);
      expect(first.headers.get('bilten-version')).toBe(OLDEST);

      await proxy.refuse();
      // Past the one second an exchange is reused: the gateway asks identity again, and cannot.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const later = await getEvent(origin, eventId!, test.headers);
      expect(later.status).toBe(200);
      expect(later.headers.get('bilten-version')).toBe(OLDEST);
    } finally {
      await gateway.stop();
      await proxy.close();
    }
  });
});
