/**
 * Issue 15's acceptance through the public door: a follower of an organization gets an in-app
 * notification and an email in their language and the organizer's colours when it publishes an
 * event, marks it read, and unsubscribes from the email with one click on the mail's
 * `List-Unsubscribe` link at the gateway's `/unsubscribe`. (A buyer watching `orderUpdated` turn
 * PAID over graphql-ws is subscriptions.test.ts.)
 */
import { createUnsubscribeLinks } from '@bilten/messaging';
import { freePort, type ReceivedMail, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventInput,
  gatewayCall,
  publishedEvent,
  startTestStack,
  TEST_WEB_URL,
  type TestStack,
} from './support.ts';

let stack: TestStack;

beforeAll(async () => {
  // Known beforehand, so the links in mails point at this gateway.
  const gatewayPort = await freePort();
  stack = await startTestStack('in-process', {
    gatewayPort,
    env: { PUBLIC_GATEWAY_URL: `http://127.0.0.1:${gatewayPort}` },
  });
});
afterAll(async () => {
  await stack?.dispose();
});

const INBOX = `query($id: ID!) {
  user(id: $id) {
    unreadNotificationCount
    notifications(filter: { unread: true }) { edges { node { id category kind url subject } } }
  }
}`;
type Inbox = {
  user: {
    unreadNotificationCount: number;
    notifications: {
      edges: Array<{ node: { id: string; category: string; kind: string; url: string; subject: string } }>;
    };
  };
};

/** A header as it crossed the wire, unfolded. */
function headerOf(mail: ReceivedMail, name: string): string | undefined {
  const line = mail.parsed.headerLines.find((header) => header.key === name.toLowerCase())?.line;
  return line
    ?.replace(/\r?\n[ \t]+/g, ' ')
    .slice(name.length + 1)
    .trim();
}
const followerMailsTo = (address: string) =>
  stack.smtp.messages.filter(
    (mail) => mail.envelope.to.includes(address) && headerOf(mail, 'List-Unsubscribe') !== undefined,
  );

describe('notifications through the gateway', () => {
  it('notifies a follower in-app and by email when the organization publishes an event; one click unsubscribes', async () => {
    const { organizationId, owner } = await publishedEvent(stack, 'followed-org');
    const follower = await stack.signUp();
    // NOT_FOUND until identity's organizationCreated has reached messaging.
    const followOrganization = await waitFor(async () => {
      const data = await gatewayCall<{
        followOrganization: { following: boolean; organization: { name: string; followerCount: number } };
      }>(
        stack,
        `mutation($input: FollowOrganizationInput!) {
          followOrganization(input: $input) { following organization { name followerCount } }
        }`,
        { input: { organizationId } },
        follower.headers,
      );
      return data.followOrganization.following && data.followOrganization;
    });
    // followerCount from messaging, name from identity: one entity.
    expect(followOrganization).toEqual({
      following: true,
      organization: { name: 'Org followed-org', followerCount: 1 },
    });

    const publish = async (title: string) => {
      const { createEvent } = await gatewayCall<{ createEvent: { event: { id: string } } }>(
        stack,
        `mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }`,
        { input: eventInput(organizationId, title) },
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
      return createEvent.event.id;
    };
    // The follower reads Bosnian; the organizer restyles its brand (branding → messaging's copy).
    const chosen = await gatewayCall<{ updateNotificationPreferences: { preferences: { locale: string } } }>(
      stack,
      `mutation($input: UpdateNotificationPreferencesInput!) {
        updateNotificationPreferences(input: $input) { preferences { locale } }
      }`,
      { input: { locale: 'bs' } },
      follower.headers,
    );
    expect(chosen.updateNotificationPreferences.preferences.locale).toBe('bs');
    await waitFor(async () => {
      const data = await gatewayCall<{ updateBrandKit: { errors: unknown[] } }>(
        stack,
        `mutation($input: UpdateBrandKitInput!) { updateBrandKit(input: $input) { errors { code } } }`,
        { input: { organizationId, primaryColor: '#7A1F5C' } },
        owner.headers,
      );
      return data.updateBrandKit.errors.length === 0;
    });
    await waitFor(async () => {
      const [kit] = await stack.sql`
        select 1 from messaging.brand_contexts
        where organization_id = ${organizationId} and context->>'primaryColor' = '#7A1F5C'`;
      return kit !== undefined;
    });
    const eventId = await publish('Followers Night');

    const inbox = await waitFor(async () => {
      const data = await gatewayCall<Inbox>(stack, INBOX, { id: follower.userId }, follower.headers);
      return data.user.unreadNotificationCount === 1 && data.user;
    });
    expect(inbox.notifications.edges[0]!.node).toMatchObject({
      category: 'EVENT_UPDATES',
      kind: 'EVENT_PUBLISHED',
      url: `${TEST_WEB_URL}/events/${eventId}`,
      subject: 'Novo od Org followed-org',
    });

    const { markNotificationsRead } = await gatewayCall<{ markNotificationsRead: { unreadCount: number } }>(
      stack,
      `mutation { markNotificationsRead(input: { all: true }) { unreadCount } }`,
      {},
      follower.headers,
    );
    expect(markNotificationsRead.unreadCount).toBe(0);

    // The email, from the organizer, with RFC 8058's headers pointing at this gateway.
    const mail = await stack.smtp.waitForMessage(
      (received) =>
        received.envelope.to.includes(follower.email) &&
        received.parsed.subject === 'Novo od Org followed-org: Followers Night',
    );
    // In Bosnian, in the organizer's colours.
    expect(mail.parsed.text).toContain('je objavio događaj');
    expect(mail.parsed.html).toContain('#7A1F5C');
    expect(mail.parsed.text).toContain(`/events/${eventId}`);
    expect(headerOf(mail, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    const link = /^<([^>]+)>$/.exec(headerOf(mail, 'List-Unsubscribe')!)![1]!;
    expect(link.startsWith(new URL('/unsubscribe?token=', stack.url).href)).toBe(true);
    expect(mail.parsed.text).toContain(link);

    // What the mail client does with it: POST, no cookies, no login.
    const posted = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
      redirect: 'manual',
    });
    expect(posted.status).toBe(200);
    expect(await posted.text()).toBe('You are unsubscribed from event update emails.');

    // The next event: in-app still, and once the mail consumer has handled it, no second email.
    const second = await publish('Second Night');
    await waitFor(async () => {
      const data = await gatewayCall<Inbox>(stack, INBOX, { id: follower.userId }, follower.headers);
      return data.user.unreadNotificationCount === 1;
    });
    await waitFor(async () => {
      const handled = await stack.sql`
        select 1 from messaging.inbox i join catalog.outbox o on o.id = i.event_id
        where i.consumer = 'messaging-event-published-followers' and o.payload->>'eventId' = ${second}`;
      return handled.length === 1;
    });
    expect(followerMailsTo(follower.email)).toHaveLength(1);
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
