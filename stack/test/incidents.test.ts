/**
 * Incident response through the public door (issue 18, GDPR articles 33 and 34): a platform admin
 * opens an incident, names the affected users, contains it by revoking their sessions (their next
 * request is UNAUTHENTICATED), and notifies them: each gets the breach notice by email and sees it
 * in-app once signed in again.
 */
import { graphql, type SignedInUser, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCall, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('in-process');
});
afterAll(async () => {
  await stack?.dispose();
});

type Errors = Array<{ code: string; message: string }>;

/** The breach notices mailed to `email`. */
const breachNotices = (email: string) =>
  stack.smtp.messages.filter(
    (message) =>
      message.envelope.to.includes(email) && /security incident/i.test(message.parsed.subject ?? ''),
  );

async function signIn(user: SignedInUser) {
  const { login } = await gatewayCall<{ login: { accessToken: string } }>(
    stack,
    'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
    { input: { email: user.email, password: user.password } },
    {},
  );
  return { authorization: `Bearer ${login.accessToken}` };
}

const INBOX = `query($id: ID!) {
  user(id: $id) { notifications { edges { node { kind category subject body } } } }
}`;
type Inbox = {
  user: {
    notifications: {
      edges: Array<{ node: { kind: string; category: string; subject: string; body: string } }>;
    };
  };
};

describe('incident response through the gateway', () => {
  it('contains an incident by signing its users out everywhere, then tells each of them by email and in-app', async () => {
    const admin = await stack.signUpAdmin();
    const victims = [await stack.signUp(), await stack.signUp()];
    const bystander = await stack.signUp();
    const call = <T>(query: string, input: Record<string, unknown>) =>
      gatewayCall<T>(stack, query, { input }, admin.headers);

    const { openIncident } = await call<{
      openIncident: { incident: { id: string; status: string }; errors: Errors };
    }>(
      `mutation($input: OpenIncidentInput!) { openIncident(input: $input) { incident { id status } errors { code message } } }`,
      {
        title: 'Customer accounts signed in to with stolen passwords',
        description: 'Someone signed in to customer accounts with passwords stolen from another website.',
        severity: 'HIGH',
        personalDataBreach: true,
      },
    );
    expect(openIncident.errors).toEqual([]);
    const incidentId = openIncident.incident.id;

    const added = await call<{
      addAffectedUsers: { incident: { affectedUserCount: number }; errors: Errors };
    }>(
      `mutation($input: AddAffectedUsersInput!) { addAffectedUsers(input: $input) { incident { affectedUserCount } errors { code message } } }`,
      { incidentId, userIds: victims.map((victim) => victim.userId) },
    );
    expect(added.addAffectedUsers).toEqual({ incident: { affectedUserCount: 2 }, errors: [] });

    // Before: both victims are signed in.
    for (const victim of victims) {
      const me = await graphql(stack.url, '{ me { id } }', undefined, victim.headers);
      expect(me.body).toEqual({ data: { me: { id: victim.userId } } });
    }
    const contained = await call<{ containIncident: { affected: number; errors: Errors } }>(
      `mutation($input: ContainIncidentInput!) { containIncident(input: $input) { affected errors { code message } } }`,
      { incidentId, action: 'REVOKE_SESSIONS' },
    );
    expect(contained.containIncident).toEqual({ affected: 2, errors: [] });
    for (const victim of victims) {
      await waitFor(async () => {
        const { status, body } = await graphql(stack.url, '{ me { id } }', undefined, victim.headers);
        return status === 401 && body.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED';
      }, 5_000);
    }
    const stillIn = await graphql(stack.url, '{ me { id } }', undefined, bystander.headers);
    expect(stillIn.body).toEqual({ data: { me: { id: bystander.userId } } });

    await call(
      `mutation($input: UpdateIncidentRegisterInput!) { updateIncidentRegister(input: $input) { errors { code } } }`,
      {
        id: incidentId,
        dataCategories: ['names', 'email addresses', 'order history'],
        likelyConsequences: 'Phishing aimed at the affected customers.',
        measuresTaken: 'We signed every affected account out everywhere.',
      },
    );
    const notified = await call<{ notifyAffectedUsers: { notified: number; errors: Errors } }>(
      `mutation($input: NotifyAffectedUsersInput!) { notifyAffectedUsers(input: $input) { notified errors { code message } } }`,
      { incidentId, contact: 'privacy@bilten.example' },
    );
    expect(notified.notifyAffectedUsers).toEqual({ notified: 2, errors: [] });

    for (const victim of victims) {
      const [mail] = await waitFor(
        async () => breachNotices(victim.email).length > 0 && breachNotices(victim.email),
      );
      const text = mail!.parsed.text ?? '';
      expect(text).toContain('Customer accounts signed in to with stolen passwords');
      expect(text).toContain('names, email addresses, order history');
      expect(text).toContain('We signed every affected account out everywhere.');
      expect(text).toContain('privacy@bilten.example');
      expect(text).toContain('change your Bilten password');

      // Signed in again, they see it in-app too.
      const headers = await signIn(victim);
      const inbox = await waitFor(async () => {
        const data = await gatewayCall<Inbox>(stack, INBOX, { id: victim.userId }, headers);
        return data.user.notifications.edges.find((edge) => edge.node.kind === 'BREACH_NOTICE')?.node;
      });
      expect(inbox).toMatchObject({
        category: 'ACCOUNT_SECURITY',
        subject: 'A security incident concerns your data',
      });
    }
    // Nobody else was told.
    expect(breachNotices(bystander.email)).toEqual([]);
    for (const victim of victims) expect(breachNotices(victim.email)).toHaveLength(1);

    // Asked again: nobody is told twice.
    const again = await call<{ notifyAffectedUsers: { notified: number } }>(
      `mutation($input: NotifyAffectedUsersInput!) { notifyAffectedUsers(input: $input) { notified } }`,
      { incidentId, contact: 'privacy@bilten.example' },
    );
    expect(again.notifyAffectedUsers.notified).toBe(0);

    const { incident } = await gatewayCall<{
      incident: { usersNotifiedAt: string | null; timeline: Array<{ kind: string }> };
    }>(
      stack,
      'query($id: ID!) { incident(id: $id) { usersNotifiedAt timeline { kind } } }',
      { id: incidentId },
      admin.headers,
    );
    expect(incident.usersNotifiedAt).not.toBeNull();
    expect(incident.timeline.map((entry) => entry.kind)).toEqual([
      'OPENED',
      'AFFECTED_USERS_ADDED',
      'CONTAINMENT',
      'REGISTER_UPDATED',
      'USERS_NOTIFIED',
    ]);
  });

  it('answers FORBIDDEN to anyone but a platform admin', async () => {
    const user = await stack.signUp();
    const { status, body } = await graphql(
      stack.url,
      '{ breachRegister { edges { node { id } } } }',
      undefined,
      user.headers,
    );
    expect(status).toBe(200);
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
