/**
 * identity's security alerts reach every platform admin they name, in-app and by email, whatever
 * the admin turned off (issue 18): their own critical kind, not an announcement.
 */
import { securityAlertRaised } from '@bilten/contracts/identity';
import { newEvent } from '@bilten/platform';
import {
  startTestSmtpServer,
  startTestSubgraph,
  type TestSmtpServer,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KINDS } from '../src/domain/delivery-rules.ts';
import { messagingSubgraph } from '../src/server.ts';

let subgraph: TestSubgraph;
let smtp: TestSmtpServer;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  subgraph = await startTestSubgraph(messagingSubgraph, 'in-process', { env: { SMTP_URL: smtp.url } });
});

afterAll(async () => {
  await subgraph?.dispose();
  await smtp?.stop();
});

/** The admin turns every announcement off, on every channel, the way users do. */
async function announcementsOff(userId: string) {
  const { data, errors } = await subgraph.gql<{
    updateNotificationPreferences: { errors: unknown[] };
  }>(
    `mutation($input: UpdateNotificationPreferencesInput!) {
      updateNotificationPreferences(input: $input) { errors { code message } }
    }`,
    { input: { categories: [{ category: 'ANNOUNCEMENTS', all: false }] } },
    await subgraph.bearer({ sub: userId, roles: ['ADMIN'] }),
  );
  expect(errors).toBeUndefined();
  expect(data!.updateNotificationPreferences.errors).toEqual([]);
}

describe('security alerts', () => {
  it('are critical, in a category no preference can turn off', () => {
    expect(KINDS.securityAlert).toEqual({ category: 'ACCOUNT_SECURITY', critical: true });
  });

  it('reach an admin who turned announcements off, by email and in-app, naming the rule and its summary', async () => {
    const admin = { userId: uuidv7(), email: `admin-${uuidv7()}@bilten.example`, displayName: 'Lejla' };
    await announcementsOff(admin.userId);
    const alertId = uuidv7();
    const incidentId = uuidv7();
    await subgraph.testBus.bus.publish(
      newEvent(securityAlertRaised, alertId, 1, {
        alertId,
        rule: 'credential_stuffing',
        severity: 'HIGH',
        summary: '30 failed sign-ins over 10 accounts within 5 minutes.',
        raisedAt: '2026-12-07T09:00:00.000Z',
        incidentId,
        recipients: [admin],
      }),
    );

    const mail = await smtp.waitForMessage((received) => received.envelope.to.includes(admin.email));
    expect(mail.parsed.subject).toBe('Security alert (HIGH): credential_stuffing');
    expect(mail.parsed.text).toContain('30 failed sign-ins over 10 accounts within 5 minutes.');
    expect(mail.parsed.text).toContain(`Incident ${incidentId} was opened for it.`);
    // Critical mail carries no opt-out link.
    expect(String(mail.parsed.html)).not.toContain('/unsubscribe?token=');

    const [inApp] = await waitFor(async () => {
      const rows = await subgraph.sql<Array<{ kind: string; category: string }>>`
        select kind, category from messaging.notifications where recipient_id = ${admin.userId}`;
      return rows.length > 0 && rows;
    });
    expect(inApp).toEqual({ kind: 'securityAlert', category: 'ACCOUNT_SECURITY' });
  });
});
