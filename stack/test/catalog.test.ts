import { graphql, requestStatements, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddTicketTypeDocument,
  CreateEventDocument,
  EventsPageDocument,
  PublishEventDocument,
} from './generated/operations.ts';
import { eventInput, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('jetstream');
});
afterAll(async () => {
  await stack?.dispose();
});

/** A verified user who owns a new organization, and their headers. */
async function organizationOwner(slug: string) {
  const { organizationId, owner } = await stack.organizationOwner(slug);
  return { organizationId, headers: owner.headers };
}

async function publishedEvent(organizationId: string, headers: Record<string, string>, title: string) {
  const created = await graphql(
    stack.url,
    CreateEventDocument,
    { input: eventInput(organizationId, title) },
    headers,
  );
  expect(created.body.data?.createEvent.errors).toEqual([]);
  const event = created.body.data!.createEvent.event!;
  for (const name of ['Early', 'Regular']) {
    const added = await graphql(
      stack.url,
      AddTicketTypeDocument,
      { input: { eventId: event.id, name, price: { amount: 1500, currency: 'EUR' }, capacity: 50 } },
      headers,
    );
    expect(added.body.data?.addTicketType.errors).toEqual([]);
  }
  const published = await graphql(stack.url, PublishEventDocument, { input: { id: event.id } }, headers);
  expect(published.body.data?.publishEvent.errors).toEqual([]);
  return event;
}

describe('catalog through the gateway', () => {
  it('lists 50 published events with ticket types and organizers in a bounded number of SQL statements', async () => {
    const owners = [];
    for (const slug of ['list-a', 'list-b', 'list-c']) owners.push(await organizationOwner(slug));
    for (let i = 0; i < 50; i++) {
      const owner = owners[i % owners.length]!;
      await publishedEvent(owner.organizationId, owner.headers, `Listed ${i}`);
    }
    // A draft of the same organizer never shows up for anonymous callers.
    await graphql(
      stack.url,
      CreateEventDocument,
      { input: eventInput(owners[0]!.organizationId, 'Draft') },
      owners[0]!.headers,
    );

    const page = () => graphql(stack.url, EventsPageDocument, { first: 50 });
    await page();
    const before = {
      catalog: await requestStatements(stack.subgraphs.catalog.url),
      identity: await requestStatements(stack.subgraphs.identity.url),
    };
    const { body } = await page();
    expect(body.errors).toBeUndefined();
    const edges = body.data!.events.edges;
    expect(edges).toHaveLength(50);
    expect(edges.map((edge) => edge.node.title)).not.toContain('Draft');
    expect(
      edges.every(
        (edge) => edge.node.organizer?.name?.startsWith('Org list-') && edge.node.ticketTypes.length === 2,
      ),
    ).toBe(true);
    // catalog: the page and one batched ticket-type query; identity: one batched organization query.
    expect((await requestStatements(stack.subgraphs.catalog.url)) - before.catalog).toBe(2);
    expect((await requestStatements(stack.subgraphs.identity.url)) - before.identity).toBe(1);
  });

  it('relays bilten.catalog.event.published to JetStream', async () => {
    const owner = await organizationOwner('relay-check');
    const event = await publishedEvent(owner.organizationId, owner.headers, 'Relayed');
    const [row] = await waitFor(async () => {
      const rows =
        await stack.sql`select type, sent_at from catalog.outbox where aggregate_type = 'event' and aggregate_id = ${event.id} and sent_at is not null`;
      return rows.length ? rows : null;
    });
    expect(row!.type).toBe('bilten.catalog.event.published');
  });

  it("answers another organization's owner FORBIDDEN with no data", async () => {
    const owner = await organizationOwner('mine');
    const stranger = await organizationOwner('theirs');
    const event = await publishedEvent(owner.organizationId, owner.headers, 'Mine');
    const { body } = await graphql<unknown, unknown>(
      stack.url,
      `mutation($input: UpdateEventInput!) { updateEvent(input: $input) { event { id title } errors { code } } }`,
      { input: { id: event.id, expectedVersion: 4, title: 'Theirs now' } },
      stranger.headers,
    );
    expect(body.data).toBeNull();
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    const anonymous = await graphql(stack.url, CreateEventDocument, {
      input: eventInput(owner.organizationId, 'x'),
    });
    expect(anonymous.body.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  it('rejects a 1 MB description with a field error, a larger body with 413, never a 500, storing nothing', async () => {
    const owner = await organizationOwner('big-text');
    const count = async () =>
      (await stack.sql`select count(*)::int as n from catalog.events`)[0]!.n as number;
    const before = await count();
    const big = await graphql(
      stack.url,
      CreateEventDocument,
      { input: eventInput(owner.organizationId, 'Big', { description: 'a'.repeat(1_000_000) }) },
      owner.headers,
    );
    expect(big.status).toBe(200);
    expect(big.body.data?.createEvent).toEqual({
      event: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: 'must be at most 100000 characters',
          field: ['input', 'description'],
        },
      ],
    });
    const tooBig = await fetch(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...owner.headers },
      body: JSON.stringify({
        query: 'mutation($input: CreateEventInput!) { createEvent(input: $input) { errors { code } } }',
        variables: {
          input: eventInput(owner.organizationId, 'Bigger', { description: 'a'.repeat(1_100_000) }),
        },
      }),
    });
    expect(tooBig.status).toBe(413);
    const answer = (await tooBig.json()) as {
      errors: Array<{ message: string; extensions: { code: string } }>;
    };
    expect(answer.errors[0]!.extensions.code).not.toBe('INTERNAL');
    expect(await count()).toBe(before);
  });
});
