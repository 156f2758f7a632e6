/**
 * NATS_STREAM_REPLICAS against a real 3-node JetStream cluster (three nats-server processes this
 * test starts on free ports): the stream and its dead letters are created with the replicas
 * asked for, and a stream made with fewer is raised on the next start, as production's R3 needs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogs } from '@bilten/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectJetStreamBus } from '../src/bus-jetstream.ts';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

const dir = mkdtempSync(join(tmpdir(), 'bilten-nats-cluster-'));
const servers: ChildProcess[] = [];
let url = '';

beforeAll(async () => {
  const clients = await Promise.all([0, 1, 2].map(freePort));
  const routes = await Promise.all([0, 1, 2].map(freePort));
  for (const i of [0, 1, 2]) {
    const config = join(dir, `nats-${i}.conf`);
    writeFileSync(
      config,
      JSON.stringify({
        server_name: `nats-${i}`,
        host: '127.0.0.1',
        port: clients[i],
        jetstream: { store_dir: join(dir, `data-${i}`), max_file_store: 64 * 1024 * 1024 },
        cluster: {
          name: 'test',
          host: '127.0.0.1',
          port: routes[i],
          routes: routes.map((port) => `nats://127.0.0.1:${port}`),
        },
      }),
    );
    servers.push(spawn('nats-server', ['-c', config], { stdio: 'ignore' }));
  }
  url = clients.map((port) => `nats://127.0.0.1:${port}`).join(',');
  // Ready once the servers listen and have elected their JetStream meta leader (account info answers).
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await connect({ servers: url.split(',') })
      .then(async (nc) => {
        try {
          return await (await jetstreamManager(nc)).getAccountInfo();
        } finally {
          await nc.close();
        }
      })
      .catch(() => undefined);
    if (ready) break;
    if (Date.now() > deadline) throw new Error('JetStream cluster not ready within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}, 30_000);

afterAll(() => {
  for (const server of servers) server.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function streamReplicas(name: string) {
  const nc = await connect({ servers: url.split(',') });
  try {
    const info = await (await jetstreamManager(nc)).streams.info(name);
    // Servers holding a copy that is caught up: the leader and its current replicas.
    const current = (info.cluster?.replicas ?? []).filter((r) => r.current).map((r) => r.name);
    return { configured: info.config.num_replicas, copies: new Set([info.cluster?.leader, ...current]).size };
  } finally {
    await nc.close();
  }
}

const open = (replicas?: number) =>
  connectJetStreamBus({
    url,
    stream: 'REPLICATED',
    subjectPrefix: 'replicated.',
    name: 'bilten-test-replicas',
    log: captureLogs().log,
    replicas,
  });

it('creates the stream and its dead letters with one copy by default, and raises them to three', async () => {
  await (await open()).close();
  expect(await streamReplicas('REPLICATED')).toEqual({ configured: 1, copies: 1 });

  await (await open(3)).close();
  for (const name of ['REPLICATED', 'REPLICATED_DLQ']) {
    // The new copies catch up in the background; the stream's configuration says 3 at once.
    expect((await streamReplicas(name)).configured, name).toBe(3);
    const deadline = Date.now() + 10_000;
    while ((await streamReplicas(name)).copies !== 3 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await streamReplicas(name)).copies, name).toBe(3);
  }
}, 40_000);
