import { randomUUID } from 'node:crypto';
import { apiKeyRevoked, breachNotificationRequested, sessionsRevoked } from '@bilten/contracts/identity';
import { connectDatabase, type DatabaseHandle } from '@bilten/platform';
import {
  insertAccounts,
  refreshAccess,
  type SignedInUser,
  signUp,
  startTestSubgraph,
  type TestSubgraph,
} from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIncidentMetrics } from '../src/adapters/incident-metrics.ts';
import { refreshDeadlineGauges } from '../src/domain/incident-queries.ts';
import { openIncidentFromAlert } from '../src/domain/incidents.ts';
import { identitySubgraph } from '../src/server.ts';
import { codeOf, MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

let subgraph: TestSubgraph;
let url: string;
let database: DatabaseHandle;
let admin: SignedInUser;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'in-process', { env: MANY_SIGNUPS, ...OWN_TOKENS });
  url = subgraph.service.url;
  database = connectDatabase({ url: subgraph.database.url, poolSize: 2, applicationName: 'incidents-test' });
  admin = await signUp(url, subgraph.sql);
  await subgraph.sql`update identity.users set roles = '{ADMIN}' where id = ${admin.userId}`;
  await refreshAccess(url, admin);
});

afterAll(async () => {
  await database?.close();
  await subgraph?.dispose();
});

const INCIDENT_FIELDS = `id title status severity personalDataBreach openedBy detectedAt regulatorDeadlineAt
  regulatorNotifiedAt regulatorOverdue regulatorTimeLeftSeconds dataCategories likelyConsequences measuresTaken
  postmortem usersNotifiedAt affectedUserCount timeline { actor kind message details }`;
interface Incident {
  id: string;
  title: string;
  status: string;
  severity: string;
  personalDataBreach: boolean;
  openedBy: string;
  detectedAt: string;
  regulatorDeadlineAt: string;
  regulatorNotifiedAt: string | null;
  regulatorOverdue: boolean;
  regulatorTimeLeftSeconds: number | null;
  dataCategories: string[];
  likelyConsequences: string;
  measuresTaken: string;
  postmortem: string | null;
  usersNotifiedAt: string | null;
  affectedUserCount: number;
  timeline: Array<{ actor: string; kind: string; message: string; details: string }>;
}
type Errors = Array<{ code: string; message: string; field: string[] | null }>;
type Payload = { incident: Incident | null; errors: Errors };

/** One incident mutation as `as` (default: the admin); answers its payload. */
async function mutate<P = Payload>(
  field: string,
  input: Record<string, unknown>,
  as: Record<string, string> = admin.headers,
  extra = '',
) {
  const type = `${field[0]!.toUpperCase()}${field.slice(1)}Input`;
  const result = await subgraph.gql<Record<string, P>>(
    `mutation($input: ${type}!) { ${field}(input: $input) { incident { ${INCIDENT_FIELDS} } ${extra} errors { code message field } } }`,
    { input },
    as,
  );
  if (result.errors) throw new Error(`${field}: ${JSON.stringify(result.errors)}`);
  return result.data![field]!;
}

async function opened(overrides: Record<string, unknown> = {}) {
  const { incident, errors } = await mutate('openIncident', {
    title: 'Credential stuffing against customer accounts',
    description: 'Many failed sign-ins from one address, some succeeded.',
    severity: 'HIGH',
    personalDataBreach: true,
    ...overrides,
  });
  expect(errors).toEqual([]);
  return incident!;
}

const advance = (id: string, status: string, extra: Record<string, unknown> = {}) =>
  mutate('advanceIncident', { id, status, ...extra });

/** An account made directly in the table (for numbers of users no sign-up would be quick for). */
async function bareUsers(count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await insertAccounts(
    subgraph.sql,
    ids.map((id, n) => ({ id, email: `bulk-${id}@example.com`, displayName: `Bulk ${n + 1}` })),
  );
  return ids;
}

/** The status of identity's `/internal/access/current` for the user's token, as the gateway asks it. */
const currentAccess = (user: SignedInUser) =>
  fetch(new URL('/internal/access/current', url), { method: 'POST', headers: user.headers }).then(
    (response) => response.status,
  );

const breachEvents = (incidentId: string) =>
  subgraph.sql<Array<{ payload: { recipients: Array<{ userId: string; email: string }> } }>>`
    select payload from identity.outbox where type = ${breachNotificationRequested.type}
      and aggregate_id = ${incidentId} order by sequence`;

