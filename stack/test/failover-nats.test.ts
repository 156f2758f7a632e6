import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectJetStreamBus, type EventBus } from '@bilten/platform';
import {
  captureLogs,
  createTestDatabase,
  freePort,
  graphql,
  signUp,
  type TestDatabase,
  waitFor,
} from '@bilten/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Stack, startStack } from '../src/stack.ts';
import { CreateOrganizationDocument } from './generated/operations.ts';
import { TEST_LIMITS } from './support.ts';

// A nats-server of this test's own (the shared one must never stop), its JetStream store in a
// folder kept across its restarts.
const storeDir = mkdtempSync(join(tmpdir(), 'bilten-failover-nats-'));
const { log } = captureLogs('failover-nats');
const CREATED = 'bilten.identity.organization.created';
let natsPort: number;
let nats: ChildProcess | undefined;
let bus: EventBus;
let database: TestDatabase;
let stack: Stack;
let sql: postgres.Sql;

/** nats-server with JetStream on `natsPort`, once it accepts clients. */
async function startNats() {
  const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', storeDir], {
    stdio: 'ignore',
  });
  nats = server;
  await waitFor(async () => {
    if (server.exitCode !== null) throw new Error(`nats-server exited with ${server.exitCode}`);
    const probe = await connect({ servers: `nats://127.0.0.1:${natsPort}`, reconnect: false }).catch(
      () => null,
    );
    await probe?.close();
    return probe !== null;
  });
}

beforeAll(async () => {
  natsPort = await freePort();
  await startNats();
  database = await createTestDatabase();
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
  bus = await connectJetStreamBus({
    url: `nats://127.0.0.1:${natsPort}`,
    stream: 'BILTEN',
    subjectPrefix: '',
    name: 'failover-nats',
    log,
  });
  stack = await startStack({
    databaseUrl: database.url,
    databasePoolSize: 4,
    bus,
    log,
    host: '127.0.0.1',
    ports: { gateway: 0, identity: 0, catalog: 0, orders: 0, billing: 0, messaging: 0, branding: 0 },
    // A loaded machine may take a while over argon2; what this test bounds is the outage, below.
    gateway: { limits: { ...TEST_LIMITS, subgraphTimeoutMs: 10_000 }, blockFieldSuggestions: false },
    env: { AUTH_REGISTRATIONS_PER_IP_PER_HOUR: '10000', RATE_LIMIT_SIGN_UP: 'off' },
  });
});
afterAll(async () => {
  await stack?.stop();
  await bus?.close();
  await sql?.end();
  await database?.drop();
  nats?.kill('SIGKILL');
  rmSync(storeDir, { recursive: true, force: true });
});

it('NATS killed under load: writes go on, the outbox holds, the relay resumes, every event applied exactly once', async () => {
  const url = stack.gateway.url;
  const owner = await signUp(url, sql);
  const readyz = async () =>
    (await fetch(stack.subgraphs.identity.url.replace('/graphql', '/readyz'))).status;

  let sequence = 0;
  const acknowledged: string[] = [];
  const failures: unknown[] = [];
  let running = true;
  // Four clients creating organizations: identity writes each with organization.created in its
  // outbox, which branding consumes to give the organization its default brand kit.
  const clients = Array.from({ length: 4 }, async () => {
    while (running) {
      const slug = `nats-${++sequence}`;
      const { body } = await graphql(
        url,
        CreateOrganizationDocument,
        { input: { name: `Load ${slug}`, slug } },
        owner.headers,
      );
      const id = body.data?.createOrganization.organization?.id;
      if (id && !body.errors && body.data?.createOrganization.errors.length === 0) acknowledged.push(id);
      else failures.push(body);
    }
  });
  const unsent = async () =>
    Number(
      (await sql`select count(*) from identity.outbox where type = ${CREATED} and sent_at is null`)[0]!.count,
    );

  await waitFor(async () => acknowledged.length >= 10, 20_000);
  nats!.kill('SIGKILL');
  await new Promise((resolve) => nats!.once('exit', resolve));
  const killedAt = acknowledged.length;
  // The broker is gone: writes still succeed, their events wait in the outbox.
  await waitFor(async () => acknowledged.length >= killedAt + 20, 20_000);
  expect(await unsent()).toBeGreaterThan(0);
  expect(await readyz()).toBe(503);

  await startNats();
  const restartedAt = acknowledged.length;
  await waitFor(async () => acknowledged.length >= restartedAt + 10, 20_000);
  running = false;
  await Promise.all(clients);
  expect(failures).toEqual([]);

  // The relay resumed by itself, and branding applied each event once.
  await waitFor(async () => (await unsent()) === 0, 30_000);
  const applied = async () =>
    Number(
      (
        await sql`select count(*) from branding.inbox i join identity.outbox o on o.id = i.event_id
          where o.type = ${CREATED}`
      )[0]!.count,
    );
  await waitFor(async () => (await applied()) === acknowledged.length, 30_000);
  const [outboxRows] = await sql`select count(*)::int as n from identity.outbox where type = ${CREATED}`;
  expect(outboxRows!.n).toBe(acknowledged.length);
  const kits = await sql<{ organization_id: string }[]>`
    select organization_id from branding.brand_kits where organization_id in ${sql(acknowledged)}`;
  expect(kits.map((kit) => kit.organization_id).sort()).toEqual([...acknowledged].sort());
  expect(await readyz()).toBe(200);

  // Published once each: a publish retried after the crash was dropped by the server's de-duplication.
  const nc = await connect({ servers: `nats://127.0.0.1:${natsPort}` });
  try {
    const info = await (await jetstreamManager(nc)).streams.info('BILTEN', { subjects_filter: CREATED });
    expect(info.state.subjects?.[CREATED]).toBe(acknowledged.length);
  } finally {
    await nc.close();
  }
}, 90_000);
