/**
 * Issue 16, Idempotency-Key on every POST of the REST facade: a retry with the same key and body
 * gets the first answer again (and runs nothing), the same key with another body is 422, a retry
 * while the first runs is 409, keys are the caller's own, in Redis (shared by every gateway) or in
 * memory.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gatewayEnv, gatewayOptionsFromEnv, type RunningGateway, startGateway } from '@bilten/gateway';
import { parseEnv, type RawEnv } from '@bilten/platform';
import { captureLogs, type SignedInUser } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { eventInput, gatewayCall, startTestStack, type TestStack } from './support.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';

let stack: TestStack;
let organizationId: string;
let owner: SignedInUser;
let organizerKey: Record<string, string>;
const started: RunningGateway[] = [];

beforeAll(async () => {
  stack = await startTestStack('in-process');
  ({ organizationId, owner } = await stack.organizationOwner(`idem-${randomInt(1e9)}`));
  const { createApiKey } = await gatewayCall<{ createApiKey: { secret: string } }>(
    stack,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
    { input: { organizationId, name: 'box office', scopes: ['events:read', 'events:write'], mode: 'LIVE' } },
    owner.headers,
  );
  organizerKey = { authorization: `Bearer ${createApiKey.secret}` };
}, 120_000);
afterAll(async () => {
  for (const gateway of started.splice(0)) await gateway.stop();
  await stack?.dispose();
});

/** A gateway in front of the stack's subgraphs, configured from variables as in a deployment. */
async function gatewayWith(env: RawEnv): Promise<string> {
  const config = parseEnv(gatewayEnv, {
    HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    // Rate limits are rate-limits.test.ts's subject; here they would only refuse the retries.
    GATEWAY_RATE_LIMIT: 'off',
    ...env,
  });
  const gateway = await startGateway({
    ...gatewayOptionsFromEnv(config, captureLogs('gateway').log),
    supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
    subgraphUrls: Object.fromEntries(Object.values(stack.subgraphs).map(({ name, url }) => [name, url])),
  });
  started.push(gateway);
  return new URL(gateway.url).origin;
}

