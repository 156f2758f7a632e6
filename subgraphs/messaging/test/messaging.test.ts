import { startTestSubgraph, statementsOf, type TestSubgraph, type UserError } from '@bilten/testkit';
import { expectFieldErrors, queryEntities, rowCount } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messagingSubgraph } from '../src/server.ts';
import { openedTexts } from './support.ts';

let subgraph: TestSubgraph;
/** A platform ADMIN: sends notifications and may read anyone's. */
let admin: Record<string, string>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(messagingSubgraph, 'in-process');
  admin = await subgraph.bearer({ roles: ['ADMIN'] });
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface Notification {
  id: string;
  recipient: { __typename: string; id: string } | null;
  channel: string;
  subject: string;
  body: string;
  readAt: string | null;
  createdAt: string;
}
interface NotificationPage {
  edges: Array<{ cursor: string; node: { id: string } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const gql = <T>(query: string, variables?: Record<string, unknown>, headers = admin) =>
  subgraph.gql<T>(query, variables, headers);

/** A signed-in user who is not a platform ADMIN. */
const userHeaders = (userId: string) => subgraph.bearer({ sub: userId });

const notificationCount = () => rowCount(subgraph.sql, 'messaging.notifications');

const NOTIFICATION_FIELDS = 'id recipient { __typename id } channel subject body readAt createdAt';
const SEND_NOTIFICATION = `mutation($input: SendNotificationInput!) {
  sendNotification(input: $input) { notification { ${NOTIFICATION_FIELDS} } errors { code message field } }
}`;
/** What reporting an admin's reads to the access log costs (begin, one outbox insert, commit), whatever their number. */
const ACCESS_REPORT_STATEMENTS = 3;

const USER_NOTIFICATIONS = `query($representations: [_Any!]!, $first: Int, $after: String) {
  _entities(representations: $representations) {
    ... on User {
      id
      notifications(first: $first, after: $after) {
        edges { cursor node { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}`;

async function sendNotification(input: Record<string, unknown>) {
  const { data, errors } = await gql<{
    sendNotification: { notification: Notification | null; errors: UserError[] };
  }>(SEND_NOTIFICATION, { input });
  expect(errors).toBeUndefined();
  return data!.sendNotification;
}

/** Sends `count` notifications to `recipientId`, one after the other; returns their ids oldest first. */
async function seedNotifications(recipientId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { notification, errors } = await sendNotification({
      recipientId,
      subject: `Hello ${i}`,
      body: `Body ${i}`,
    });
    expect(errors).toEqual([]);
    ids.push(notification!.id);
  }
  return ids;
}

type UserWithNotifications = { id: string; notifications: NotificationPage | null };

function notificationsOf(
  userIds: string[],
  first?: number | null,
  after?: string | null,
  headers?: Record<string, string>,
) {
  return gql<{ _entities: UserWithNotifications[] }>(
    USER_NOTIFICATIONS,
    { representations: userIds.map((id) => ({ __typename: 'User', id })), first, after },
    headers,
  );
}

const idsOf = (page: NotificationPage | null) => page!.edges.map((edge) => edge.node.id);

// ---------------------------------------------------------------- notifications

describe('sendNotification and notification(id)', () => {
  it('posts an in-app notification and reads it back', async () => {
    const recipientId = uuidv7();
    const { notification, errors } = await sendNotification({
      recipientId,
      subject: ' Your order ',
      body: '  Two tickets are on hold.\nSee you there!  ',
    });
    expect(errors).toEqual([]);
    expect(notification).toMatchObject({
      recipient: { __typename: 'User', id: recipientId },
      channel: 'IN_APP',
      subject: 'Your order',
      body: 'Two tickets are on hold.\nSee you there!',
      readAt: null,
    });

    const { data } = await gql<{ notification: Notification }>(
      `query($id: ID!) { notification(id: $id) { ${NOTIFICATION_FIELDS} } }`,
      { id: notification!.id },
    );
    expect(data!.notification).toEqual(notification);
    const [row] = await openedTexts(
      subgraph.database.url,
      await subgraph.sql<
        Array<{ id: string; recipient_id: string; subject_sealed: string; body_sealed: string }>
      >`
        select id, recipient_id, subject_sealed, body_sealed from messaging.notifications where id = ${notification!.id}`,
    );
    expect(row).toEqual({
      id: notification!.id,
      recipient_id: recipientId,
      subject: 'Your order',
      body: 'Two tickets are on hold.\nSee you there!',
    });
  });

  it('answers null, not an error, for unknown and non-UUID ids', async () => {
    const { data, errors } = await gql<Record<string, unknown>>(
      'query($a: ID!, $b: ID!) { a: notification(id: $a) { id } b: notification(id: $b) { id } }',
      { a: uuidv7(), b: 'n-1' },
    );
    expect(errors).toBeUndefined();
    expect(data).toEqual({ a: null, b: null });
  });
});

describe('who may send and read notifications', () => {
  const recipientId = uuidv7();
  let notificationId: string;
  beforeAll(async () => {
    [notificationId] = (await seedNotifications(recipientId, 1)) as [string];
  });
  const callers: Record<string, () => Promise<Record<string, string>>> = {
    anonymous: async () => ({}),
    'another user': () => userHeaders(uuidv7()),
    'an organization OWNER': () => subgraph.bearer({ orgs: { [uuidv7()]: 'OWNER' } }),
    'an API key': () =>
      subgraph.bearer({ kind: 'api_key', org: uuidv7(), scopes: ['events:read'], mode: 'LIVE' }),
  };
  const codes = (errors: ReadonlyArray<{ extensions?: Record<string, unknown> }> | undefined) =>
    errors?.map((error) => error.extensions?.code);
  const refusal = (caller: string) => (caller === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN');

  it.each([...Object.entries(callers), ['the recipient', () => userHeaders(recipientId)] as const])(
    'lets only platform ADMINs send: refuses %s and stores nothing',
    async (caller, headersOf) => {
      const headers = await headersOf();
      const before = await notificationCount();
      const { data, errors } = await gql(
        SEND_NOTIFICATION,
        { input: { recipientId, subject: 'Urgent', body: 'Pay here: https://evil.example' } },
        headers,
      );
      expect(data ?? null).toBeNull();
      expect(codes(errors)).toEqual([refusal(caller)]);
      expect(await notificationCount()).toBe(before);
    },
  );

  it('shows a notification and the list to their recipient (and platform ADMINs)', async () => {
    for (const headers of [await userHeaders(recipientId), admin]) {
      const one = await gql<{ notification: { id: string } }>(
        'query($id: ID!) { notification(id: $id) { id } }',
        { id: notificationId },
        headers,
      );
      expect(one).toMatchObject({ data: { notification: { id: notificationId } }, errors: undefined });
      const list = await notificationsOf([recipientId], 5, null, headers);
      expect(list.errors).toBeUndefined();
      expect(idsOf(list.data!._entities[0]!.notifications)).toEqual([notificationId]);
    }
  });

  it.each(Object.entries(callers))('shows %s no notification of someone else', async (caller, headersOf) => {
    const headers = await headersOf();
    const one = await gql<{ notification: unknown }>(
      'query($id: ID!) { notification(id: $id) { id subject body } }',
      { id: notificationId },
      headers,
    );
    expect(one.data).toEqual({ notification: null });
    expect(codes(one.errors)).toEqual([refusal(caller)]);

    const list = await notificationsOf([recipientId], 5, null, headers);
    expect(list.data!._entities).toEqual([{ id: recipientId, notifications: null }]);
    expect(codes(list.errors)).toEqual([refusal(caller)]);

    const entity = await queryEntities(
      subgraph,
      [{ __typename: 'Notification', id: notificationId }],
      '... on Notification { id subject }',
      headers,
    );
    expect(entity.data).toEqual({ _entities: [null] });
    expect(codes(entity.errors)).toEqual([refusal(caller)]);
  });
});

describe('sendNotification validation', () => {
  it.each([
    ['a non-UUID recipientId', { recipientId: 'user-1' }, ['recipientId']],
    ['an empty subject', { subject: '  ' }, ['subject']],
    ['a subject over 200 characters', { subject: 's'.repeat(201) }, ['subject']],
    ['a control character in the subject', { subject: 'Hi\u0000there' }, ['subject']],
    ['a bidi override in the subject', { subject: 'Hi\u202Ethere' }, ['subject']],
    ['an empty body', { body: '' }, ['body']],
    ['a whitespace-only body', { body: ' \n\t ' }, ['body']],
    ['a body over 10000 characters', { body: 'b'.repeat(10_001) }, ['body']],
  ])('rejects %s with a field error and stores nothing', async (_, override, field) => {
    const before = await notificationCount();
    const payload = await sendNotification({
      recipientId: uuidv7(),
      subject: 'Subject',
      body: 'Body',
      ...override,
    });
    expect(payload.notification).toBeNull();
    expectFieldErrors(payload.errors, field);
    expect(await notificationCount()).toBe(before);
  });
});

// ---------------------------------------------------------------- User.notifications

describe('User.notifications connection', () => {
  /** Ten users; user i has (i * 3) % 8 notifications, so some have none and some several pages. */
  const users = Array.from({ length: 10 }, () => uuidv7());
  const sent = new Map<string, string[]>();

  beforeAll(async () => {
    for (const [i, userId] of users.entries()) sent.set(userId, await seedNotifications(userId, (i * 3) % 8));
  });
  const newestFirst = (userId: string) => [...sent.get(userId)!].reverse();

  it('pages one user newest first with first/after until the end', async () => {
    const userId = users[5]!; // 7 notifications
    expect(sent.get(userId)).toHaveLength(7);
    const seen: string[] = [];
    const hasNext: boolean[] = [];
    let after: string | null = null;
    do {
      const { data, errors }: { data?: { _entities: UserWithNotifications[] } | null; errors?: unknown } =
        await notificationsOf([userId], 3, after);
      expect(errors).toBeUndefined();
      const page = data!._entities[0]!.notifications!;
      seen.push(...idsOf(page));
      hasNext.push(page.pageInfo.hasNextPage);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual(newestFirst(userId));
    expect(hasNext).toEqual([true, true, false]);
  });

  it('answers the first page of 10 users in the order asked, each with only their own notifications', async () => {
    const asked = [...users].reverse();
    const { data, errors } = await notificationsOf(asked, 2);
    expect(errors).toBeUndefined();
    expect(data!._entities.map((user) => user.id)).toEqual(asked);
    for (const [i, user] of data!._entities.entries()) {
      expect(idsOf(user.notifications)).toEqual(newestFirst(asked[i]!).slice(0, 2));
      expect(user.notifications!.pageInfo.hasNextPage).toBe(sent.get(asked[i]!)!.length > 2);
    }
  });

  it('continues each user from their own cursor', async () => {
    const first = (await notificationsOf(users, 2)).data!._entities;
    for (const [i, user] of first.entries()) {
      if (!user.notifications!.pageInfo.hasNextPage) continue;
      const next = (await notificationsOf([users[i]!], 2, user.notifications!.pageInfo.endCursor)).data!
        ._entities[0]!;
      expect(idsOf(next.notifications)).toEqual(newestFirst(users[i]!).slice(2, 4));
    }
  });

  it('gives unknown and non-UUID users an empty connection, without an error', async () => {
    const { data, errors } = await notificationsOf([uuidv7(), 'not-a-uuid', users[1]!]);
    expect(errors).toBeUndefined();
    expect(data!._entities.map((user) => idsOf(user.notifications))).toEqual([
      [],
      [],
      newestFirst(users[1]!),
    ]);
    expect(data!._entities[0]!.notifications!.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });

  it('costs ONE read statement for the notifications of 10 users, and one access report however many', async () => {
    // The caller is an admin reading others' notifications: the access log's report is one event
    // written in one transaction (begin, outbox insert, commit) beside the one read.
    const ten = await statementsOf(subgraph.service.url, () => notificationsOf(users, 2));
    const two = await statementsOf(subgraph.service.url, () => notificationsOf(users.slice(0, 2), 2));
    expect(ten).toBe(two);
    expect(ten).toBe(1 + ACCESS_REPORT_STATEMENTS);
  });

  it.each([0, -1, 101, 1000])('rejects first: %i with BAD_USER_INPUT', async (first) => {
    const { errors } = await notificationsOf([users[5]!], first);
    expect(errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('rejects tampered after cursors with BAD_USER_INPUT', async () => {
    const cursor = (await notificationsOf([users[5]!], 1)).data!._entities[0]!.notifications!.pageInfo
      .endCursor!;
    const reencode = (text: string) => Buffer.from(text).toString('base64url');
    for (const after of [cursor.slice(0, -3), 'garbage', reencode('{"k":"1 or 1=1"}'), reencode('[]')]) {
      const { errors } = await notificationsOf([users[5]!], 3, after);
      expect(
        errors?.map((e) => e.extensions?.code),
        after,
      ).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('federation _entities for Notification', () => {
  it('answers Notification representations in order; unknown and non-UUID ids are null', async () => {
    const recipientId = uuidv7();
    const ids = await seedNotifications(recipientId, 10);
    const asked = [ids[4]!, uuidv7(), ...ids.slice(0, 3), 'bad-id', ids[9]!];
    const { data, errors } = await queryEntities<{ id: string; recipient: { id: string } }>(
      subgraph,
      asked.map((id) => ({ __typename: 'Notification', id })),
      '... on Notification { id recipient { id } }',
      admin,
    );
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual(
      asked.map((id) => (ids.includes(id) ? { id, recipient: { id: recipientId } } : null)),
    );
  });

  it('costs one statement for 10 notifications', async () => {
    const ids = await seedNotifications(uuidv7(), 10);
    const request = () =>
      queryEntities(
        subgraph,
        ids.map((id) => ({ __typename: 'Notification', id })),
        '... on Notification { id subject }',
        admin,
      );
    expect(await statementsOf(subgraph.service.url, request)).toBe(1 + ACCESS_REPORT_STATEMENTS);
  });
});
