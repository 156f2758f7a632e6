/**
 * Issue 19, zero-downtime changes: runtime settings (log level, rate limits, the read-only switch) reload from
 * GATEWAY_SETTINGS_PATH when the file changes, and on SIGHUP (RunningGateway.reload), under load,
 * with no failed request. Invalid settings are refused with a log line; the ones in force stay.
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gatewayEnv, gatewayOptionsFromEnv, type RunningGateway, startGateway } from '@bilten/gateway';
import { parseEnv } from '@bilten/platform';
import { captureLogs, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLoad } from '../src/load-loop.ts';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let gateway: RunningGateway;
let settingsDir: string;
/** The user whose limit is lowered (signed up before the load: argon2 is slow on a busy machine). */
let limited: Record<string, string>;
const logs = captureLogs('gateway');

const write = (settings: unknown) =>
  writeFileSync(
    path.join(settingsDir, 'settings.json'),
    typeof settings === 'string' ? settings : JSON.stringify(settings),
  );

async function reloads(outcome: 'applied' | 'refused'): Promise<number> {
  const text = await (await fetch(`${gateway.operationsUrl}/metrics`)).text();
  const pattern = new RegExp(
    `^gateway_settings_reloads_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`,
    'm',
  );
  return Number(pattern.exec(text)?.[1] ?? 0);
}

/** A read through catalog as client `address` (or the user `headers` sign in) (the gateway trusts loopback to name it): its status. */
async function read(
  address: string,
  query = '{ event(id: "0190a000-0000-7000-8000-000000000000") { id } }',
  headers: Record<string, string> = {},
) {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...headers },
    body: JSON.stringify({ query }),
  });
  await response.arrayBuffer();
  return response.status;
}

const LOWERED = 'address=100000/60,user=3/3600';

const operationLines = () => logs.lines.filter((line) => line.msg === 'graphql operation').length;

beforeAll(async () => {
  stack = await startTestStack('in-process');
  limited = (await stack.signUp()).headers;
  settingsDir = mkdtempSync(path.join(tmpdir(), 'bilten-settings-'));
  write({ logLevel: 'info' });
  const config = parseEnv(gatewayEnv, {
    HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_OPS_PORT: '0',
    GATEWAY_TRUST_PROXY: '127.0.0.1',
    GATEWAY_RATE_LIMIT: 'address=100000/60,user=6000/60',
  });
  gateway = await startGateway({
    ...gatewayOptionsFromEnv(config, logs.log),
    supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
    settingsPath: settingsDir,
    subgraphUrls: Object.fromEntries(Object.values(stack.subgraphs).map(({ name, url }) => [name, url])),
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await stack?.dispose();
  if (settingsDir) rmSync(settingsDir, { recursive: true, force: true });
});

it('applies a lower rate limit and a new log level under load, refuses invalid settings, with no failed request', async () => {
  // Anonymous clients (their address's bucket) stay far under their limit: none of their requests may fail.
  const load = startLoad({
    concurrency: 4,
    send: async (worker) => {
      const status = await read(`10.0.0.${worker + 1}`);
      return status === 200 ? undefined : `status ${status}`;
    },
  });
  const asLimited = () => read(`10.9.${randomInt(256)}.${randomInt(1, 255)}`, '{ __typename }', limited);
  for (let index = 0; index < 5; index++) expect(await asLimited()).toBe(200);

  // Users' limit lowered: the user's next requests (one unit each, the least an operation costs)
  // empty the new bucket of 3.
  write({ logLevel: 'info', rateLimit: LOWERED });
  await waitFor(async () => (await reloads('applied')) === 1);
  const statuses = [];
  for (let index = 0; index < 5; index++) statuses.push(await asLimited());
  expect(statuses).toEqual([200, 200, 200, 429, 429]);

  // Invalid (an unknown kind, a misspelt key, not JSON): refused, the limit in force stays.
  for (const [refused, settings] of [
    [1, { rateLimit: 'robots=1/1' }],
    [2, { logLevl: 'debug' }],
    [3, '{ "logLevel": '],
  ] as const) {
    write(settings);
    await waitFor(async () => (await reloads('refused')) === refused);
  }
  expect(await asLimited()).toBe(429);
  expect(
    logs.lines.filter((line) => line.msg === 'settings refused, keeping the ones in force'),
  ).toHaveLength(3);

  // The log level, applied on SIGHUP's path (the watcher would do it too): `warn` hides the
  // per-operation info lines, `info` brings them back.
  write({ logLevel: 'warn', rateLimit: LOWERED });
  await gateway.reload();
  await waitFor(async () => (await reloads('applied')) === 2);
  const quietFrom = operationLines();
  const servedBefore = load.count;
  await waitFor(async () => load.count > servedBefore + 20);
  expect(operationLines()).toBe(quietFrom);
  write({ logLevel: 'info', rateLimit: LOWERED });
  await waitFor(async () => operationLines() > quietFrom + 10);

  // Maintenance: `features.readOnly` refuses mutations (503 UNAVAILABLE) while the load's reads go on.
  const mutate = async () => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.1.0.1' },
      body: JSON.stringify({ query: 'mutation Probe { __typename }' }),
    });
    const body = (await response.json()) as { errors?: Array<{ extensions: { code: string } }> };
    return [response.status, body.errors?.[0]?.extensions.code ?? 'ok', response.headers.get('retry-after')];
  };
  expect(await mutate()).toEqual([200, 'ok', null]);
  write({ logLevel: 'info', rateLimit: LOWERED, features: { readOnly: true } });
  await waitFor(async () => (await reloads('applied')) === 4);
  expect(await mutate()).toEqual([503, 'UNAVAILABLE', '60']);
  write({ logLevel: 'info', rateLimit: LOWERED, features: { readOnly: false } });
  await waitFor(async () => (await reloads('applied')) === 5);
  expect(await mutate()).toEqual([200, 'ok', null]);

  const result = await load.stop();
  expect(result.failures).toEqual([]);
  expect(result.failed).toBe(0);
  expect(result.served).toBeGreaterThan(50);
}, 60_000);
