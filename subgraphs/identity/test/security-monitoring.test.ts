import { randomUUID } from 'node:crypto';
import { securityEventsRecorded as catalogSecurityEvents } from '@bilten/contracts/catalog';
import { securityAlertRaised } from '@bilten/contracts/identity';
import { securityEventsRecorded as ordersSecurityEvents } from '@bilten/contracts/orders';
import { newEvent, type SecurityEvent } from '@bilten/platform';
import { insertAccounts, recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identitySubgraph } from '../src/server.ts';
import { codeOf } from './support.ts';

let subgraph: TestSubgraph;
let alerts: Awaited<ReturnType<typeof recordEvents<typeof securityAlertRaised.payload>>>;

beforeAll(async () => {
  // Default thresholds (30 failures over 10 accounts), a smaller FORBIDDEN burst.
  subgraph = await startTestSubgraph(identitySubgraph, 'jetstream', {
    env: { SECURITY_FORBIDDEN_BURST: '5' },
  });
  alerts = await recordEvents(subgraph.testBus.bus, securityAlertRaised);
});

afterAll(async () => {
  await subgraph?.dispose();
});

function event(type: SecurityEvent['type'], overrides: Partial<SecurityEvent> = {}): SecurityEvent {
  return {
    type,
    occurredAt: new Date().toISOString(),
    actorId: null,
    actorKind: 'anonymous',
    ip: '198.51.100.7',
    organizationId: null,
    requestId: randomUUID(),
    target: null,
    details: {},
    ...overrides,
  };
}

async function newAdmin() {
  const id = randomUUID();
  await insertAccounts(subgraph.sql, [
    { id, email: `${id}@example.com`, displayName: 'Admin', roles: ['ADMIN'] },
  ]);
  return { id, headers: await subgraph.bearer({ sub: id, roles: ['ADMIN'] }) };
}

const alertsOf = (rule: string, subject: string) =>
  subgraph.sql`select * from identity.security_alerts where rule = ${rule} and dedupe_key like ${`${rule}:${subject}:%`}`;

describe('detection rules', () => {
  it('30 failed sign-ins over 10 accounts from one address raise one HIGH alert with an incident, to the admins', async () => {
    const admin = await newAdmin();
    const ip = '203.0.113.30';
    const failures = Array.from({ length: 30 }, (_, i) =>
      event('login_failed', { ip, target: 'login', details: { account: `account-${i % 10}` } }),
    );
    // 29 are not enough: no alert yet.
    await subgraph.testBus.bus.publish(
      newEvent(ordersSecurityEvents, 'r1', 1, { events: failures.slice(0, 29) }),
    );
    await waitFor(
      async () => (await subgraph.sql`select 1 from identity.security_events where ip = ${ip}`).length === 29,
    );
    expect(await alertsOf('credential_stuffing', ip)).toHaveLength(0);

    const last = newEvent(ordersSecurityEvents, 'r2', 1, { events: failures.slice(29) });
    await subgraph.testBus.bus.publish(last);
    await waitFor(async () => (await alertsOf('credential_stuffing', ip)).length === 1);
    const [alert] = await alertsOf('credential_stuffing', ip);
    expect(alert!.severity).toBe('HIGH');
    expect(alert!.incident_id).toBeTruthy();
    const [incident] = await subgraph.sql`select * from identity.incidents where id = ${alert!.incident_id}`;
    expect(incident!.opened_by).toBe('detection:credential_stuffing');

    const raised = await waitFor(async () => alerts.find((e) => e.payload.alertId === alert!.id));
    expect(raised.payload.incidentId).toBe(alert!.incident_id);
    expect(raised.payload.recipients.map((r) => r.userId)).toContain(admin.id);

    // A replay is dropped by the inbox, and more of the same burst raise nothing new.
    await subgraph.testBus.bus.publish(last);
    await subgraph.testBus.bus.publish(
      newEvent(ordersSecurityEvents, 'r3', 1, {
        events: [event('login_failed', { ip, details: { account: 'x' } })],
      }),
    );
    await waitFor(
      async () => (await subgraph.sql`select 1 from identity.security_events where ip = ${ip}`).length === 31,
    );
    expect(await alertsOf('credential_stuffing', ip)).toHaveLength(1);
  });

  it('failures spread over fewer than 10 accounts are no stuffing', async () => {
    const ip = '203.0.113.31';
    const failures = Array.from({ length: 40 }, (_, i) =>
      event('login_failed', { ip, details: { account: `account-${i % 9}` } }),
    );
    await subgraph.testBus.bus.publish(newEvent(ordersSecurityEvents, 'r4', 1, { events: failures }));
    await waitFor(
      async () => (await subgraph.sql`select 1 from identity.security_events where ip = ${ip}`).length === 40,
    );
    expect(await alertsOf('credential_stuffing', ip)).toHaveLength(0);
  });

  it('a burst of FORBIDDEN from one user raises one MEDIUM alert; another user is not counted with them', async () => {
    const user = randomUUID();
    const other = randomUUID();
    const forbidden = (actorId: string) =>
      event('forbidden', { actorId, actorKind: 'user', target: 'order' });
    await subgraph.testBus.bus.publish(
      newEvent(catalogSecurityEvents, 'f1', 1, {
        events: [
          ...Array.from({ length: 4 }, () => forbidden(user)),
          ...Array.from({ length: 4 }, () => forbidden(other)),
        ],
      }),
    );
    await waitFor(
      async () =>
        (await subgraph.sql`select 1 from identity.security_events where actor_id in (${user}, ${other})`)
          .length === 8,
    );
    expect(await alertsOf('forbidden_burst', user)).toHaveLength(0);
    await subgraph.testBus.bus.publish(
      newEvent(catalogSecurityEvents, 'f2', 1, { events: [forbidden(user), forbidden(user)] }),
    );
    await waitFor(async () => (await alertsOf('forbidden_burst', user)).length === 1);
    const [alert] = await alertsOf('forbidden_burst', user);
    expect(alert!.severity).toBe('MEDIUM');
    expect(alert!.incident_id).toBeNull();
    expect(await alertsOf('forbidden_burst', other)).toHaveLength(0);
  });
});

