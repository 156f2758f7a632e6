import { randomBytes } from 'node:crypto';
import { platformAlertRaised } from '@bilten/contracts/identity';
import { startSubgraph } from '@bilten/platform';
import {
  captureLogs,
  recordEvents,
  type SignedInUser,
  signUp,
  startTestSubgraph,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identitySubgraph } from '../src/server.ts';
import { MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

const TOKEN = randomBytes(32).toString('base64url');

let subgraph: TestSubgraph;
let webhook: URL;
let admin: SignedInUser;
let raised: Awaited<ReturnType<typeof recordEvents<typeof platformAlertRaised.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'jetstream', {
    env: { ...MANY_SIGNUPS, ALERTMANAGER_WEBHOOK_TOKEN: TOKEN },
    ...OWN_TOKENS,
  });
  webhook = new URL('/internal/alertmanager', subgraph.service.url);
  raised = await recordEvents(subgraph.testBus.bus, platformAlertRaised);
  admin = await signUp(subgraph.service.url, subgraph.sql);
  await subgraph.sql`update identity.users set roles = '{ADMIN}' where id = ${admin.userId}`;
}, 60_000);

afterAll(async () => {
  await subgraph?.dispose();
});

/** An alert as Alertmanager posts it: Go's RFC 3339 with nanoseconds, endsAt zero while firing. */
function alert(fingerprint: string, overrides: Record<string, unknown> = {}) {
  return {
    status: 'firing',
    labels: {
      alertname: 'BiltenSLOLatencyFastBurn',
      service: 'gateway',
      severity: 'critical',
      slo: 'latency',
    },
    annotations: {
      summary: 'gateway: slow GraphQL operations burn the latency budget fast',
      description: 'Most operations are slow.',
      runbook: 'k8s/monitoring/README.md#biltenslolatencyfastburn',
    },
    startsAt: '2026-12-07T21:14:03.123456789Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph',
    fingerprint,
    ...overrides,
  };
}

