import { eventPublished } from '@bilten/contracts/catalog';
import { organizationClosed, organizationCreated } from '@bilten/contracts/identity';
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
import { consumerCaughtUp, knownOrganization } from './support.ts';

let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;
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
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
});

const caughtUp = (consumer: string) => consumerCaughtUp(jsm, subgraph, consumer);

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
  const { data, errors } = await subgraph.gql<Record<string, FollowResult>>(
    FOLLOW(field),
    { input: { organizationId } },
    await subgraph.bearer({ sub: userId }),
  );
  expect(errors).toBeUndefined();
  return data![field]!;
}

const NOT_FOUND: FollowResult = {
  following: false,
  organization: null,
  errors: [{ code: 'NOT_FOUND', message: 'no such organization', field: ['input', 'organizationId'] }],
};

const followsOf = async (organizationId: string) =>
  (
    await subgraph.sql<Array<{ user_id: string }>>`
      select user_id from messaging.follows where organization_id = ${organizationId}`
  ).map((row) => row.user_id);

async function followerCount(organizationId: string) {
  const { data } = await subgraph.gql<{ _entities: Array<{ followerCount: number }> }>(
    `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Organization { followerCount } } }`,
    { representations: [{ __typename: 'Organization', id: organizationId }] },
    {},
  );
  return data!._entities[0]!.followerCount;
}

const closure = (organizationId: string) =>
  newEvent(organizationClosed, organizationId, 2, { organizationId, closureId: uuidv7() });

const closedAtOf = async (organizationId: string) =>
  (
    await subgraph.sql<Array<{ closed_at: Date | null }>>`
      select closed_at from messaging.organization_names where organization_id = ${organizationId}`
  )[0]?.closed_at;

describe('following only organizations messaging knows', () => {
  it('answers NOT_FOUND for an organization identity never announced, storing nothing', async () => {
    const userId = uuidv7();
    const unknown = uuidv7();
    expect(await follow('followOrganization', userId, unknown)).toEqual(NOT_FOUND);
    expect(await followsOf(unknown)).toEqual([]);
    // Unfollowing stays idempotent for any id.
    expect(await follow('unfollowOrganization', userId, unknown)).toEqual({
      following: false,
      organization: { id: unknown, followerCount: 0 },
      errors: [],
    });
  });

  it('follows a known organization', async () => {
    const organizationId = await knownOrganization(jsm, subgraph);
    const userId = uuidv7();
    expect(await follow('followOrganization', userId, organizationId)).toEqual({
      following: true,
      organization: { id: organizationId, followerCount: 1 },
      errors: [],
    });
    expect(await followsOf(organizationId)).toEqual([userId]);
  });
});

describe('organization closed', () => {
  it('ends its follows in the same transaction, once under redelivery, and notifies nobody after', async () => {
    const organizationId = await knownOrganization(jsm, subgraph);
    const other = await knownOrganization(jsm, subgraph);
    const [ana, ben] = [uuidv7(), uuidv7()];
    for (const userId of [ana, ben]) await follow('followOrganization', userId, organizationId);
    await follow('followOrganization', ana, other);

    const closed = closure(organizationId);
    loseAckOnce.add(closed.id);
    await subgraph.testBus.bus.publish(closed);
    // Committed, ack lost, delivered again and found in the inbox.
    await waitFor(async () => handled.filter((id) => id === closed.id).length === 2);
    await caughtUp('organization-closed-follows');
    expect(await followsOf(organizationId)).toEqual([]);
    expect(await followerCount(organizationId)).toBe(0);
    // Another organization's follows are untouched.
    expect(await followsOf(other)).toEqual([ana]);
    const closedAt = await closedAtOf(organizationId);
    expect(closedAt).toEqual(new Date(closed.occurredAt));

    expect(await follow('followOrganization', ben, organizationId)).toEqual(NOT_FOUND);
    expect(await followsOf(organizationId)).toEqual([]);
    // Unfollowing a closed organization is still fine.
    expect((await follow('unfollowOrganization', ana, organizationId)).errors).toEqual([]);

    // A later closure event for it (a second closure id) changes nothing either: the first date stays.
    const again = { ...closure(organizationId), occurredAt: new Date(Date.now() + 60_000).toISOString() };
    await subgraph.testBus.bus.publish(again);
    await caughtUp('organization-closed-follows');
    expect(await closedAtOf(organizationId)).toEqual(closedAt);

    // Its name arriving again (a redelivered creation) does not reopen it.
    await subgraph.testBus.bus.publish(
      newEvent(organizationCreated, organizationId, 1, {
        organizationId,
        name: 'Reopened?',
        slug: `org-${uuidv7().slice(-12)}`,
        testMode: false,
      }),
    );
    await caughtUp('organization-names-created');
    expect(await follow('followOrganization', ben, organizationId)).toEqual(NOT_FOUND);

    // An event published for it afterwards reaches nobody.
    const eventId = uuidv7();
    const published = newEvent(eventPublished, eventId, 1, {
      eventId,
      organizationId,
      title: 'Last call',
      visibility: 'PUBLIC',
      startsAt: '2027-05-14T18:30:00.000Z',
      endsAt: '2027-05-14T22:00:00.000Z',
      timezone: 'Europe/Sarajevo',
      venue: null,
      onlineUrl: null,
    });
    await subgraph.testBus.bus.publish(published);
    await caughtUp('event-published-followers');
    await waitFor(async () => handled.includes(published.id));
    const [notified] = await subgraph.sql<Array<{ count: number }>>`
      select count(*)::int as count from messaging.notifications where source_event_id = ${published.id}`;
    expect(notified!.count).toBe(0);
  });

  it('keeps an organization closed whose closure arrives before its creation', async () => {
    const organizationId = uuidv7();
    await subgraph.testBus.bus.publish(closure(organizationId));
    await caughtUp('organization-closed-follows');
    await subgraph.testBus.bus.publish(
      newEvent(organizationCreated, organizationId, 1, {
        organizationId,
        name: 'Late news',
        slug: `org-${organizationId.slice(-12)}`,
        testMode: false,
      }),
    );
    await caughtUp('organization-names-created');
    const [row] = await subgraph.sql<Array<{ name: string; closed_at: Date | null }>>`
      select name, closed_at from messaging.organization_names where organization_id = ${organizationId}`;
    // The name still fills in (for mails), the closure stays.
    expect(row!.name).toBe('Late news');
    expect(row!.closed_at).not.toBeNull();
    expect(await follow('followOrganization', uuidv7(), organizationId)).toEqual(NOT_FOUND);
  });

  it('leaves no follow behind when follows race the closure', async () => {
    const organizationId = await knownOrganization(jsm, subgraph);
    const users = Array.from({ length: 30 }, () => uuidv7());
    const closed = closure(organizationId);
    const [results] = await Promise.all([
      Promise.all(users.map((userId) => follow('followOrganization', userId, organizationId))),
      subgraph.testBus.bus.publish(closed),
    ]);
    await waitFor(async () => handled.includes(closed.id));
    await caughtUp('organization-closed-follows');
    // Each follow either happened before the closure (and was then deleted) or was refused.
    for (const result of results) expect([true, false]).toContain(result.following);
    for (const result of results.filter((entry) => !entry.following)) expect(result).toEqual(NOT_FOUND);
    expect(await followsOf(organizationId)).toEqual([]);
    expect(await followerCount(organizationId)).toBe(0);
  });
});
