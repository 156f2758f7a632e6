/**
 * Security monitoring through the public door (issue 18, R4.4, articles 33/34): credential stuffing
 * from one address raises a HIGH alert that opens an incident and reaches the platform admins
 * in-app, by email and in Prometheus; the admin contains it by revoking the tried accounts'
 * sessions and tells them of the breach. A FORBIDDEN burst and a reused refresh token alert too.
 */
import { graphql, type SignedInUser, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCall, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;

beforeAll(async () => {
  // A small FORBIDDEN burst keeps the test short; stuffing keeps its defaults (30 over 10 accounts).
  stack = await startTestStack('jetstream', { env: { SECURITY_FORBIDDEN_BURST: '5' } });
});
afterAll(async () => {
  await stack?.dispose();
});

type Errors = Array<{ code: string; message: string }>;
type Alert = { id: string; rule: string; severity: string; summary: string; incidentId: string | null };

const ALERTS = '{ securityAlerts(first: 50) { edges { node { id rule severity summary incidentId } } } }';
const alertsOf = async (admin: SignedInUser, rule: string) => {
  const data = await gatewayCall<{ securityAlerts: { edges: Array<{ node: Alert }> } }>(
    stack,
    ALERTS,
    {},
    admin.headers,
  );
  return data.securityAlerts.edges.map((edge) => edge.node).filter((alert) => alert.rule === rule);
};

const mailsTo = (email: string, subject: RegExp) =>
  stack.smtp.messages.filter(
    (message) => message.envelope.to.includes(email) && subject.test(message.parsed.subject ?? ''),
  );

const identityMetrics = async () => (await fetch(new URL('/metrics', stack.subgraphs.identity.url))).text();
const eventsCounted = (metrics: string) =>
  metrics
    .split('\n')
    .filter((line) => line.startsWith('security_events_total{') && line.includes('type="login_failed"'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);

const INBOX = `query($id: ID!) { user(id: $id) { notifications { edges { node { subject body } } } } }`;
type Inbox = { user: { notifications: { edges: Array<{ node: { subject: string; body: string } }> } } };

describe('security monitoring through the gateway', () => {
  it('30 failed sign-ins over 10 accounts from one address: alert, incident, admin told; containment and breach notice follow', async () => {
    const admin = await stack.signUpAdmin();
    // Signed up means signed in: each has a session before the attack.
    const victims: SignedInUser[] = [];
    for (let i = 0; i < 10; i++) victims.push(await stack.signUp());
    const bystander = await stack.signUp();
    const before = eventsCounted(await identityMetrics());

    // Three wrong passwords per account from the same client address (every test request comes from
    // 127.0.0.1): under the per-account-and-client lockout (5) and the per-address lockout (50).
    for (let round = 0; round < 3; round++) {
      for (const victim of victims) {
        const { body } = await graphql(
          stack.url,
          'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
          { input: { email: victim.email, password: 'not-the-password-1' } },
        );
        expect(body.errors?.[0]?.extensions?.code).not.toBe('RATE_LIMITED');
      }
    }

    const [alert] = await waitFor(async () => {
      const raised = await alertsOf(admin, 'credential_stuffing');
      return raised.length > 0 && raised;
    });
    expect(await alertsOf(admin, 'credential_stuffing')).toHaveLength(1);
    expect(alert).toMatchObject({ severity: 'HIGH' });
    expect(alert!.summary).toContain('30 failed sign-ins to 10 accounts');
    const incidentId = alert!.incidentId!;
    expect(incidentId).toBeTruthy();

    const { incident } = await gatewayCall<{
      incident: { openedBy: string; severity: string; affectedUserCount: number };
    }>(
      stack,
      'query($id: ID!) { incident(id: $id) { openedBy severity affectedUserCount } }',
      { id: incidentId },
      admin.headers,
    );
    expect(incident).toMatchObject({ openedBy: 'detection:credential_stuffing', severity: 'HIGH' });

    // The admin hears of it by email and in-app.
    const [mail] = await waitFor(async () => {
      const mails = mailsTo(admin.email, /Security alert \(HIGH\): credential_stuffing/);
      return mails.length > 0 && mails;
    });
    expect(mail!.parsed.text).toContain(`Incident ${incidentId} was opened for it.`);
    await waitFor(async () => {
      const data = await gatewayCall<Inbox>(stack, INBOX, { id: admin.userId }, admin.headers);
      return data.user.notifications.edges.some((edge) => edge.node.subject.includes('credential_stuffing'));
    });

    const metrics = await identityMetrics();
    expect(metrics).toMatch(/security_alerts_total\{[^}]*rule="credential_stuffing"[^}]*\} 1\b/);
    expect(eventsCounted(metrics) - before).toBeGreaterThanOrEqual(30);

    // Containment: the tried accounts (already named by detection, adding them again is harmless).
    const call = <T>(query: string, input: Record<string, unknown>) =>
      gatewayCall<T>(stack, query, { input }, admin.headers);
    const added = await call<{
      addAffectedUsers: { incident: { affectedUserCount: number }; errors: Errors };
    }>(
      `mutation($input: AddAffectedUsersInput!) { addAffectedUsers(input: $input) { incident { affectedUserCount } errors { code message } } }`,
      { incidentId, userIds: victims.map((victim) => victim.userId) },
    );
    expect(added.addAffectedUsers).toEqual({ incident: { affectedUserCount: 10 }, errors: [] });

    const contained = await call<{ containIncident: { affected: number; errors: Errors } }>(
      `mutation($input: ContainIncidentInput!) { containIncident(input: $input) { affected errors { code message } } }`,
      { incidentId, action: 'REVOKE_SESSIONS' },
    );
    expect(contained.containIncident).toEqual({ affected: 10, errors: [] });
    for (const victim of victims) {
      await waitFor(async () => {
        const { status, body } = await graphql(stack.url, '{ me { id } }', undefined, victim.headers);
        return status === 401 && body.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED';
      }, 5_000);
    }
    const stillIn = await graphql(stack.url, '{ me { id } }', undefined, bystander.headers);
    expect(stillIn.body).toEqual({ data: { me: { id: bystander.userId } } });

    const register = await call<{ updateIncidentRegister: { errors: Errors } }>(
      `mutation($input: UpdateIncidentRegisterInput!) { updateIncidentRegister(input: $input) { errors { code message } } }`,
      {
        id: incidentId,
        personalDataBreach: true,
        dataCategories: ['email addresses'],
        likelyConsequences: 'Accounts taken over with reused passwords.',
        measuresTaken: 'We signed every tried account out everywhere.',
      },
    );
    expect(register.updateIncidentRegister.errors).toEqual([]);
    const notified = await call<{ notifyAffectedUsers: { notified: number; errors: Errors } }>(
      `mutation($input: NotifyAffectedUsersInput!) { notifyAffectedUsers(input: $input) { notified errors { code message } } }`,
      { incidentId, contact: 'privacy@bilten.example' },
    );
    expect(notified.notifyAffectedUsers).toEqual({ notified: 10, errors: [] });
    for (const victim of victims) {
      const [notice] = await waitFor(async () => {
        const mails = mailsTo(victim.email, /security incident/i);
        return mails.length > 0 && mails;
      });
      expect(notice!.parsed.text).toContain('We signed every tried account out everywhere.');
    }
    expect(mailsTo(bystander.email, /security incident/i)).toEqual([]);
  });

  it('a burst of FORBIDDEN from one user raises a MEDIUM alert without an incident', async () => {
    const admin = await stack.signUpAdmin();
    const prying = await stack.signUp();
    for (let i = 0; i < 5; i++) {
      const { body } = await graphql(stack.url, ALERTS, undefined, prying.headers);
      expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const [alert] = await waitFor(async () => {
      const raised = (await alertsOf(admin, 'forbidden_burst')).filter((a) =>
        a.summary.includes(prying.userId),
      );
      return raised.length > 0 && raised;
    });
    expect(alert).toMatchObject({ severity: 'MEDIUM', incidentId: null });
  });

  it('a spent refresh token presented again raises a HIGH refresh_token_reuse alert with an incident', async () => {
    const admin = await stack.signUpAdmin();
    const user = await stack.signUp();
    const REFRESH = `mutation($input: RefreshTokenInput!) { refreshToken(input: $input) { accessToken refreshToken } }`;
    const first = await graphql(stack.url, REFRESH, { input: { refreshToken: user.refreshToken } });
    expect(first.body.errors).toBeUndefined();
    // The thief's copy of the spent token.
    const replay = await graphql(stack.url, REFRESH, { input: { refreshToken: user.refreshToken } });
    expect(replay.body.errors?.[0]?.extensions?.code).toBeDefined();

    const [alert] = await waitFor(async () => {
      const raised = (await alertsOf(admin, 'refresh_token_reuse')).filter((a) =>
        a.summary.includes(user.userId),
      );
      return raised.length > 0 && raised;
    });
    expect(alert!.severity).toBe('HIGH');
    expect(alert!.incidentId).toBeTruthy();
  });
});