function notification(alerts: unknown[], status = 'firing') {
  return {
    version: '4',
    groupKey: '{}:{alertname="BiltenSLOLatencyFastBurn"}',
    truncatedAlerts: 0,
    status,
    receiver: 'platform-admins',
    groupLabels: { alertname: 'BiltenSLOLatencyFastBurn' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}

/** `authorization` null: no header at all. */
const post = (body: unknown, authorization: string | null = `Bearer ${TOKEN}`, url = webhook) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization === null ? {} : { authorization }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const fingerprint = () => randomBytes(8).toString('hex');

const outboxCount = async (aggregateId: string) => {
  const [{ n }] = await subgraph.sql<[{ n: number }]>`
    select count(*)::int as n from identity.outbox
    where type = ${platformAlertRaised.type} and aggregate_id = ${aggregateId}`;
  return n;
};

describe('POST /internal/alertmanager (issue 19)', () => {
  it('answers 401 without the bearer token, or with another, and records nothing', async () => {
    const id = fingerprint();
    for (const authorization of [null, 'Bearer wrong', `Bearer ${TOKEN}x`, TOKEN, `Basic ${TOKEN}`]) {
      const response = await post(notification([alert(id)]), authorization);
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(await outboxCount(id)).toBe(0);
  });

  it('answers 400 to anything but a version 4 payload, never 500', async () => {
    const id = fingerprint();
    const malformed: Array<[string, unknown]> = [
      ['not JSON', '{"version": "4", '],
      ['empty', ''],
      ['version 3', { ...notification([alert(id)]), version: '3' }],
      ['no alerts', notification([])],
      ['unknown status', notification([alert(id, { status: 'pending' })])],
      ['no fingerprint', notification([alert('')])],
      ['no alertname', notification([alert(id, { labels: { service: 'gateway' } })])],
      ['bad startsAt', notification([alert(id, { startsAt: 'yesterday' })])],
      ['label not a string', notification([alert(id, { labels: { alertname: 'X', severity: 3 } })])],
      ['an array', [notification([alert(id)])]],
    ];
    for (const [what, body] of malformed) {
      const response = await post(body);
      expect(response.status, what).toBe(400);
      expect(await response.text(), what).toMatch(/JSON|version 4/);
    }
    expect(await outboxCount(id)).toBe(0);
  });

  it('refuses an oversized body (413) before it is parsed', async () => {
    const id = fingerprint();
    const huge = alert(id, { annotations: { summary: 'x'.repeat(1024 * 1024) } });
    expect((await post(notification([huge]))).status).toBe(413);
    expect(await outboxCount(id)).toBe(0);
  });

  it('announces each alert once to the platform admins, firing then resolved', async () => {
    const [slow, failing] = [fingerprint(), fingerprint()];
    const firing = notification([
      alert(slow),
      alert(failing, {
        labels: { alertname: 'BiltenOutboxBacklogStale' },
        annotations: { description: '  The relay is not publishing.  ' },
      }),
    ]);
    const response = await post(firing);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ received: 2, announced: 2 });

    const published = await waitFor(async () => {
      const ours = raised.filter((event) => [slow, failing].includes(event.payload.fingerprint));
      return ours.length === 2 && ours;
    });
    const recipient = expect.objectContaining({ userId: admin.userId, email: admin.email });
    expect(published.find((event) => event.payload.fingerprint === slow)!.payload).toEqual({
      alertname: 'BiltenSLOLatencyFastBurn',
      status: 'firing',
      severity: 'critical',
      service: 'gateway',
      summary: 'gateway: slow GraphQL operations burn the latency budget fast',
      runbook: 'k8s/monitoring/README.md#biltenslolatencyfastburn',
      startsAt: '2026-12-07T21:14:03.123Z',
      fingerprint: slow,
      recipients: expect.arrayContaining([recipient]),
    });
    // No severity, service or runbook: null; no summary: the description, trimmed.
    expect(published.find((event) => event.payload.fingerprint === failing)!.payload).toMatchObject({
      alertname: 'BiltenOutboxBacklogStale',
      severity: null,
      service: null,
      summary: 'The relay is not publishing.',
      runbook: null,
    });

    // Alertmanager's repeat notification (and a group listing one alert twice) announce nothing new.
    const again = await post(notification([alert(slow), alert(slow), alert(failing)]));
    expect(await again.json()).toEqual({ received: 3, announced: 0 });
    expect([await outboxCount(slow), await outboxCount(failing)]).toEqual([1, 1]);

    const resolved = await post(
      notification([alert(slow, { status: 'resolved', endsAt: '2026-12-07T21:30:00Z' })], 'resolved'),
    );
    expect(await resolved.json()).toEqual({ received: 1, announced: 1 });
    const done = await waitFor(async () =>
      raised.find((event) => event.payload.fingerprint === slow && event.payload.status === 'resolved'),
    );
    expect(done.payload.recipients).toEqual(expect.arrayContaining([recipient]));
    expect(await outboxCount(slow)).toBe(2);
  });

  it('answers 503 while ALERTMANAGER_WEBHOOK_TOKEN is unset', async () => {
    const unset = await startSubgraph(identitySubgraph, {
      databaseUrl: subgraph.database.url,
      bus: subgraph.testBus.bus,
      log: captureLogs('identity-no-alertmanager').log,
      host: '127.0.0.1',
      port: 0,
      env: { ...MANY_SIGNUPS, EVENT_PROCESSING: 'off' },
    });
    try {
      const response = await post(
        notification([alert(fingerprint())]),
        `Bearer ${TOKEN}`,
        new URL('/internal/alertmanager', unset.url),
      );
      expect(response.status).toBe(503);
      expect(await response.text()).toMatch(/not configured/);
    } finally {
      await unset.stop();
    }
  });
});
