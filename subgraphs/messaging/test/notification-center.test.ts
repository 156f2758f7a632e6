import { eventPublished } from '@bilten/contracts/catalog';
import { consentChanged } from '@bilten/contracts/identity';
import { newEvent } from '@bilten/platform';
import {
  startTestSubgraph,
  TEST_NATS_URL,
  type TestSubgraph,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp, knownOrganization, openedTexts } from './support.ts';

let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;
let admin: Record<string, string>;
/** Events whose first ack is lost after the commit (a crash), so JetStream delivers them again. */
const loseAckOnce = new Set<string>();
/** Every event a consumer committed (applied, or found in the inbox on redelivery). */
const handled: string[] = [];

beforeAll(async () => {
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    consumers: {
      loseAckAfterCommit: (event) => {
        handled.push(event.id);
        return loseAckOnce.delete(event.id);
      },
    },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
  admin = await subgraph.bearer({ roles: ['ADMIN'] });
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
});

const as = (userId: string) => subgraph.bearer({ sub: userId });

async function gqlOk<T>(query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<T>(query, variables, headers);
  expect(errors).toBeUndefined();
  return data!;
}

const caughtUp = (consumer: string, timeoutMs?: number) =>
  consumerCaughtUp(jsm, subgraph, consumer, timeoutMs);

const SEND = `mutation($input: SendNotificationInput!) {
  sendNotification(input: $input) { notification { id } errors { code message } }
}`;
async function seed(recipientId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = await gqlOk<{ sendNotification: { notification: { id: string } } }>(
      SEND,
      { input: { recipientId, subject: `Hello ${i}`, body: `Body ${i}` } },
      admin,
    );
    ids.push(data.sendNotification.notification.id);
  }
  return ids;
}

const INBOX = `query($representations: [_Any!]!, $filter: NotificationFilter, $first: Int, $after: String) {
  _entities(representations: $representations) {
    ... on User {
      unreadNotificationCount
      notifications(filter: $filter, first: $first, after: $after) {
        edges { node { id category readAt seenAt archivedAt subject } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}`;
