/**
 * Issue 11: with no web app (`PUBLIC_WEB_URL` unset) the links in account mails open the
 * gateway's own pages, which confirm an address, set a new password or accept an invitation.
 * The whole platform runs here, mails cross a real SMTP server, and the pages are used the way a
 * browser would: follow the link, read the form, post it. The public event page that follower
 * mails, reminders and announcements link to is here too.
 */
import {
  freePort,
  graphql,
  linkTokenOf,
  type ReceivedMail,
  type SignedInUser,
  signUp,
  type TestSmtpServer,
  waitFor,
} from '@bilten/testkit';
import type postgres from 'postgres';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishedEvent, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let smtp: TestSmtpServer;
let sql: postgres.Sql;
let logs: Array<Record<string, unknown>>;
/** What people type in their browser to reach the gateway (PUBLIC_GATEWAY_URL). */
let gatewayBase: string;
/** The gateway's /graphql. */
let api: string;
/** Every token a mail carried, none of which may reach an info line. */
const tokens: string[] = [];

beforeAll(async () => {
  // A port free a moment ago: messaging must know the gateway's address before it listens.
  const gatewayPort = await freePort();
  gatewayBase = `http://127.0.0.1:${gatewayPort}`;
  stack = await startTestStack('in-process', {
    gatewayPort,
    // No web app: the links go to the gateway's pages.
    env: { PUBLIC_WEB_URL: undefined, PUBLIC_GATEWAY_URL: gatewayBase },
  });
  ({ smtp, sql, logs, url: api } = stack);
});
afterAll(async () => {
  await stack?.dispose();
});

// ---------------------------------------------------------------- a browser, roughly

/** The link to `path` in a mail's text part, as the recipient would click it. */
function linkOf(mail: ReceivedMail, path: string): string {
  const token = linkTokenOf(mail, path);
  tokens.push(token);
  const link = (mail.parsed.text ?? '').match(/https?:\/\/\S+/g)!.find((url) => url.includes(path))!;
  expect(mail.parsed.html).toContain(`href="${link}"`);
  return link;
}

interface Page {
  url: string;
  status: number;
  headers: Headers;
  html: string;
}

async function open(url: string, init?: RequestInit): Promise<Page> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  return { url, status: response.status, headers: response.headers, html: await response.text() };
}

/** Fills the page's one form (its values as they are, `fields` typed in) and submits it. */
function submit(page: Page, fields: Record<string, string> = {}): Promise<Page> {
  const form = /<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/.exec(page.html);
  expect(form, 'the page has a form').not.toBeNull();
  const body = new URLSearchParams();
  // What the page filled in, hidden or shown (e.g. the email address typed before).
  for (const [input] of form![2]!.matchAll(/<input [^>]*>/g)) {
    const name = / name="([^"]+)"/.exec(input)?.[1];
    const value = / value="([^"]*)"/.exec(input)?.[1];
    if (name && value !== undefined) body.set(name, unescapeHtml(value));
  }
  for (const [name, value] of Object.entries(fields)) body.set(name, value);
  const action = new URL(unescapeHtml(form![1]!), page.url).toString();
  return open(action, { method: 'POST', body });
}

const unescapeHtml = (html: string) =>
  html
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