describe('token reuse and admin exports', () => {
  it('a reused refresh token raises one HIGH alert per revoked session, each with an incident', async () => {
    const userId = randomUUID();
    const reuse = (sessionId: string) =>
      event('refresh_token_reused', { actorId: userId, actorKind: 'user', details: { sessionId } });
    const [first, second] = [randomUUID(), randomUUID()];
    const report = newEvent(ordersSecurityEvents, 't1', 1, { events: [reuse(first)] });
    await subgraph.testBus.bus.publish(report);
    await subgraph.testBus.bus.publish(report);
    await subgraph.testBus.bus.publish(newEvent(ordersSecurityEvents, 't2', 1, { events: [reuse(second)] }));
    await waitFor(async () => (await alertsOf('refresh_token_reuse', userId)).length === 2);
    const raised = await alertsOf('refresh_token_reuse', userId);
    expect(raised.map((alert) => alert.severity)).toEqual(['HIGH', 'HIGH']);
    const incidents = await subgraph.sql`
      select opened_by from identity.incidents where id in ${subgraph.sql(raised.map((alert) => alert.incident_id))}`;
    expect(incidents.map((incident) => incident.opened_by)).toEqual([
      'detection:refresh_token_reuse',
      'detection:refresh_token_reuse',
    ]);
    // The redelivered report was dropped by the inbox.
    expect(
      await subgraph.sql`select 1 from identity.security_events where actor_id = ${userId}`,
    ).toHaveLength(2);
  });

  it("a platform admin's data export raises an admin_bulk_export alert in the same transaction; a user's does not", async () => {
    const admin = await newAdmin();
    const exported = await subgraph.gql<{
      requestDataExport: { request: { id: string } | null; errors: unknown[] };
    }>('mutation { requestDataExport { request { id } errors { code message } } }', {}, admin.headers);
    expect(exported.errors).toBeUndefined();
    const requestId = exported.data!.requestDataExport.request!.id;
    const [alert] = await alertsOf('admin_bulk_export', `${admin.id}:export:${requestId}`);
    expect(alert).toMatchObject({ severity: 'HIGH', incident_id: null });
    expect(alert!.details).toMatchObject({ actorId: admin.id, privacyRequestId: requestId });
    const raised = await waitFor(async () => alerts.find((e) => e.payload.alertId === alert!.id));
    expect(raised.payload.recipients.map((r) => r.userId)).toContain(admin.id);

    const userId = randomUUID();
    await insertAccounts(subgraph.sql, [{ id: userId, email: `${userId}@example.com`, displayName: 'User' }]);
    const user = await subgraph.bearer({ sub: userId, roles: [] });
    const own = await subgraph.gql<{ requestDataExport: { errors: unknown[] } }>(
      'mutation { requestDataExport { errors { code } } }',
      {},
      user,
    );
    expect(own.data!.requestDataExport.errors).toEqual([]);
    expect(await alertsOf('admin_bulk_export', userId)).toHaveLength(0);
  });
});

describe('securityEvents and securityAlerts', () => {
  const EVENTS = `query($filter: SecurityEventFilter) { securityEvents(filter: $filter, first: 5) { edges { node { service type ip target details } } } }`;
  const ALERTS = `query { securityAlerts(first: 5) { edges { node { rule severity summary incidentId } } } }`;

  it('platform admins read the stream and the alerts; anyone else is FORBIDDEN', async () => {
    const admin = await newAdmin();
    const events = await subgraph.gql<{
      securityEvents: { edges: Array<{ node: { service: string; type: string } }> };
    }>(EVENTS, { filter: { type: 'LOGIN_FAILED', ip: '203.0.113.30' } }, admin.headers);
    expect(events.errors).toBeUndefined();
    expect(events.data!.securityEvents.edges[0]!.node).toMatchObject({
      service: 'orders',
      type: 'LOGIN_FAILED',
    });
    const listed = await subgraph.gql<{ securityAlerts: { edges: unknown[] } }>(ALERTS, {}, admin.headers);
    expect(listed.data!.securityAlerts.edges.length).toBeGreaterThan(0);

    const user = await subgraph.bearer({ sub: randomUUID(), roles: [] });
    expect(codeOf(await subgraph.gql(EVENTS, {}, user))).toBe('FORBIDDEN');
    expect(codeOf(await subgraph.gql(ALERTS, {}, user))).toBe('FORBIDDEN');
  });

  it("a refused caller's FORBIDDEN is itself recorded in the stream", async () => {
    const id = randomUUID();
    const user = await subgraph.bearer({ sub: id, roles: [] });
    expect(codeOf(await subgraph.gql(ALERTS, {}, user))).toBe('FORBIDDEN');
    const [row] = await subgraph.sql`select * from identity.security_events where actor_id = ${id}`;
    expect(row).toMatchObject({
      service: 'identity',
      type: 'forbidden',
      actor_kind: 'user',
      target: 'securityAlerts',
    });
  });
});
