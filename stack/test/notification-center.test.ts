/**
 * Issue 15's first part through the public door: a follower of an organization gets an in-app
 * notification when it publishes an event, marks it read, and a one-click opt-out link works at
 * the gateway's `/unsubscribe`.
 */
import { createUnsubscribeLinks } from '@bilten/messaging';
import { waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventInput, gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('in-process');
});
afterAll(async () => {
  await stack?.dispose();
});

const INBOX = `query($id: ID!) {
  user(id: $id) {
    unreadNotificationCount
    notifications(filter: { unread: true }) { edges { node { id category subject } } }
  }
}`;
type Inbox = {
  user: {
    unreadNotificationCount: number;
    notifications: { edges: Array<{ node: { id: string; category: string; subject: string } }> };
  };
};

describe('notifications through the gateway', () => {
  it('notifies a follower in-app when the organization publishes an event', async () => {
    const { organizationId, owner } = await publishedEvent(stack, 'followed-org');
    const follower = await stack.signUp();
    const { followOrganization } = await gatewayCall<{
      followOrganization: { following: boolean; organization: { name: string; followerCount: number } };
    }>(
      stack,
      `mutation($input: FollowOrganizationInput!) {
        followOrganization(input: $input) { following organization { name followerCount } }
      }`,
      { input: { organizationId } },
      follower.headers,
    );
    // followerCount from messaging, name from identity: one entity.
    expect(followOrganization).toEqual({
      following: true,
      organization: { name: 'Org followed-org', followerCount: 1 },
    });

    const { createEvent } = await gatewayCall<{ createEvent: { event: { id: string } } }>(
      stack,
      `mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }`,
      { input: eventInput(organizationId, 'Followers Night') },
      owner.headers,
    );
    await gatewayCall(
      stack,
      `mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { errors { message } } }`,
      {
        input: {
          eventId: createEvent.event.id,
          name: 'Regular',
          price: { amount: 1000, currency: 'EUR' },
          capacity: 10,
        },
      },
      owner.headers,
    );
    await gatewayCall(
      stack,
      `mutation($input: EventIdInput!) { publishEvent(input: $input) { errors { message } } }`,
      { input: { id: createEvent.event.id } },
      owner.headers,
    );

    const inbox = await waitFor(async () => {
      const data = await gatewayCall<Inbox>(stack, INBOX, { id: follower.userId }, follower.headers);
      return data.user.unreadNotificationCount === 1 && data.user;
    });
    expect(inbox.notifications.edges[0]!.node).toMatchObject({
      category: 'EVENT_UPDATES',
      subject: 'New event: Followers Night',
    });

    const { markNotificationsRead } = await gatewayCall<{ markNotificationsRead: { unreadCount: number } }>(
      stack,
      `mutation { markNotificationsRead(input: { all: true }) { unreadCount } }`,
      {},
      follower.headers,
    );
    expect(markNotificationsRead.unreadCount).toBe(0);
  });

  it('serves the one-click opt-out at /unsubscribe: page, POST 200 without redirect, forged 400', async () => {
    const user = await stack.signUp();
    const link = createUnsubscribeLinks({
      env: { NODE_ENV: 'test', MAIL_LINK_SECRET: stack.env.MAIL_LINK_SECRET },
      gateway: new URL(stack.url).origin,
    }).link({ userId: user.userId, category: 'EVENT_UPDATES', channel: 'EMAIL' });
    expect(link.startsWith(new URL('/unsubscribe?token=', stack.url).href)).toBe(true);

    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post"');

    const posted = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
      redirect: 'manual',
    });
    expect(posted.status).toBe(200);
    expect(await posted.text()).toBe('You are unsubscribed from event update emails.');

    const { myNotificationPreferences } = await gatewayCall<{
      myNotificationPreferences: { categories: Array<{ category: string; enabledChannels: string[] }> };
    }>(stack, `{ myNotificationPreferences { categories { category enabledChannels } } }`, {}, user.headers);
    expect(
      myNotificationPreferences.categories.find((c) => c.category === 'EVENT_UPDATES')!.enabledChannels,
    ).toEqual(['IN_APP', 'WEB_PUSH', 'SMS']);

    const forged = await fetch(`${link.slice(0, -4)}AAAA`, { method: 'POST' });
    expect(forged.status).toBe(400);
  });
});