/** Every answer of these pages: HTML that runs no script, is never framed, cached or referred. */
function expectSafePage(page: Page) {
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(page.headers.get('content-security-policy')).toBe(
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  expect(page.headers.get('x-frame-options')).toBe('DENY');
  expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  expect(page.headers.get('cache-control')).toBe('no-store');
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(page.html).not.toMatch(/<script|<iframe|<img|<link|\son\w+=/i);
}

const mailTo = (address: string, subject: string | RegExp) =>
  smtp.waitForMessage(
    (mail) =>
      mail.envelope.to.includes(address) &&
      (typeof subject === 'string'
        ? mail.parsed.subject === subject
        : subject.test(mail.parsed.subject ?? '')),
  );

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken user { emailVerified } } }`;
const login = (email: string, password: string) =>
  graphql<{ login: { accessToken: string | null; user: { emailVerified: boolean } | null } }, unknown>(
    api,
    LOGIN,
    { input: { email, password } },
  );
const emailVerified = async (email: string, password: string) => {
  const { body } = await login(email, password);
  const me = await graphql<{ me: { emailVerified: boolean } }, unknown>(
    api,
    '{ me { emailVerified } }',
    undefined,
    {
      authorization: `Bearer ${body.data!.login.accessToken}`,
    },
  );
  return me.body.data!.me.emailVerified;
};

// ---------------------------------------------------------------- the pages

describe('verify email through the gateway page', () => {
  it('links to the page; GET shows a button and changes nothing; POST verifies; a second POST is refused', async () => {
    const email = 'ana.page@example.com';
    const password = 'a bridge over the drina';
    const displayName = '<b>Ana</b> & "Co"';
    const registered = await graphql<{ register: { errors: unknown[] } }, unknown>(
      api,
      `mutation($input: RegisterInput!) { register(input: $input) { errors { message } } }`,
      { input: { email, password, displayName } },
    );
    expect(registered.body.data!.register.errors).toEqual([]);

    const link = linkOf(await mailTo(email, 'Confirm your email address'), '/verify-email');
    expect(link.startsWith(`${gatewayBase}/account/verify-email?token=`)).toBe(true);

    // A mail scanner (or the person) opens the link: a page, nothing more.
    const shown = await open(link);
    expect(shown.status).toBe(200);
    expectSafePage(shown);
    expect(shown.html).toContain('<form method="post" action="verify-email">');
    expect(shown.html).toContain('<button type="submit">Confirm my email address</button>');
    await open(link);
    expect(await emailVerified(email, password)).toBe(false);

    const done = await submit(shown);
    expect(done.url).toBe(`${gatewayBase}/account/verify-email`);
    expect(done.status).toBe(200);
    expectSafePage(done);
    expect(done.html).toContain('Email address confirmed');
    // The display name is shown, as text.
    expect(done.html).toContain(
      'Thank you, &lt;b&gt;Ana&lt;/b&gt; &amp; &quot;Co&quot;: your email address is confirmed.',
    );
    expect(done.html).not.toContain('<b>Ana');
    expect(await emailVerified(email, password)).toBe(true);

    const again = await submit(shown);
    expect(again.status).toBe(400);
    expectSafePage(again);
    expect(again.html).toContain('This verification link is not valid or was used already.');
  });
});

describe('reset password through the gateway page', () => {
  it('shows a form (GET changes nothing), refuses bad passwords with the form again, then sets it once', async () => {
    const user = await signUp(api, sql);
    const requested = await graphql<{ requestPasswordReset: { accepted: boolean } }, unknown>(
      api,
      `mutation($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { accepted } }`,
      { input: { email: user.email } },
    );
    expect(requested.body.data!.requestPasswordReset.accepted).toBe(true);
    const link = linkOf(await mailTo(user.email, 'Reset your Bilten password'), '/reset-password');
    expect(link.startsWith(`${gatewayBase}/account/reset-password?token=`)).toBe(true);

    const shown = await open(link);
    expect(shown.status).toBe(200);
    expectSafePage(shown);
    expect(shown.html).toContain('<form method="post" action="reset-password">');
    expect(shown.html).toMatch(
      /<input id="password" name="password" type="password" autocomplete="new-password"/,
    );
    expect((await login(user.email, user.password)).body.data!.login.accessToken).toBeTruthy();

    const mismatch = await submit(shown, { password: 'one new password', confirm: 'another one' });
    expect(mismatch.status).toBe(400);
    expectSafePage(mismatch);
    expect(mismatch.html).toContain('The two passwords differ.');

    const short = await submit(shown, { password: 'short', confirm: 'short' });
    expect(short.status).toBe(400);
    expect(short.html).toContain('class="error"');
    // The same link still works: the form comes back with the token.
    expect(short.html).toContain('action="reset-password"');

    const newPassword = 'a brand new passphrase';
    const done = await submit(short, { password: newPassword, confirm: newPassword });
    expect(done.status).toBe(200);
    expectSafePage(done);
    expect(done.html).toContain('Password changed');
    expect((await login(user.email, user.password)).body.errors?.[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
    expect((await login(user.email, newPassword)).body.data!.login.accessToken).toBeTruthy();

    const again = await submit(shown, {
      password: 'yet another passphrase',
      confirm: 'yet another passphrase',
    });
    expect(again.status).toBe(400);
    expect(again.html).toContain('This reset link is not valid or was used already.');
    expect(again.html).not.toContain('<form');
  });
});

describe('accept an invitation through the gateway page', () => {
  let owner: SignedInUser;
  let invitee: SignedInUser;
  let organizationId: string;

  const members = async () => {
    const { body } = await graphql<
      { organization: { members: Array<{ user: { id: string }; role: string }> } },
      unknown
    >(
      api,
      'query($id: ID!) { organization(id: $id) { members { user { id } role } } }',
      { id: organizationId },
      owner.headers,
    );
    return body.data!.organization.members;
  };
  const openSessions = async (userId: string) =>
    (await sql`select id from identity.sessions where user_id = ${userId} and revoked_at is null`).length;

  beforeAll(async () => {
    owner = await signUp(api, sql);
    invitee = await signUp(api, sql);
    const created = await graphql<{ createOrganization: { organization: { id: string } } }, unknown>(
      api,
      'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }',
      { input: { name: '<i>Acme</i> & Sons', slug: 'acme-and-sons' } },
      owner.headers,
    );
    organizationId = created.body.data!.createOrganization.organization.id;
    // The owner's token must carry the new role before inviting.
    const refreshed = await graphql<{ refreshToken: { accessToken: string; refreshToken: string } }, unknown>(
      api,
      'mutation($input: RefreshTokenInput!) { refreshToken(input: $input) { accessToken refreshToken } }',
      { input: { refreshToken: owner.refreshToken } },
    );
    owner.headers = { authorization: `Bearer ${refreshed.body.data!.refreshToken.accessToken}` };
    const invited = await graphql<{ inviteMember: { errors: unknown[] } }, unknown>(
      api,
      'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { errors { message } } }',
      { input: { organizationId, email: invitee.email, role: 'STAFF' } },
      owner.headers,
    );
    expect(invited.body.data!.inviteMember.errors).toEqual([]);
  });

  it('shows a sign-in form (GET changes nothing), re-asks after a wrong password, then joins once', async () => {
    const link = linkOf(await mailTo(invitee.email, /^Join /), '/accept-invitation');
    expect(link.startsWith(`${gatewayBase}/account/accept-invitation?token=`)).toBe(true);

    const shown = await open(link);
    expect(shown.status).toBe(200);
    expectSafePage(shown);
    expect(shown.html).toContain('<form method="post" action="accept-invitation">');
    expect(shown.html).toMatch(/<input id="email" name="email" type="email"/);
    expect(await members()).toHaveLength(1);
    const sessionsBefore = await openSessions(invitee.userId);

    const wrong = await submit(shown, { email: invitee.email, password: 'not the password at all' });
    expect(wrong.status).toBe(401);
    expectSafePage(wrong);
    expect(wrong.html).toContain('class="error"');
    expect(wrong.html).toContain(`value="${invitee.email}"`);
    expect(await members()).toHaveLength(1);

    // What the visitor typed comes back as text, never as markup.
    const hostile = await submit(shown, {
      email: '"><script>alert(1)</script>@x.test',
      password: 'whatever it is',
    });
    expectSafePage(hostile);
    expect(hostile.html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@x.test"');

    const done = await submit(wrong, { password: invitee.password });
    expect(done.status).toBe(200);
    expectSafePage(done);
    expect(done.html).toContain('You joined &lt;i&gt;Acme&lt;/i&gt; &amp; Sons as a staff member.');
    expect(done.html).not.toContain('<i>Acme');
    expect(await members()).toContainEqual({ user: { id: invitee.userId }, role: 'STAFF' });
    // The page signed in only to accept, and signed out again.
    expect(await openSessions(invitee.userId)).toBe(sessionsBefore);

    const again = await submit(wrong, { password: invitee.password });
    expect(again.status).toBe(400);
    expect(again.html).toContain('This invitation is not valid, was used, or has expired.');
  });
});

describe('the pages themselves', () => {
  it('answer a link without a token, escape a hostile one, and take only their own form', async () => {
    const missing = await open(`${gatewayBase}/account/verify-email`);
    expect(missing.status).toBe(400);
    expectSafePage(missing);
    expect(missing.html).toContain('This link is incomplete');

    const hostile = await open(
      `${gatewayBase}/account/reset-password?token=${encodeURIComponent('"><script>alert(1)</script>')}`,
    );
    expect(hostile.status).toBe(200);
    expectSafePage(hostile);
    expect(hostile.html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    const refused = await submit(hostile, { password: 'a long enough one', confirm: 'a long enough one' });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('This reset link is not valid or was used already.');

    const json = await open(`${gatewayBase}/account/verify-email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'x' }),
    });
    expect(json.status).toBe(415);
    expectSafePage(json);
    const huge = await open(`${gatewayBase}/account/verify-email`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'x'.repeat(20_000) }),
    });
    expect(huge.status).toBe(413);
    expectSafePage(huge);
    // The form parser is the pages' alone: /graphql still takes no form posts.
    const form = await fetch(api, { method: 'POST', body: new URLSearchParams({ query: '{ __typename }' }) });
    expect(form.status).toBe(415);
  });

  it('run their mutations through the gateway’s GraphQL path, and no token reaches the info logs', () => {
    const operations = logs
      .filter((line) => line.msg === 'graphql operation')
      .map((line) => line.operationName);
    for (const name of [
      'AccountPageVerifyEmail',
      'AccountPageResetPassword',
      'AccountPageSignIn',
      'AccountPageAcceptInvitation',
      'AccountPageSignOut',
    ])
      expect(operations).toContain(name);
    expect(tokens).toHaveLength(3);
    const text = JSON.stringify(logs);
    for (const token of tokens) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(encodeURIComponent(token));
    }
  });
});

describe('the public event page mails link to', () => {
  it('shows a published event with its time in its own zone, place, organizer and what is left; 404 otherwise', async () => {
    const { eventId } = await publishedEvent(stack, 'event-page', { title: 'Jazz <b>Night</b>' });
    const url = new URL(`/events/${eventId}`, stack.url);
    // What is left shows once orders has its copy of the published offer.
    const { shown, html } = await waitFor(async () => {
      const response = await fetch(url);
      const text = await response.text();
      return response.status === 200 && text.includes(' left)') && { shown: response, html: text };
    });
    expect(shown.headers.get('content-type')).toContain('text/html');
    expect(shown.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html).toContain('Jazz &lt;b&gt;Night&lt;/b&gt;');
    expect(html).not.toContain('<b>Night</b>');
    expect(html).toContain('Org event-page');
    expect(html).toMatch(/Regular: .*10\.00.*left/);
    for (const missing of [uuidv7(), 'not-an-id', `${eventId}'--`]) {
      const response = await fetch(new URL(`/events/${encodeURIComponent(missing)}`, stack.url));
      expect(response.status, missing).toBe(404);
      expect(await response.text()).toContain('Event not found');
    }
  });
});