interface InboxNode {
  id: string;
  category: string;
  readAt: string | null;
  seenAt: string | null;
  archivedAt: string | null;
  subject: string;
}
interface Inbox {
  unreadNotificationCount: number;
  notifications: {
    edges: Array<{ node: InboxNode }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}
async function inboxOf(
  userId: string,
  filter?: Record<string, unknown>,
  page: { first?: number; after?: string | null } = {},
): Promise<Inbox> {
  const data = await gqlOk<{ _entities: Inbox[] }>(
    INBOX,
    { representations: [{ __typename: 'User', id: userId }], filter, ...page },
    await as(userId),
  );
  return data._entities[0]!;
}
const idsIn = (inbox: Inbox) => inbox.notifications.edges.map((edge) => edge.node.id);

const MARK = (field: string) => `mutation($input: NotificationIdsInput!) {
  ${field}(input: $input) { count unreadCount errors { code message field } }
}`;
type MarkResult = { count: number; unreadCount: number; errors: UserError[] };
async function mark(field: string, userId: string, input: Record<string, unknown>): Promise<MarkResult> {
  const data = await gqlOk<Record<string, MarkResult>>(MARK(field), { input }, await as(userId));
  return data[field]!;
}

describe('in-app notification states', () => {
  it('reads, sees and archives, with the unread count following', async () => {
    const userId = uuidv7();
    const [a, b, c] = await seed(userId, 3);
    expect((await inboxOf(userId)).unreadNotificationCount).toBe(3);

    expect(await mark('markNotificationsSeen', userId, { all: true })).toEqual({
      count: 3,
      unreadCount: 3,
      errors: [],
    });
    expect(await mark('markNotificationsRead', userId, { ids: [a] })).toEqual({
      count: 1,
      unreadCount: 2,
      errors: [],
    });
    // Again: nothing changes, nothing fails.
    expect((await mark('markNotificationsRead', userId, { ids: [a] })).count).toBe(0);

    const unread = await inboxOf(userId, { unread: true });
    expect(idsIn(unread)).toEqual([c, b]);
    expect(unread.notifications.edges.every(({ node }) => node.seenAt && !node.readAt)).toBe(true);

    const ARCHIVE = `mutation($input: ArchiveNotificationInput!) {
      archiveNotification(input: $input) { notification { id readAt archivedAt } errors { code } }
    }`;
    const archived = await gqlOk<{ archiveNotification: { notification: InboxNode } }>(
      ARCHIVE,
      { input: { id: b } },
      await as(userId),
    );
    expect(archived.archiveNotification.notification).toMatchObject({ id: b });
    expect(archived.archiveNotification.notification.readAt).not.toBeNull();
    expect(archived.archiveNotification.notification.archivedAt).not.toBeNull();

    const inbox = await inboxOf(userId);
    expect(idsIn(inbox)).toEqual([c, a]);
    expect(inbox.unreadNotificationCount).toBe(1);
    expect(idsIn(await inboxOf(userId, { archived: true }))).toEqual([b]);
    expect(idsIn(await inboxOf(userId, { archived: null }))).toEqual([c, b, a]);
    expect(idsIn(await inboxOf(userId, { unread: false, archived: null }))).toEqual([b, a]);

    expect(await mark('markNotificationsRead', userId, { all: true })).toMatchObject({
      count: 1,
      unreadCount: 0,
    });
  });

  it('pages the unread filter by keyset', async () => {
    const userId = uuidv7();
    const ids = await seed(userId, 5);
    await mark('markNotificationsRead', userId, { ids: [ids[3]] });
    const first = await inboxOf(userId, { unread: true }, { first: 2 });
    expect(idsIn(first)).toEqual([ids[4], ids[2]]);
    expect(first.notifications.pageInfo.hasNextPage).toBe(true);
    const second = await inboxOf(
      userId,
      { unread: true },
      { first: 2, after: first.notifications.pageInfo.endCursor },
    );
    expect(idsIn(second)).toEqual([ids[1], ids[0]]);
    expect(second.notifications.pageInfo.hasNextPage).toBe(false);
  });

  it("ignores another user's ids, refuses archiving them and reading their inbox", async () => {
    const owner = uuidv7();
    const intruder = uuidv7();
    const [theirs] = await seed(owner, 1);
    expect(await mark('markNotificationsRead', intruder, { ids: [theirs] })).toEqual({
      count: 0,
      unreadCount: 0,
      errors: [],
    });
    expect((await mark('markNotificationsSeen', intruder, { all: true })).count).toBe(0);
    const archive = await subgraph.gql(
      `mutation($input: ArchiveNotificationInput!) { archiveNotification(input: $input) { notification { id } } }`,
      { input: { id: theirs } },
      await as(intruder),
    );
    expect(archive.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const peek = await subgraph.gql(
      INBOX,
      { representations: [{ __typename: 'User', id: owner }] },
      await as(intruder),
    );
    expect(peek.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const owners = await inboxOf(owner);
    expect(owners.unreadNotificationCount).toBe(1);
    expect(owners.notifications.edges[0]!.node).toMatchObject({
      readAt: null,
      seenAt: null,
      archivedAt: null,
    });
  });

  it('answers malformed input with user errors, and anonymous callers with UNAUTHENTICATED', async () => {
    const userId = uuidv7();
    expect((await mark('markNotificationsRead', userId, {})).errors[0]).toMatchObject({
      code: 'INVALID_INPUT',
    });
    expect((await mark('markNotificationsRead', userId, { ids: [], all: true })).errors[0]).toMatchObject({
      code: 'INVALID_INPUT',
    });
    expect((await mark('markNotificationsRead', userId, { ids: ['nope'] })).errors[0]).toMatchObject({
      code: 'INVALID_INPUT',
      field: ['input', 'ids', '0'],
    });
    const anonymous = await subgraph.gql(MARK('markNotificationsRead'), { input: { all: true } }, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('publishes notification.created with the stored notification', async () => {
    const userId = uuidv7();
    const [id] = await seed(userId, 1);
    const [row] = await subgraph.sql`
      select payload from messaging.outbox where type = 'bilten.messaging.notification.created' and aggregate_id = ${id!}`;
    expect(row!.payload).toEqual({ notificationId: id, recipientId: userId });
  });

  const ARCHIVE_ID = `mutation($input: ArchiveNotificationInput!) {
    archiveNotification(input: $input) { notification { id } errors { code } }
  }`;
  const archive = async (userId: string, id: string) =>
    subgraph.gql(ARCHIVE_ID, { input: { id } }, await as(userId));
  /** The notifications.read counts written for a recipient, in order. */
  const readEvents = async (recipientId: string) =>
    (
      await subgraph.sql`
        select payload from messaging.outbox
        where type = 'bilten.messaging.notifications.read' and aggregate_id = ${recipientId}
        order by sequence`
    ).map((row) => row.payload);

  it('publishes notifications.read once per real change, never for a no-op', async () => {
    const userId = uuidv7();
    const intruder = uuidv7();
    const [a, b, c, d] = await seed(userId, 4);

    await mark('markNotificationsSeen', userId, { all: true });
    expect(await readEvents(userId)).toEqual([]);

    await mark('markNotificationsRead', userId, { ids: [a] });
    await mark('markNotificationsRead', userId, { ids: [a] });
    // Another user's ids and invalid input change nothing, so nobody is told anything.
    await mark('markNotificationsRead', intruder, { ids: [b, c] });
    expect((await archive(intruder, b!)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await mark('markNotificationsRead', userId, { ids: ['nope'] });
    expect(await readEvents(userId)).toEqual([{ recipientId: userId, count: 1 }]);
    expect(await readEvents(intruder)).toEqual([]);

    // Archiving an unread one reads it; archiving it again, or a read one, moves no count.
    expect((await archive(userId, b!)).errors).toBeUndefined();
    expect((await archive(userId, b!)).errors).toBeUndefined();
    expect((await archive(userId, a!)).errors).toBeUndefined();
    expect(await mark('markNotificationsRead', userId, { all: true })).toMatchObject({ count: 2 });
    expect((await mark('markNotificationsRead', userId, { all: true })).count).toBe(0);
    expect(await readEvents(userId)).toEqual([
      { recipientId: userId, count: 1 },
      { recipientId: userId, count: 1 },
      { recipientId: userId, count: 2 },
    ]);
    expect(
      (await inboxOf(userId, { archived: null })).notifications.edges.map(({ node }) => node.id),
    ).toEqual([d, c, b, a]);
  });

  it('publishes notifications.read once when the same notifications are read concurrently', async () => {
    const userId = uuidv7();
    const [first, second, third] = await seed(userId, 3);
    const results = await Promise.all([
      mark('markNotificationsRead', userId, { all: true }),
      mark('markNotificationsRead', userId, { all: true }),
      mark('markNotificationsRead', userId, { ids: [first, second, third] }),
    ]);
    expect(results.map((result) => result.count).reduce((sum, count) => sum + count)).toBe(3);
    const [other] = await seed(userId, 1);
    const archives = await Promise.all([
      archive(userId, other!),
      archive(userId, other!),
      archive(userId, other!),
    ]);
    expect(archives.map((answer) => answer.errors)).toEqual([undefined, undefined, undefined]);

    const events = await readEvents(userId);
    // However the three reads interleaved, the counts add up to the three notifications read.
    expect(events.slice(0, -1).reduce((sum, event) => sum + event.count, 0)).toBe(3);
    expect(events.at(-1)).toEqual({ recipientId: userId, count: 1 });
    expect(results.filter((result) => result.count > 0)).toHaveLength(events.length - 1);
  });
});

// ---------------------------------------------------------------- preferences

const PREFERENCE_FIELDS = `categories { category all critical channels { channel enabled } enabledChannels }
  timezone quietHours { start end } marketingConsent { givenAt source } locale phoneNumber pushSubscriptions { id }`;
const MY_PREFERENCES = `{ myNotificationPreferences { ${PREFERENCE_FIELDS} } }`;
const UPDATE_PREFERENCES = `mutation($input: UpdateNotificationPreferencesInput!) {
  updateNotificationPreferences(input: $input) { preferences { ${PREFERENCE_FIELDS} } errors { code message field } }
}`;
interface CategoryView {
  category: string;
  all: boolean;
  critical: boolean;
  channels: Array<{ channel: string; enabled: boolean }>;
  enabledChannels: string[];
}
interface PreferencesView {
  categories: CategoryView[];
  timezone: string | null;
  quietHours: { start: string; end: string } | null;
  marketingConsent: { givenAt: string; source: string } | null;
  locale: string;
  phoneNumber: string | null;
  pushSubscriptions: Array<{ id: string }>;
}
type UpdateResult = { preferences: PreferencesView | null; errors: UserError[] };

async function update(userId: string, input: Record<string, unknown>): Promise<UpdateResult> {
  const data = await gqlOk<{ updateNotificationPreferences: UpdateResult }>(
    UPDATE_PREFERENCES,
    { input },
    await as(userId),
  );
  return data.updateNotificationPreferences;
}
const categoryOf = (view: PreferencesView, category: string) =>
  view.categories.find((entry) => entry.category === category)!;

describe('notification preferences', () => {
  it('starts from the defaults: everything on, MARKETING nowhere without consent', async () => {
    const data = await gqlOk<{ myNotificationPreferences: PreferencesView }>(
      MY_PREFERENCES,
      {},
      await as(uuidv7()),
    );
    const view = data.myNotificationPreferences;
    expect(categoryOf(view, 'MARKETING')).toMatchObject({ all: true, critical: false, enabledChannels: [] });
    expect(categoryOf(view, 'ACCOUNT_SECURITY')).toMatchObject({ critical: true, all: true });
    expect(categoryOf(view, 'EVENT_UPDATES').enabledChannels).toEqual(['IN_APP', 'EMAIL', 'WEB_PUSH', 'SMS']);
    expect(view).toMatchObject({
      timezone: null,
      quietHours: null,
      marketingConsent: null,
      locale: 'en',
      phoneNumber: null,
      pushSubscriptions: [],
    });
  });

  it('round-trips category, channel overrides, time zone and quiet hours; a channel without an entry inherits all', async () => {
    const userId = uuidv7();
    const { preferences, errors } = await update(userId, {
      categories: [
        { category: 'EVENT_UPDATES', all: false, channels: [{ channel: 'IN_APP', enabled: true }] },
        { category: 'ANNOUNCEMENTS', channels: [{ channel: 'SMS', enabled: false }] },
      ],
      timezone: 'europe/sarajevo',
      quietHours: { start: '22:00', end: '07:30' },
    });
    expect(errors).toEqual([]);
    expect(categoryOf(preferences!, 'EVENT_UPDATES')).toMatchObject({
      all: false,
      channels: [{ channel: 'IN_APP', enabled: true }],
      enabledChannels: ['IN_APP'],
    });
    expect(categoryOf(preferences!, 'ANNOUNCEMENTS').enabledChannels).toEqual([
      'IN_APP',
      'EMAIL',
      'WEB_PUSH',
    ]);
    expect(preferences).toMatchObject({
      timezone: 'Europe/Sarajevo',
      quietHours: { start: '22:00', end: '07:30' },
    });

    // A later change keeps what it does not name; enabled: null removes the override.
    const next = await update(userId, {
      categories: [
        { category: 'EVENT_UPDATES', all: true, channels: [{ channel: 'IN_APP', enabled: null }] },
      ],
    });
    const read = await gqlOk<{ myNotificationPreferences: PreferencesView }>(
      MY_PREFERENCES,
      {},
      await as(userId),
    );
    expect(read.myNotificationPreferences).toEqual(next.preferences);
    expect(categoryOf(read.myNotificationPreferences, 'EVENT_UPDATES')).toMatchObject({
      all: true,
      channels: [],
    });
    expect(categoryOf(read.myNotificationPreferences, 'ANNOUNCEMENTS').channels).toEqual([
      { channel: 'SMS', enabled: false },
    ]);
    expect(read.myNotificationPreferences.timezone).toBe('Europe/Sarajevo');

    const cleared = await update(userId, { quietHours: null, timezone: null });
    expect(cleared.preferences).toMatchObject({ timezone: null, quietHours: null });
  });

  it('refuses to turn off critical categories, and changes nothing then', async () => {
    const userId = uuidv7();
    for (const change of [
      { category: 'ACCOUNT_SECURITY', all: false },
      { category: 'TRANSACTIONAL', channels: [{ channel: 'EMAIL', enabled: false }] },
    ]) {
      const { preferences, errors } = await update(userId, {
        categories: [{ category: 'EVENT_UPDATES', all: false }, change],
        timezone: 'Asia/Tokyo',
      });
      expect(preferences).toBeNull();
      expect(errors).toEqual([
        {
          code: 'INVALID_INPUT',
          message: expect.stringContaining('critical'),
          field: ['input', 'categories', '1'],
        },
      ]);
    }
    const read = await gqlOk<{ myNotificationPreferences: PreferencesView }>(
      MY_PREFERENCES,
      {},
      await as(userId),
    );
    expect(categoryOf(read.myNotificationPreferences, 'EVENT_UPDATES').all).toBe(true);
    expect(read.myNotificationPreferences.timezone).toBeNull();
  });

  it('sends MARKETING only on channels whose consent identity published; the old marketingConsent input is refused', async () => {
    const userId = uuidv7();
    const marketing = async () =>
      categoryOf(
        (await gqlOk<{ myNotificationPreferences: PreferencesView }>(MY_PREFERENCES, {}, await as(userId)))
          .myNotificationPreferences,
        'MARKETING',
      );
    const refused = await update(userId, {
      marketingConsent: { given: true, source: 'settings' },
      timezone: 'Asia/Tokyo',
    });
    expect(refused).toEqual({
      preferences: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: expect.stringContaining('grantConsent'),
          field: ['input', 'marketingConsent'],
        },
      ],
    });
    expect((await marketing()).enabledChannels).toEqual([]);

    let sequence = 0;
    const consent = async (purpose: string, granted: boolean, changedAt: string) => {
      await subgraph.testBus.bus.publish(
        newEvent(consentChanged, userId, ++sequence, {
          userId,
          purpose: purpose as 'MARKETING_EMAIL',
          organizationId: null,
          granted,
          textVersion: 'marketing/2026-11',
          changedAt,
        }),
      );
      await caughtUp('consent-copy');
    };
    await consent('MARKETING_EMAIL', true, '2026-12-01T10:00:00Z');
    expect((await marketing()).enabledChannels).toEqual(['EMAIL']);
    await consent('MARKETING_PUSH', true, '2026-12-01T10:01:00Z');
    expect((await marketing()).enabledChannels).toEqual(['EMAIL', 'WEB_PUSH']);
    const view = await gqlOk<{ myNotificationPreferences: PreferencesView }>(
      MY_PREFERENCES,
      {},
      await as(userId),
    );
    expect(view.myNotificationPreferences.marketingConsent).toEqual({
      givenAt: '2026-12-01T10:00:00.000Z',
      source: 'marketing/2026-11',
    });

    // The switches still narrow it.
    const narrowed = await update(userId, {
      categories: [{ category: 'MARKETING', channels: [{ channel: 'WEB_PUSH', enabled: false }] }],
    });
    expect(categoryOf(narrowed.preferences!, 'MARKETING').enabledChannels).toEqual(['EMAIL']);

    await consent('MARKETING_EMAIL', false, '2026-12-02T10:00:00Z');
    expect((await marketing()).enabledChannels).toEqual([]);
    // An answer older than the one held (a late event) never turns a withdrawal back into a grant.
    await consent('MARKETING_EMAIL', true, '2026-12-01T12:00:00Z');
    expect((await marketing()).enabledChannels).toEqual([]);
    const stored = await gqlOk<{ myNotificationPreferences: PreferencesView }>(
      MY_PREFERENCES,
      {},
      await as(userId),
    );
    expect(stored.myNotificationPreferences.marketingConsent).toBeNull();
  });

  it('answers bad time zones, times and duplicates with field errors', async () => {
    const userId = uuidv7();
    const bad = async (input: Record<string, unknown>, field: string[]) => {
      const { preferences, errors } = await update(userId, input);
      expect(preferences).toBeNull();
      expect(errors[0]).toMatchObject({ code: 'INVALID_INPUT', field });
    };
    await bad({ timezone: 'Mars/Olympus_Mons' }, ['input', 'timezone']);
    await bad({ quietHours: { start: '24:00', end: '07:00' } }, ['input', 'quietHours', 'start']);
    await bad({ quietHours: { start: '07:00', end: '07:00' } }, ['input', 'quietHours', 'end']);
    await bad(
      {
        categories: [
          { category: 'ANNOUNCEMENTS', all: false },
          { category: 'ANNOUNCEMENTS', all: true },
        ],
      },
      ['input', 'categories'],
    );
    const anonymous = await subgraph.gql(MY_PREFERENCES, {}, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('keeps both of two concurrent updates to different categories', async () => {
    const userId = uuidv7();
    await Promise.all([
      update(userId, { categories: [{ category: 'EVENT_UPDATES', all: false }] }),
      update(userId, { categories: [{ category: 'ANNOUNCEMENTS', all: false }] }),
    ]);
    const read = await gqlOk<{ myNotificationPreferences: PreferencesView }>(
      MY_PREFERENCES,
      {},
      await as(userId),
    );
    expect(categoryOf(read.myNotificationPreferences, 'EVENT_UPDATES').all).toBe(false);
    expect(categoryOf(read.myNotificationPreferences, 'ANNOUNCEMENTS').all).toBe(false);
  });
});

// ---------------------------------------------------------------- followers

const FOLLOW = (field: string) => `mutation($input: FollowOrganizationInput!) {
  ${field}(input: $input) { following organization { id followerCount } errors { code message field } }
}`;
type FollowResult = {
  following: boolean;
  organization: { id: string; followerCount: number } | null;
  errors: UserError[];
};
async function follow(
  field: 'followOrganization' | 'unfollowOrganization',
  userId: string,
  organizationId: string,
) {
  const data = await gqlOk<Record<string, FollowResult>>(
    FOLLOW(field),
    { input: { organizationId } },
    await as(userId),
  );
  return data[field]!;
}

const FOLLOWING = `query($representations: [_Any!]!, $first: Int, $after: String) {
  _entities(representations: $representations) {
    ... on User { following(first: $first, after: $after) { edges { node { id } followedAt } pageInfo { hasNextPage endCursor } } }
  }
}`;

describe('followers', () => {
  it('follows and unfollows idempotently, with the follower count', async () => {
    const organizationId = await knownOrganization(jsm, subgraph);
    const [ana, ben] = [uuidv7(), uuidv7()];
    expect(await follow('followOrganization', ana, organizationId)).toEqual({
      following: true,
      organization: { id: organizationId, followerCount: 1 },
      errors: [],
    });
    expect((await follow('followOrganization', ana, organizationId)).organization!.followerCount).toBe(1);
    expect((await follow('followOrganization', ben, organizationId)).organization!.followerCount).toBe(2);
    expect(await follow('unfollowOrganization', ana, organizationId)).toMatchObject({
      following: false,
      organization: { followerCount: 1 },
    });
    expect((await follow('unfollowOrganization', ana, organizationId)).organization!.followerCount).toBe(1);

    const entities = await gqlOk<{ _entities: Array<{ followerCount: number }> }>(
      `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Organization { followerCount } } }`,
      {
        representations: [
          { __typename: 'Organization', id: organizationId },
          { __typename: 'Organization', id: uuidv7() },
        ],
      },
      {},
    );
    expect(entities._entities).toEqual([{ followerCount: 1 }, { followerCount: 0 }]);
  });

  it("lists one's own follows by keyset, and nobody else's", async () => {
    const userId = uuidv7();
    const organizations = [];
    for (let i = 0; i < 3; i++) organizations.push(await knownOrganization(jsm, subgraph));
    for (const id of organizations) await follow('followOrganization', userId, id);
    const headers = await as(userId);
    const page = async (after?: string | null) =>
      (
        await gqlOk<{
          _entities: Array<{
            following: {
              edges: Array<{ node: { id: string } }>;
              pageInfo: { hasNextPage: boolean; endCursor: string };
            };
          }>;
        }>(FOLLOWING, { representations: [{ __typename: 'User', id: userId }], first: 2, after }, headers)
      )._entities[0]!.following;
    const first = await page();
    expect(first.edges.map((edge) => edge.node.id)).toEqual(organizations.slice(0, 2));
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page(first.pageInfo.endCursor);
    expect(second.edges.map((edge) => edge.node.id)).toEqual(organizations.slice(2));

    const other = await subgraph.gql(
      FOLLOWING,
      { representations: [{ __typename: 'User', id: userId }] },
      await as(uuidv7()),
    );
    expect(other.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses a malformed organization id with a field error', async () => {
    const result = await follow('followOrganization', uuidv7(), 'not-an-id');
    expect(result).toMatchObject({
      following: false,
      organization: null,
      errors: [{ code: 'INVALID_INPUT', field: ['input', 'organizationId'] }],
    });
  });
});

describe('event published → followers', () => {
  const publishedEvent = (organizationId: string, visibility: 'PUBLIC' | 'UNLISTED' = 'PUBLIC') => {
    const eventId = uuidv7();
    return newEvent(eventPublished, eventId, 1, {
      eventId,
      organizationId,
      title: 'Sarajevo <Jazz> Night',
      visibility,
      startsAt: '2027-03-01T19:00:00.000Z',
      endsAt: '2027-03-01T23:00:00.000Z',
      timezone: 'Europe/Sarajevo',
      venue: null,
      onlineUrl: null,
    });
  };
  const notificationsFrom = async (eventId: string) =>
    openedTexts(
      subgraph.database.url,
      await subgraph.sql<
        Array<{
          id: string;
          recipient_id: string;
          category: string;
          channel: string;
          subject_sealed: string;
          body_sealed: string;
        }>
      >`
        select id, recipient_id, category, channel, subject_sealed, body_sealed from messaging.notifications
        where source_event_id = ${eventId}`,
    );

  it('notifies each follower in-app once, not those who turned EVENT_UPDATES in-app off, not after a redelivery', async () => {
    const organizationId = await knownOrganization(jsm, subgraph);
    const followers = Array.from({ length: 5 }, () => uuidv7());
    const [quiet, ...rest] = followers;
    for (const userId of followers) await follow('followOrganization', userId, organizationId);
    await update(quiet!, {
      categories: [{ category: 'EVENT_UPDATES', channels: [{ channel: 'IN_APP', enabled: false }] }],
    });
    // Someone who follows another organization hears nothing.
    await follow('followOrganization', uuidv7(), await knownOrganization(jsm, subgraph));

    const event = publishedEvent(organizationId);
    loseAckOnce.add(event.id);
    await subgraph.testBus.bus.publish(event);
    // Four commits: the first lost its ack (the in-app, mail or webhook consumer), then its
    // redelivery, then the two other consumers.
    await waitFor(async () => handled.filter((id) => id === event.id).length === 4);
    await caughtUp('event-published-followers');
    const rows = await notificationsFrom(event.id);
    expect(rows.map((row) => row.recipient_id).sort()).toEqual([...rest].sort());
    expect(rows.every((row) => row.category === 'EVENT_UPDATES' && row.channel === 'IN_APP')).toBe(true);
    // Rendered by the eventPublished template's short form (the title is the body's).
    expect(rows[0]!.subject).toBe('New from Kino Meeting Point');
    const [created] = await subgraph.sql<Array<{ count: number }>>`
      select count(*)::int as count from messaging.outbox
      where type = 'bilten.messaging.notification.created' and payload->>'recipientId' = any(${rest})`;
    expect(created!.count).toBe(rest.length);
    expect((await inboxOf(rest[0]!)).unreadNotificationCount).toBe(1);

    // Published again by a producer that retried (JetStream's dedupe window is no guarantee): nothing new.
    await subgraph.testBus.bus.publish({ ...event });
    await caughtUp('event-published-followers');
    expect(await notificationsFrom(event.id)).toHaveLength(rest.length);
  });

  it('walks an organization with more followers than one batch, and skips unlisted events', async () => {
    const organizationId = uuidv7();
    // More than one batch (FAN_OUT_BATCH, 1000): each follower's first data key is made on the way.
    const count = 1100;
    const userIds = Array.from({ length: count }, () => uuidv7());
    await subgraph.sql`
      insert into messaging.follows (user_id, organization_id)
      select unnest(${userIds}::uuid[]), ${organizationId}`;
    const unlisted = publishedEvent(organizationId, 'UNLISTED');
    const event = publishedEvent(organizationId);
    await subgraph.testBus.bus.publish(unlisted);
    await subgraph.testBus.bus.publish(event);
    await caughtUp('event-published-followers', 30_000);
    expect(await notificationsFrom(unlisted.id)).toHaveLength(0);
    const [row] = await subgraph.sql<Array<{ count: number }>>`
      select count(distinct recipient_id)::int as count from messaging.notifications where source_event_id = ${event.id}`;
    expect(row!.count).toBe(count);
  }, 60_000);
});
