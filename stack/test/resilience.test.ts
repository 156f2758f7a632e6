import { readFileSync } from 'node:fs';
import { startGateway } from '@bilten/gateway';
import { identitySubgraph } from '@bilten/identity';
import { createInProcessBus, type RunningService, startSubgraph } from '@bilten/platform';
import {
  captureLogs,
  createTestBus,
  createTestDatabase,
  graphql,
  signUp,
  startFaultProxy,
  TEST_NATS_URL,
  waitFor,
} from '@bilten/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { CreateOrganizationDocument, OrganizationWithBrandingDocument } from './generated/operations.ts';
import { startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('in-process');
});
afterAll(async () => {
  await stack?.dispose();
});

describe('a subgraph that is down or hangs', () => {
  it('yields partial data with an error for its fields, within the timeout', async () => {
    const branding = new URL(stack.subgraphs.branding.url);
    const proxy = await startFaultProxy({ host: branding.hostname, port: Number(branding.port) });
    const gateway: RunningService = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: {
        ...Object.fromEntries(Object.values(stack.subgraphs).map((service) => [service.name, service.url])),
        branding: `http://127.0.0.1:${proxy.port}/graphql`,
      },
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const created = await graphql(
        gateway.url,
        CreateOrganizationDocument,
        { input: { name: 'Partial', slug: 'partial' } },
        (await stack.signUp()).headers,
      );
      const id = created.body.data!.createOrganization.organization!.id;
      const healthy = await waitFor(async () => {
        const { body } = await graphql(gateway.url, OrganizationWithBrandingDocument, { id });
        return body.data?.organization?.branding ? body : undefined;
      });
      expect(healthy.errors).toBeUndefined();

      const expectPartial = async (reason: RegExp, withinMs: number) => {
        const started = Date.now();
        const { status, body } = await graphql(gateway.url, OrganizationWithBrandingDocument, { id });
        expect(Date.now() - started).toBeLessThan(withinMs);
        expect(status).toBe(200);
        expect(body.data?.organization).toEqual({ id, name: 'Partial', branding: null });
        expect(body.errors).toEqual([
          expect.objectContaining({
            message: expect.stringMatching(reason),
            extensions: expect.objectContaining({ code: 'INTERNAL', serviceName: 'branding' }),
          }),
        ]);
      };

      await proxy.refuse();
      await expectPartial(/^subgraph branding is unavailable$/, 1_000);

      await proxy.restore();
      proxy.hang();
      await expectPartial(
        new RegExp(`^subgraph branding did not answer within ${TEST_LIMITS.subgraphTimeoutMs} ms$`),
        TEST_LIMITS.subgraphTimeoutMs + 1_000,
      );

      await proxy.restore();
      await waitFor(
        async () =>
          (await graphql(gateway.url, OrganizationWithBrandingDocument, { id })).body.data?.organization
            ?.branding,
      );

      // And for real: the branding service itself stops mid-test.
      await stack.subgraphs.branding.stop();
      await expectPartial(/^subgraph branding is unavailable$/, 1_000);
    } finally {
      await gateway.stop();
      await proxy.close();
    }
  });
});

describe('/readyz', () => {
  it('turns unhealthy when the database is unreachable and healthy again after', async () => {
    const database = new URL(stack.databaseUrl);
    const proxy = await startFaultProxy({ host: database.hostname, port: Number(database.port || 5432) });
    const proxied = new URL(stack.databaseUrl);
    proxied.port = String(proxy.port);
    const identity = await startSubgraph(identitySubgraph, {
      databaseUrl: proxied.toString(),
      bus: createInProcessBus(captureLogs().log),
      log: captureLogs('identity').log,
      host: '127.0.0.1',
      port: 0,
      // Requests only: a relay polling while the proxy drops its sockets can hit postgres.js 3.4.9's
      // unguarded write on a closed socket (porsager/postgres#1208), an uncaught TypeError that
      // crashes the process. What /readyz says is what this test is about.
      processEvents: false,
    });
    const readyz = async () => {
      const response = await fetch(identity.url.replace('/graphql', '/readyz'));
      return {
        status: response.status,
        body: (await response.json()) as { status: string; checks: Record<string, string> },
      };
    };
    try {
      expect(await readyz()).toEqual({
        status: 200,
        body: { status: 'ok', checks: { database: 'ok', bus: 'ok' } },
      });
      await proxy.refuse();
      const down = await readyz();
      expect(down.status).toBe(503);
      expect(down.body.status).toBe('unavailable');
      expect(down.body.checks.database).not.toBe('ok');
      expect(down.body.checks.bus).toBe('ok');
      await proxy.restore();
      await waitFor(async () => (await readyz()).status === 200);
    } finally {
      await identity.stop();
      await proxy.close();
    }
  });

  it('reports the bus unhealthy while NATS is unreachable, and the relay catches up by itself after', async () => {
    const proxy = await startFaultProxy({
      host: '127.0.0.1',
      port: Number(new URL(TEST_NATS_URL).port || 4222),
    });
    const { log } = captureLogs('identity');
    const testBus = await createTestBus('jetstream', log, { url: `nats://127.0.0.1:${proxy.port}` });
    const database = await createTestDatabase();
    const identity = await startSubgraph(identitySubgraph, {
      databaseUrl: database.url,
      bus: testBus.bus,
      log,
      host: '127.0.0.1',
      port: 0,
      relay: { pollIntervalMs: 200 },
    });
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    const readyz = async () => (await fetch(identity.url.replace('/graphql', '/readyz'))).json();
    const metric = async (name: string, label = '') => {
      const text = await (await fetch(identity.url.replace('/graphql', '/metrics'))).text();
      return Number(new RegExp(`^${name}(?:\\{[^}]*${label}[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
    };
    try {
      expect(await readyz()).toEqual({ status: 'ok', checks: { database: 'ok', bus: 'ok' } });
      // Signing up publishes user.registered; let that go out before the broker goes away.
      const owner = await signUp(identity.url, sql);
      await waitFor(async () => (await metric('outbox_backlog')) === 0);
      await proxy.refuse();
      await waitFor(async () => ((await readyz()) as { checks: { bus: string } }).checks.bus !== 'ok');
      // Writes go on while the broker is away: the events wait in the outbox, visible in /metrics.
      const created = await graphql(
        identity.url,
        CreateOrganizationDocument,
        { input: { name: 'Offline', slug: 'offline' } },
        owner.headers,
      );
      expect(created.body.data?.createOrganization.errors).toEqual([]);
      await waitFor(async () => (await metric('outbox_backlog')) === 1);
      expect(await metric('outbox_oldest_unsent_age_seconds')).toBeGreaterThanOrEqual(0);
      await proxy.restore();
      await waitFor(async () => ((await readyz()) as { status: string }).status === 'ok', 15_000);
      await waitFor(
        async () =>
          (
            await sql`select 1 from identity.outbox
              where sent_at is not null and type = 'bilten.identity.organization.created'`
          ).length === 1,
        15_000,
      );
      expect(await metric('outbox_backlog')).toBe(0);
      expect(await metric('events_published_total', 'type="bilten.identity.organization.created"')).toBe(1);
    } finally {
      await sql.end();
      await identity.stop();
      await testBus.dispose();
      await database.drop();
      await proxy.close();
    }
  }, 60_000);
});
