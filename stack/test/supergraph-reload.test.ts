/**
 * Issue 19, zero-downtime changes: the gateway watches SUPERGRAPH_PATH (here a ConfigMap-shaped
 * directory, updated by swapping its `..data` symlink as kubelet does) and loads a changed
 * supergraph only once its subgraphs pass the health check. A broken or unhealthy supergraph is
 * refused and counted; requests in flight across the swap all succeed; the new field is served.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import {
  gatewayEnv,
  gatewayOptionsFromEnv,
  type RunningGateway,
  SUBGRAPH_NAMES,
  startGateway,
} from '@bilten/gateway';
import { loadSubgraphSdl, parseEnv } from '@bilten/platform';
import { captureLogs, waitFor } from '@bilten/testkit';
import { parse } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLoad } from '../src/load-loop.ts';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { startTestStack, type TestStack } from './support.ts';

const NOTES_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@shareable"])
  type Query { releaseNote: String }
`;

let stack: TestStack;
let notes: ApolloServer;
let notesUrl: string;
let gateway: RunningGateway;
let configDir: string;
let version = 0;
const logs = captureLogs('gateway');

/** The six subgraphs plus `notes` at `url`: the next release's supergraph. */
function supergraphWithNotes(url: string): string {
  const result = composeServices([
    ...SUBGRAPH_NAMES.map((name) => ({
      name,
      // Where they really are comes from the gateway's subgraph URLs.
      url: `http://localhost:1/${name}`,
      typeDefs: parse(loadSubgraphSdl(new URL(`../../subgraphs/${name}/schema.graphql`, import.meta.url))),
    })),
    { name: 'notes', url, typeDefs: parse(NOTES_SDL) },
  ]);
  if (result.errors) throw new Error(result.errors.map((error) => error.message).join('\n'));
  return result.supergraphSdl;
}

/** Publishes `sdl` as kubelet updates a ConfigMap volume: a new timestamped folder, `..data` swapped atomically. */
function publish(sdl: string) {
  const folder = `..v${++version}`;
  mkdirSync(path.join(configDir, folder));
  writeFileSync(path.join(configDir, folder, 'supergraph.graphql'), sdl);
  symlinkSync(folder, path.join(configDir, '..data_tmp'));
  renameSync(path.join(configDir, '..data_tmp'), path.join(configDir, '..data'));
}

async function reloads(outcome: 'applied' | 'refused'): Promise<number> {
  const text = await (await fetch(`${gateway.operationsUrl}/metrics`)).text();
  const match = new RegExp(
    `^gateway_supergraph_reloads_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`,
    'm',
  ).exec(text);
  return Number(match?.[1] ?? 0);
}

async function post(query: string) {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: unknown[] } };
}

beforeAll(async () => {
  stack = await startTestStack('in-process');
  notes = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(NOTES_SDL),
      resolvers: { Query: { releaseNote: () => 'green is live' } },
    }),
  });
  notesUrl = (await startStandaloneServer(notes, { listen: { host: '127.0.0.1', port: 0 } })).url;
  configDir = mkdtempSync(path.join(tmpdir(), 'bilten-supergraph-'));
  publish(readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'));
  symlinkSync('..data/supergraph.graphql', path.join(configDir, 'supergraph.graphql'));
  gateway = await startGateway({
    ...gatewayOptionsFromEnv(
      parseEnv(gatewayEnv, { HOST: '127.0.0.1', GATEWAY_PORT: '0', GATEWAY_OPS_PORT: '0' }),
      logs.log,
    ),
    supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
    supergraphPath: configDir,
    subgraphUrls: Object.fromEntries(Object.values(stack.subgraphs).map(({ name, url }) => [name, url])),
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await notes?.stop();
  await stack?.dispose();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

it('refuses broken and unhealthy supergraphs, then swaps in a healthy one under load with no failed request', async () => {
  // Composed before the load: composition blocks this process, where the subgraphs run too.
  const unhealthy = supergraphWithNotes('http://127.0.0.1:9/graphql');
  const healthy = supergraphWithNotes(`${notesUrl}graphql`);
  // Reads through the gateway into catalog, the whole time.
  const load = startLoad({
    concurrency: 4,
    send: async () => {
      const { status, body } = await post('{ event(id: "0190a000-0000-7000-8000-000000000000") { id } }');
      return status === 200 && !body.errors ? undefined : `${status} ${JSON.stringify(body.errors)}`;
    },
  });

  publish('type Query { broken');
  await waitFor(async () => (await reloads('refused')) === 1);

  // Composes, but routes to a subgraph nobody serves: its health check fails.
  publish(unhealthy);
  await waitFor(async () => (await reloads('refused')) === 2);
  expect((await post('{ releaseNote }')).body.errors).toBeDefined();

  publish(healthy);
  await waitFor(async () => (await reloads('applied')) === 1);
  const countAtSwap = load.count;
  await waitFor(async () => load.count > countAtSwap + 20);
  const result = await load.stop();

  expect(result.failures).toEqual([]);
  expect(result.failed).toBe(0);
  expect(result.served).toBeGreaterThan(countAtSwap + 20);
  expect((await post('{ releaseNote }')).body).toEqual({ data: { releaseNote: 'green is live' } });
  // The old field still answers on the new supergraph.
  expect((await post('{ event(id: "0190a000-0000-7000-8000-000000000000") { id } }')).status).toBe(200);
  const refusedLines = logs.lines.filter(
    (line) => line.msg === 'new supergraph refused, keeping the one loaded',
  );
  expect(refusedLines).toHaveLength(2);
  expect(String((refusedLines[1]!.err as { message: string }).message)).toContain('health check failed');
}, 60_000);