async function postEvent(origin: string, headers: Record<string, string>, body: unknown) {
  const response = await fetch(`${origin}/api/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** How many events carry `title` (read from the database: the search index follows later). */
const eventsTitled = async (title: string) =>
  (await stack.sql`select id from catalog.events where title = ${title}`).length;

describe.each([
  ['Redis', { REDIS_URL }],
  ['memory', {}],
] as const)('Idempotency-Key, store in %s', (_store, env) => {
  let origin: string;
  beforeAll(async () => {
    origin = await gatewayWith(env);
  });

  it('answers a retry with the first answer, marked Idempotent-Replayed, and creates one event', async () => {
    const key = randomUUID();
    const title = `Once ${randomUUID()}`;
    const first = await postEvent(
      origin,
      { ...organizerKey, 'idempotency-key': key },
      eventInput(organizationId, title),
    );
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // The same body with its keys in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(eventInput(organizationId, title)).reverse());
    const retry = await postEvent(origin, { ...organizerKey, 'idempotency-key': key }, reordered);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('location')).toBe(first.headers.get('location'));
    expect(retry.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(retry.text).toBe(first.text);
    expect(await eventsTitled(title)).toBe(1);
  });

  it('refuses the same key with another body: 422, and runs nothing', async () => {
    const key = randomUUID();
    const title = `Other ${randomUUID()}`;
    const first = await postEvent(
      origin,
      { ...organizerKey, 'idempotency-key': key },
      eventInput(organizationId, title),
    );
    expect(first.status).toBe(201);
    const other = await postEvent(
      origin,
      { ...organizerKey, 'idempotency-key': key },
      eventInput(organizationId, `${title} (changed)`),
    );
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.parse(other.text)).toMatchObject({
      status: 422,
      detail: expect.stringContaining('another request'),
    });
    expect(await eventsTitled(`${title} (changed)`)).toBe(0);
  });

  it('lets one of two concurrent requests with one key run: never two events', async () => {
    const key = randomUUID();
    const title = `Race ${randomUUID()}`;
    const body = eventInput(organizationId, title);
    const answers = await Promise.all([
      postEvent(origin, { ...organizerKey, 'idempotency-key': key }, body),
      postEvent(origin, { ...organizerKey, 'idempotency-key': key }, body),
    ]);
    const statuses = answers.map((answer) => answer.status).sort();
    expect([
      [201, 409],
      [201, 201],
    ]).toContainEqual(statuses);
    const ran = answers.filter((answer) => answer.headers.get('idempotent-replayed') === null);
    expect(ran.filter((answer) => answer.status === 201)).toHaveLength(1);
    const conflict = answers.find((answer) => answer.status === 409);
    if (conflict) expect(JSON.parse(conflict.text)).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(await eventsTitled(title)).toBe(1);
  });

  it("keeps each caller's keys apart: another caller with the same key runs its own request", async () => {
    const key = randomUUID();
    const title = `Apart ${randomUUID()}`;
    const body = eventInput(organizationId, title);
    const byKey = await postEvent(origin, { ...organizerKey, 'idempotency-key': key }, body);
    const byOwner = await postEvent(origin, { ...owner.headers, 'idempotency-key': key }, body);
    expect([byKey.status, byOwner.status]).toEqual([201, 201]);
    expect(byOwner.headers.get('idempotent-replayed')).toBeNull();
    expect(byOwner.headers.get('location')).not.toBe(byKey.headers.get('location'));
    expect(await eventsTitled(title)).toBe(2);
  });

  it('refuses a key over 255 characters or not printable: 400, and runs nothing', async () => {
    const title = `Long ${randomUUID()}`;
    for (const key of ['k'.repeat(256), 'tab\there']) {
      const refused = await postEvent(
        origin,
        { ...organizerKey, 'idempotency-key': key },
        eventInput(organizationId, title),
      );
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.text)).toMatchObject({ status: 400, detail: expect.stringContaining('255') });
    }
    const longest = await postEvent(
      origin,
      { ...organizerKey, 'idempotency-key': 'k'.repeat(255) },
      eventInput(organizationId, title),
    );
    expect(longest.status).toBe(201);
    expect(await eventsTitled(title)).toBe(1);
  });

  it('leaves a POST without the header as before: each one runs', async () => {
    const title = `Twice ${randomUUID()}`;
    const body = eventInput(organizationId, title);
    const answers = [
      await postEvent(origin, organizerKey, body),
      await postEvent(origin, organizerKey, body),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([201, 201]);
    expect(await eventsTitled(title)).toBe(2);
  });
});

describe('Idempotency-Key in the OpenAPI document', () => {
  it('lists the header, the replay marker and the 409 and 422 answers on every POST', async () => {
    const origin = await gatewayWith({});
    const document = (await (await fetch(`${origin}/api/v1/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters: Array<{ name: string; in: string }>;
            responses: Record<string, { headers?: Record<string, unknown> }>;
          }
        >
      >;
    };
    const posts = Object.values(document.paths).flatMap((methods) => (methods.post ? [methods.post] : []));
    expect(posts.length).toBeGreaterThan(0);
    for (const post of posts) {
      expect(post.parameters).toContainEqual(
        expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }),
      );
      expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['409', '422']));
      const success = Object.entries(post.responses).find(([status]) => status.startsWith('2'))![1];
      expect(success.headers).toHaveProperty('Idempotent-Replayed');
    }
    const gets = Object.values(document.paths).flatMap((methods) => (methods.get ? [methods.get] : []));
    for (const get of gets)
      expect(get.parameters.map((parameter) => parameter.name)).not.toContain('Idempotency-Key');
  });
});
