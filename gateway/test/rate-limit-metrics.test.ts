/**
 * The gateway counts its own rate-limit refusals on its /metrics (operations port), by kind of
 * client and policy, never by who the client is. `{ __typename }` is answered by the gateway
 * alone, so no subgraph runs here.
 */
import { readFileSync } from 'node:fs';
import { parseEnv } from '@bilten/platform';
import { captureLogs } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv } from '../src/config.ts';
import { gatewayOptionsFromEnv, type RunningGateway, startGateway } from '../src/server.ts';

const SUPERGRAPH = new URL('../../schema/supergraph.graphql', import.meta.url);
const UNREACHABLE = 'http://127.0.0.1:9/graphql';

let gateway: RunningGateway;

beforeAll(async () => {
  const config = parseEnv(gatewayEnv, {
    HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_OPS_PORT: '0',
    GATEWAY_TRUST_PROXY: '127.0.0.1',
    GATEWAY_RATE_LIMIT: 'address=3/3600',
  });
  const subgraphs = ['identity', 'catalog', 'orders', 'billing', 'messaging', 'branding'];
  gateway = await startGateway({
    ...gatewayOptionsFromEnv(config, captureLogs('gateway-rate-limit-metrics').log),
    supergraphSdl: readFileSync(SUPERGRAPH, 'utf8'),
    subgraphUrls: Object.fromEntries(subgraphs.map((name) => [name, UNREACHABLE])),
  });
});

afterAll(async () => {
  await gateway?.stop();
});

const ask = (address: string) =>
  fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ query: '{ __typename }' }),
  });

const metrics = async () => (await fetch(`${gateway.operationsUrl}/metrics`)).text();

const refusalSeries = async () =>
  (await metrics()).split('\n').filter((line) => line.startsWith('gateway_rate_limit_refusals_total{'));

/** Refusals counted for client addresses so far (no series before the first). */
async function addressRefusals() {
  const line = (await refusalSeries()).find((series) => series.includes('kind="address"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('gateway_rate_limit_refusals_total', () => {
  it('goes up by each 429 the gateway answers, labelled by limit and never by client', async () => {
    const before = await addressRefusals();
    const address = '10.20.30.40';
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await ask(address)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(await addressRefusals()).toBe(before + 2);

    const series = await refusalSeries();
    expect(series).toEqual([expect.stringMatching(/^gateway_rate_limit_refusals_total\{[^}]*\} 2$/)]);
    expect(series[0]).toContain('kind="address"');
    expect(series[0]).toContain('policy="default"');
    expect(series.join('\n')).not.toContain(address);
  });

  it('counts nothing for an answer that was not refused', async () => {
    const before = await addressRefusals();
    expect((await ask('10.20.30.41')).status).toBe(200);
    expect(await addressRefusals()).toBe(before);
  });
});
