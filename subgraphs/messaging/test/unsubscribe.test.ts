import { startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsubscribeLinks } from '../src/adapters/unsubscribe-links.ts';
import { messagingSubgraph } from '../src/server.ts';

const GATEWAY = 'https://gateway.example';
const SECRET = 'unsubscribe-test-secret-of-at-least-32-chars';

let subgraph: TestSubgraph;
let origin: string;
/** Links as messaging signs them under the subgraph's own MAIL_LINK_SECRET. */
const links = createUnsubscribeLinks({
  env: { NODE_ENV: 'test', MAIL_LINK_SECRET: SECRET },
  gateway: GATEWAY,
});

beforeAll(async () => {
  subgraph = await startTestSubgraph(messagingSubgraph, 'in-process', {
    env: { MAIL_LINK_SECRET: SECRET, PUBLIC_GATEWAY_URL: GATEWAY },
  });
  origin = new URL(subgraph.service.url).origin;
});

afterAll(async () => {
  await subgraph?.dispose();
});

/** The link's path and query at the subgraph, as the gateway passes it on. */
const atSubgraph = (link: string) => {
  const url = new URL(link);
  expect(url.origin).toBe(GATEWAY);
  return `${origin}${url.pathname}${url.search}`;
};

/** What a mail client does for RFC 8058: POST the link with this body, no cookies, no redirects followed. */
const oneClick = (url: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'List-Unsubscribe=One-Click',
    redirect: 'manual',
  });

const PREFERENCES = `{ myNotificationPreferences { categories { category all channels { channel enabled } enabledChannels } } }`;
interface Category {
  category: string;
  all: boolean;
  channels: Array<{ channel: string; enabled: boolean }>;
  enabledChannels: string[];
}
async function categoriesOf(userId: string): Promise<Record<string, Category>> {
  const { data, errors } = await subgraph.gql<{ myNotificationPreferences: { categories: Category[] } }>(
    PREFERENCES,
    {},
    await subgraph.bearer({ sub: userId }),
  );
  expect(errors).toBeUndefined();
  return Object.fromEntries(
    data!.myNotificationPreferences.categories.map((entry) => [entry.category, entry]),
  );
}

describe('one-click unsubscribe (RFC 8058)', () => {
  it('turns off exactly that category and channel, with 200 and no redirect; again is still 200', async () => {
    const userId = uuidv7();
    const link = links.link({ userId, category: 'EVENT_UPDATES', channel: 'EMAIL' });
    expect(link.startsWith(`${GATEWAY}/unsubscribe?token=`)).toBe(true);

    const response = await oneClick(atSubgraph(link));
    expect(response.status).toBe(200);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toBe('You are unsubscribed from event update emails.');

    const categories = await categoriesOf(userId);
    expect(categories.EVENT_UPDATES).toMatchObject({
      all: true,
      channels: [{ channel: 'EMAIL', enabled: false }],
      enabledChannels: ['IN_APP', 'WEB_PUSH', 'SMS'],
    });
    expect(categories.ANNOUNCEMENTS!.enabledChannels).toEqual(['IN_APP', 'EMAIL', 'WEB_PUSH', 'SMS']);

    expect((await oneClick(atSubgraph(link))).status).toBe(200);
    // Also with no body at all (some clients): the token is what counts.
    expect((await fetch(atSubgraph(link), { method: 'POST' })).status).toBe(200);
  });

  it('refuses forged, tampered, foreign and missing tokens with 400, changing nothing', async () => {
    const userId = uuidv7();
    const link = links.link({ userId, category: 'ANNOUNCEMENTS', channel: 'EMAIL' });
    const token = new URL(link).searchParams.get('token')!;
    const [body, mac] = token.split('.') as [string, string];
    const otherUser = Buffer.from(`${uuidv7()}:ANNOUNCEMENTS:EMAIL`).toString('base64url');
    const foreign = createUnsubscribeLinks({
      env: { NODE_ENV: 'test', MAIL_LINK_SECRET: 'another-secret-another-secret-another' },
      gateway: GATEWAY,
    }).link({ userId, category: 'ANNOUNCEMENTS', channel: 'EMAIL' });
    const critical = Buffer.from(`${userId}:ACCOUNT_SECURITY:EMAIL`).toString('base64url');
    for (const bad of [
      `${otherUser}.${mac}`,
      `${body}.${mac.slice(0, -2)}AA`,
      `${body}`,
      `${critical}.${mac}`,
      new URL(foreign).searchParams.get('token')!,
      'x'.repeat(500),
    ]) {
      const response = await oneClick(`${origin}/unsubscribe?token=${encodeURIComponent(bad)}`);
      expect(response.status, bad).toBe(400);
      expect(await response.text()).toBe('this unsubscribe link is not valid');
    }
    expect((await oneClick(`${origin}/unsubscribe`)).status).toBe(400);
    expect(
      (await fetch(`${origin}/unsubscribe?token=${encodeURIComponent(`${otherUser}.${mac}`)}`)).status,
    ).toBe(400);
    expect((await categoriesOf(userId)).ANNOUNCEMENTS!.channels).toEqual([]);
  });

  it('shows a confirmation page without script whose button posts the same link', async () => {
    const userId = uuidv7();
    const link = links.link({ userId, category: 'MARKETING', channel: 'EMAIL' });
    const page = await fetch(atSubgraph(link));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('Stop marketing emails from Bilten?');
    const action = /<form method="post" action="([^"]+)"/.exec(html)![1]!.replaceAll('&amp;', '&');
    // GET changed nothing (link scanners open links); the form's POST does.
    const before = await categoriesOf(userId);
    expect(before.MARKETING!.channels).toEqual([]);
    const posted = await oneClick(new URL(action, atSubgraph(link)).href);
    expect(posted.status).toBe(200);
    expect((await categoriesOf(userId)).MARKETING!.channels).toEqual([{ channel: 'EMAIL', enabled: false }]);
  });
});