describe('incidents (issue 18, GDPR articles 33 and 34)', () => {
  it('is for platform admins only: FORBIDDEN for a user, UNAUTHENTICATED for nobody', async () => {
    const user = await signUp(url, subgraph.sql);
    const open = `mutation { openIncident(input: { title: "x", description: "y", severity: LOW, personalDataBreach: false }) { errors { code } } }`;
    expect(codeOf(await subgraph.gql(open, {}, user.headers))).toBe('FORBIDDEN');
    expect(codeOf(await subgraph.gql(open))).toBe('UNAUTHENTICATED');
    expect(codeOf(await subgraph.gql('{ incidents { edges { node { id } } } }', {}, user.headers))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(await subgraph.gql('{ breachRegister { edges { node { id } } } }', {}, user.headers))).toBe(
      'FORBIDDEN',
    );
    const incident = await opened();
    const read = await subgraph.gql(
      `query($id: ID!) { incident(id: $id) { id } }`,
      { id: incident.id },
      user.headers,
    );
    expect(codeOf(read)).toBe('FORBIDDEN');
    expect(await subgraph.sql`select 1 from identity.incidents where title = 'x'`).toHaveLength(0);
  });

  it('opens DETECTED with the 72-hour deadline from detection, overdue once past', async () => {
    const old = await opened({ detectedAt: '2026-01-01T00:00:00.000Z' });
    expect(old).toMatchObject({
      status: 'DETECTED',
      openedBy: admin.userId,
      regulatorDeadlineAt: '2026-01-04T00:00:00.000Z',
      regulatorOverdue: true,
    });
    expect(old.regulatorTimeLeftSeconds).toBeLessThan(0);
    expect(old.timeline.map((entry) => entry.kind)).toEqual(['OPENED']);

    const hourAgo = new Date(Date.now() - 3_600_000);
    const fresh = await opened({ detectedAt: hourAgo.toISOString() });
    expect(fresh.regulatorOverdue).toBe(false);
    expect(Math.abs(fresh.regulatorTimeLeftSeconds! - 71 * 3600)).toBeLessThan(60);

    // No personal data: no clock.
    const noData = await opened({ personalDataBreach: false });
    expect(noData).toMatchObject({ regulatorOverdue: false, regulatorTimeLeftSeconds: null });

    const future = await mutate('openIncident', {
      title: 'x',
      description: 'y',
      severity: 'LOW',
      personalDataBreach: false,
      detectedAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(future.errors).toEqual([
      { code: 'INVALID_INPUT', message: 'must not be in the future', field: ['input', 'detectedAt'] },
    ]);
  });

  it('moves one step forward at a time, may contain before triage, and needs a postmortem text to close', async () => {
    const incident = await opened();
    const skipped = await advance(incident.id, 'RESOLVED');
    expect(skipped.incident).toBeNull();
    expect(skipped.errors).toEqual([
      {
        code: 'CONFLICT',
        message: 'the incident is DETECTED and can move only to TRIAGED or CONTAINED',
        field: ['input', 'status'],
      },
    ]);
    expect((await advance(incident.id, 'TRIAGED', { note: 'confirmed by on-call' })).incident!.status).toBe(
      'TRIAGED',
    );
    expect((await advance(incident.id, 'TRIAGED')).errors[0]!.code).toBe('CONFLICT');
    expect((await advance(incident.id, 'DETECTED')).errors[0]!.code).toBe('CONFLICT');
    await advance(incident.id, 'CONTAINED');
    await advance(incident.id, 'RESOLVED');
    const noText = await advance(incident.id, 'POSTMORTEM');
    expect(noText.errors).toEqual([
      { code: 'INVALID_INPUT', message: 'a postmortem needs its text', field: ['input', 'postmortem'] },
    ]);
    const closed = await advance(incident.id, 'POSTMORTEM', {
      postmortem: 'Reused passwords; added checks.',
    });
    expect(closed.incident).toMatchObject({
      status: 'POSTMORTEM',
      postmortem: 'Reused passwords; added checks.',
    });
    expect((await advance(incident.id, 'RESOLVED')).errors[0]).toMatchObject({
      code: 'CONFLICT',
      message: 'the incident is POSTMORTEM and can move nowhere: it is closed',
    });
    const changes = closed.incident!.timeline.filter((entry) => entry.kind === 'STATUS_CHANGED');
    expect(changes.map((entry) => JSON.parse(entry.details))).toEqual([
      { from: 'DETECTED', to: 'TRIAGED' },
      { from: 'TRIAGED', to: 'CONTAINED' },
      { from: 'CONTAINED', to: 'RESOLVED' },
      { from: 'RESOLVED', to: 'POSTMORTEM' },
    ]);
    expect(changes[0]!.message).toBe('confirmed by on-call');

    const urgent = await opened();
    expect((await advance(urgent.id, 'CONTAINED')).incident!.status).toBe('CONTAINED');
    expect((await advance(randomUUID(), 'TRIAGED')).errors).toEqual([
      { code: 'NOT_FOUND', message: 'no such incident', field: ['input', 'id'] },
    ]);
  });

  it('keeps the register: facts, notes and the regulator notified once; breachRegister lists personal-data breaches only', async () => {
    const breach = await opened();
    const other = await opened({ personalDataBreach: false });
    const updated = await mutate('updateIncidentRegister', {
      id: breach.id,
      dataCategories: ['email addresses', 'names', 'names'],
      likelyConsequences: 'Phishing aimed at the affected users.',
      measuresTaken: 'Sessions revoked, passwords reset.',
    });
    expect(updated.incident).toMatchObject({
      dataCategories: ['email addresses', 'names'],
      likelyConsequences: 'Phishing aimed at the affected users.',
      measuresTaken: 'Sessions revoked, passwords reset.',
    });
    await mutate('addIncidentNote', { incidentId: breach.id, message: 'Called the DPO.' });
    const notified = await mutate('markRegulatorNotified', { id: breach.id, reference: 'AZLP-2026-17' });
    expect(notified.incident).toMatchObject({ regulatorOverdue: false, regulatorTimeLeftSeconds: null });
    expect(notified.incident!.regulatorNotifiedAt).not.toBeNull();
    expect(notified.incident!.timeline.map((entry) => entry.kind)).toEqual([
      'OPENED',
      'REGISTER_UPDATED',
      'NOTE',
      'REGULATOR_NOTIFIED',
    ]);
    expect((await mutate('markRegulatorNotified', { id: breach.id })).errors[0]).toMatchObject({
      code: 'CONFLICT',
      message: 'the regulator was notified already',
    });
    expect((await mutate('markRegulatorNotified', { id: other.id })).errors[0]!.code).toBe('CONFLICT');

    const { data } = await subgraph.gql<{ breachRegister: { edges: Array<{ node: { id: string } }> } }>(
      '{ breachRegister(first: 100) { edges { node { id } } } }',
      {},
      admin.headers,
    );
    const ids = data!.breachRegister.edges.map((edge) => edge.node.id);
    expect(ids).toContain(breach.id);
    expect(ids).not.toContain(other.id);
  });

  it('pages incidents newest first, by status', async () => {
    const first = await opened({ title: 'Paging one' });
    const second = await opened({ title: 'Paging two' });
    const page = async (after?: string) =>
      (
        await subgraph.gql<{
          incidents: {
            edges: Array<{ node: { id: string } }>;
            pageInfo: { hasNextPage: boolean; endCursor: string };
          };
        }>(
          'query($after: String) { incidents(status: DETECTED, first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }',
          { after },
          admin.headers,
        )
      ).data!.incidents;
    const one = await page();
    expect(one.edges.map((edge) => edge.node.id)).toEqual([second.id]);
    expect(one.pageInfo.hasNextPage).toBe(true);
    expect((await page(one.pageInfo.endCursor)).edges.map((edge) => edge.node.id)).toEqual([first.id]);
  });

  it('adds affected users, refusing unknown ids without adding any', async () => {
    const incident = await opened();
    const [known] = await bareUsers(1);
    const refused = await mutate('addAffectedUsers', {
      incidentId: incident.id,
      userIds: [known, randomUUID()],
    });
    expect(refused.errors).toEqual([
      { code: 'NOT_FOUND', message: 'no such user', field: ['input', 'userIds', '1'] },
    ]);
    const added = await mutate('addAffectedUsers', { incidentId: incident.id, userIds: [known, known] });
    expect(added.incident!.affectedUserCount).toBe(1);
    // Again: nothing new, nothing on the timeline.
    const again = await mutate('addAffectedUsers', { incidentId: incident.id, userIds: [known] });
    expect(again.incident!.timeline.filter((entry) => entry.kind === 'AFFECTED_USERS_ADDED')).toHaveLength(1);
  });

  it('contains by revoking every session of the affected users: their access tokens are refused', async () => {
    const victims = [await signUp(url, subgraph.sql), await signUp(url, subgraph.sql)];
    const bystander = await signUp(url, subgraph.sql);
    const incident = await opened();
    await mutate('addAffectedUsers', {
      incidentId: incident.id,
      userIds: victims.map((victim) => victim.userId),
    });
    const contained = await mutate<Payload & { affected: number }>(
      'containIncident',
      { incidentId: incident.id, action: 'REVOKE_SESSIONS' },
      admin.headers,
      'affected',
    );
    expect(contained.affected).toBe(2);
    const entry = contained.incident!.timeline.at(-1)!;
    expect(entry.kind).toBe('CONTAINMENT');
    expect(JSON.parse(entry.details)).toEqual({ action: 'REVOKE_SESSIONS', users: 2, sessions: 2 });
    // What the gateway asks on every request: identity no longer vouches for their tokens.
    for (const victim of victims) expect(await currentAccess(victim)).toBe(401);
    expect(await currentAccess(bystander)).toBe(200);
    // And every other service hears of it (and refuses the tokens from then on).
    const revoked = await subgraph.sql<Array<{ user_id: string }>>`
      select payload->>'userId' as user_id from identity.outbox where type = ${sessionsRevoked.type}
        and payload->>'reason' = ${`incident ${incident.id}: containment`}`;
    expect(revoked.map((row) => row.user_id).sort()).toEqual(victims.map((victim) => victim.userId).sort());
  });

  it('contains by disabling the API keys of named organizations, and by rotating the signing key', async () => {
    const owner = await signUp(url, subgraph.sql);
    const created = await subgraph.gql<{ createOrganization: { organization: { id: string } } }>(
      'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }',
      { input: { name: 'Leaky', slug: `leaky-${randomUUID().slice(0, 8)}` } },
      owner.headers,
    );
    const organizationId = created.data!.createOrganization.organization.id;
    await refreshAccess(url, owner);
    const key = await subgraph.gql<{ createApiKey: { apiKey: { id: string }; secret: string } }>(
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret } }',
      { input: { organizationId, name: 'sync', scopes: ['events:read'], mode: 'LIVE' } },
      owner.headers,
    );
    const { apiKey, secret } = key.data!.createApiKey;
    const exchange = () =>
      fetch(new URL('/internal/api-keys/exchange', url), {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}` },
      }).then((response) => response.status);
    expect(await exchange()).toBe(200);

    const incident = await opened();
    const contain = (input: Record<string, unknown>) =>
      mutate<Payload & { affected: number | null }>(
        'containIncident',
        { incidentId: incident.id, ...input },
        admin.headers,
        'affected',
      );
    expect((await contain({ action: 'DISABLE_API_KEYS' })).errors[0]!.field).toEqual([
      'input',
      'organizationIds',
    ]);
    expect(
      (await contain({ action: 'DISABLE_API_KEYS', organizationIds: [randomUUID()] })).errors[0],
    ).toMatchObject({
      code: 'NOT_FOUND',
      field: ['input', 'organizationIds', '0'],
    });
    const disabled = await contain({ action: 'DISABLE_API_KEYS', organizationIds: [organizationId] });
    expect(disabled.affected).toBe(1);
    expect(await exchange()).toBe(401);
    const published = await subgraph.sql`
      select 1 from identity.outbox where type = ${apiKeyRevoked.type} and aggregate_id = ${apiKey.id}`;
    expect(published).toHaveLength(1);

    const keysBefore = (await subgraph.sql`select count(*)::int as n from identity.signing_keys`)[0]!.n;
    const rotated = await contain({ action: 'ROTATE_SIGNING_KEYS' });
    expect(rotated.affected).toBe(1);
    expect(JSON.parse(rotated.incident!.timeline.at(-1)!.details).kid).toEqual(expect.any(String));
    expect((await subgraph.sql`select count(*)::int as n from identity.signing_keys`)[0]!.n).toBe(
      keysBefore + 1,
    );
  });

  it('notifies affected users once each, in batches of 200, skipping erased accounts; concurrent calls too', async () => {
    const incident = await opened();
    const users = await bareUsers(203);
    await mutate('addAffectedUsers', { incidentId: incident.id, userIds: users });
    const notify = () =>
      mutate<Payload & { notified: number | null }>(
        'notifyAffectedUsers',
        { incidentId: incident.id, contact: 'privacy@bilten.example' },
        admin.headers,
        'notified',
      );
    // Not before the register says what to tell them.
    expect((await notify()).errors[0]).toMatchObject({ code: 'CONFLICT' });
    await mutate('updateIncidentRegister', {
      id: incident.id,
      dataCategories: ['email addresses'],
      measuresTaken: 'All sessions revoked.',
    });
    // One account is erased before the notice goes out.
    await subgraph.sql`delete from identity.users where id = ${users[0]!}`;

    const [one, two] = await Promise.all([notify(), notify()]);
    expect([one.notified, two.notified].sort((a, b) => a! - b!)).toEqual([0, 202]);
    const events = await breachEvents(incident.id);
    expect(events.map((event) => event.payload.recipients.length)).toEqual([200, 2]);
    const recipients = events.flatMap((event) =>
      event.payload.recipients.map((recipient) => recipient.userId),
    );
    expect(new Set(recipients).size).toBe(202);
    expect(recipients).not.toContain(users[0]);

    const [late] = await bareUsers(1);
    await mutate('addAffectedUsers', { incidentId: incident.id, userIds: [late] });
    const third = await notify();
    expect(third.notified).toBe(1);
    expect(third.incident!.usersNotifiedAt).not.toBeNull();
    expect((await breachEvents(incident.id)).at(-1)!.payload.recipients.map((r) => r.userId)).toEqual([late]);
    expect(third.incident!.timeline.filter((entry) => entry.kind === 'USERS_NOTIFIED')).toHaveLength(2);
    expect((await notify()).notified).toBe(0);

    const noData = await opened({ personalDataBreach: false });
    const refused = await mutate(
      'notifyAffectedUsers',
      { incidentId: noData.id, contact: 'x@y.z' },
      admin.headers,
      'notified',
    );
    expect(refused.errors[0]).toMatchObject({ code: 'CONFLICT' });
  });

  it('opens an incident from a detection alert, with its users, and links the alert', async () => {
    const users = await bareUsers(2);
    const alertId = randomUUID();
    await subgraph.sql`
      insert into identity.security_alerts (id, rule, severity, dedupe_key, summary, raised_at)
      values (${alertId}, 'credential-stuffing', 'HIGH', ${`test:${alertId}`}, '30 failed sign-ins over 10 accounts', now())`;
    const { incidentId } = await database.db.transaction((tx) =>
      openIncidentFromAlert(tx, {
        alertId,
        rule: 'credential-stuffing',
        severity: 'HIGH',
        summary: '30 failed sign-ins over 10 accounts',
        affectedUserIds: [...users, users[0]!],
      }),
    );
    const [alert] =
      await subgraph.sql`select incident_id from identity.security_alerts where id = ${alertId}`;
    expect(alert!.incident_id).toBe(incidentId);
    const { data } = await subgraph.gql<{ incident: Incident }>(
      `query($id: ID!) { incident(id: $id) { ${INCIDENT_FIELDS} } }`,
      { id: incidentId },
      admin.headers,
    );
    expect(data!.incident).toMatchObject({
      status: 'DETECTED',
      severity: 'HIGH',
      openedBy: 'detection:credential-stuffing',
      affectedUserCount: 2,
    });
    expect(data!.incident.timeline.map((entry) => [entry.kind, entry.actor])).toEqual([
      ['OPENED', 'detection:credential-stuffing'],
      ['ALERT', 'detection:credential-stuffing'],
    ]);
    expect(JSON.parse(data!.incident.timeline[1]!.details)).toMatchObject({ alertId, affectedUsers: 2 });
  });

  it('counts breaches past and near their deadline for the alert gauges, and exports them', async () => {
    const gauges = createIncidentMetrics();
    const before = await refreshDeadlineGauges(database.db, gauges);
    const overdue = await opened({ detectedAt: new Date(Date.now() - 73 * 3_600_000).toISOString() });
    await opened({ detectedAt: new Date(Date.now() - 50 * 3_600_000).toISOString() });
    await opened({
      detectedAt: new Date(Date.now() - 73 * 3_600_000).toISOString(),
      personalDataBreach: false,
    });
    expect(await refreshDeadlineGauges(database.db, gauges)).toEqual({
      overdue: before.overdue + 1,
      dueSoon: before.dueSoon + 1,
    });
    expect((await gauges.overdue.get()).values[0]!.value).toBe(before.overdue + 1);
    await mutate('markRegulatorNotified', { id: overdue.id });
    expect((await refreshDeadlineGauges(database.db, gauges)).overdue).toBe(before.overdue);

    const metrics = await (await fetch(new URL('/metrics', url))).text();
    expect(metrics).toMatch(/^bilten_incidents_regulator_overdue(\{[^}]*\})? \d+$/m);
    expect(metrics).toMatch(/^bilten_incidents_regulator_due_soon(\{[^}]*\})? \d+$/m);
  });
});
