import { randomUUID } from 'node:crypto';
import { organizationCreated } from '@bilten/contracts/identity';
import { HEADER, newEvent } from '@bilten/platform';
import { createTestSigner, graphql, type TestSigner, waitFor } from '@bilten/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeadLettersDocument,
  DiscardDeadLetterDocument,
  ReplayDeadLettersDocument,
} from './generated/operations.ts';
import { startTestStack, type TestStack } from './support.ts';

// branding's consumer of identity's event: a real subscription in the running stack.
const BRANDING_CONSUMER = 'branding-default-brand-kit';

let stack: TestStack;
let signer: TestSigner;
let sql: postgres.Sql;
let admin: Record<string, string>;
beforeAll(async () => {
  signer = await createTestSigner();
  stack = await startTestStack('jetstream', {
    auth: { issuer: signer.issuer, audience: signer.audience, jwks: signer.jwks },
  });
  sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
  admin = { authorization: `Bearer ${await signer.sign({ roles: ['ADMIN'] })}` };
});
afterAll(async () => {
  await sql?.end();
  await stack?.dispose();
});

/** Puts a valid event in the dead letters as if branding had given up on it. */
async function deadLetterFor(organizationId: string, reason: string) {
  const event = newEvent(organizationCreated, organizationId, 1, {
    organizationId,
    name: 'Org',
    slug: 'org',
    testMode: false,
  });
  await stack.bus.deadLetter(
    {
      durableName: BRANDING_CONSUMER,
      subject: event.type,
      keyOf: () => organizationId,
      handle: async () => ({ kind: 'ack' }),
    },
    {
      data: JSON.stringify(event),
      subject: event.type,
      headers: { [HEADER.type]: event.type },
      deliveryCount: 8,
    },
    reason,
  );
  return event;
}

const kitsOf = async (organizationId: string) =>
  (
    await sql`select count(*)::int as n from branding.brand_kits where organization_id = ${organizationId}`
  )[0]!.n;

describe('dead-letter operations through the gateway', () => {
  it('are for platform administrators only', async () => {
    const customer = { authorization: `Bearer ${await signer.sign({ roles: [] })}` };
    const anonymous = await graphql(stack.url, DeadLettersDocument, {});
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(anonymous.body.data).toBeNull();
    const forbidden = await graphql(stack.url, DeadLettersDocument, {}, customer);
    expect(forbidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const replay = await graphql(
      stack.url,
      ReplayDeadLettersDocument,
      { input: { sequences: [1] } },
      customer,
    );
    expect(replay.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const discard = await graphql(stack.url, DiscardDeadLetterDocument, { input: { sequence: 1 } }, customer);
    expect(discard.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const tampered = await graphql(
      stack.url,
      DeadLettersDocument,
      {},
      { authorization: `${admin.authorization}x` },
    );
    expect(tampered.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('lists a poison message with its consumer, reason and payload, filters and pages', async () => {
    // A payload branding cannot read: dead-lettered at once, the consumer moves on.
    const bad = newEvent(organizationCreated, randomUUID(), 1, {
      organizationId: randomUUID(),
      name: 'x',
      slug: 'x',
      testMode: false,
    });
    await stack.bus.publish({ ...bad, payload: { organizationId: 'not-a-uuid' } });
    const letters = await waitFor(async () => {
      const { body } = await graphql(
        stack.url,
        DeadLettersDocument,
        { filter: { consumer: BRANDING_CONSUMER } },
        admin,
      );
      return body.data?.deadLetters.edges.length ? body.data.deadLetters.edges : undefined;
    });
    expect(letters[0]!.node).toMatchObject({
      consumer: BRANDING_CONSUMER,
      subject: 'bilten.identity.organization.created',
      eventId: bad.id,
      type: 'bilten.identity.organization.created',
      error: expect.stringContaining('bad payload'),
      deliveryCount: 1,
    });
    expect(JSON.parse(letters[0]!.node.payload).payload).toEqual({ organizationId: 'not-a-uuid' });

    await deadLetterFor(randomUUID(), 'database was down');
    const other = await graphql(
      stack.url,
      DeadLettersDocument,
      { filter: { consumer: 'orders-nothing' } },
      admin,
    );
    expect(other.body.data?.deadLetters.edges).toEqual([]);
    const firstPage = await graphql(stack.url, DeadLettersDocument, { first: 1 }, admin);
    expect(firstPage.body.data?.deadLetters.pageInfo.hasNextPage).toBe(true);
    const secondPage = await graphql(
      stack.url,
      DeadLettersDocument,
      { first: 1, after: firstPage.body.data!.deadLetters.pageInfo.endCursor },
      admin,
    );
    expect(secondPage.body.data!.deadLetters.edges[0]!.node.sequence).toBeGreaterThan(
      firstPage.body.data!.deadLetters.edges[0]!.node.sequence,
    );
    const tampered = await graphql(stack.url, DeadLettersDocument, { after: 'eyJrIjoiLTEifQ' }, admin);
    expect(tampered.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('replays one or many after the cause is fixed, each handled once, and discards one', async () => {
    const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [first, second, third]) await deadLetterFor(id, 'brand kit store was down');
    const { body } = await graphql(stack.url, DeadLettersDocument, { first: 100 }, admin);
    const sequenceOf = (id: string) =>
      body.data!.deadLetters.edges.find((edge) => edge.node.payload.includes(id))!.node.sequence;

    const one = await graphql(
      stack.url,
      ReplayDeadLettersDocument,
      { input: { sequences: [sequenceOf(first)] } },
      admin,
    );
    expect(one.body.data?.replayDeadLetters).toEqual({ replayed: [sequenceOf(first)], errors: [] });
    await waitFor(async () => (await kitsOf(first)) === 1);

    const many = await graphql(
      stack.url,
      ReplayDeadLettersDocument,
      { input: { sequences: [sequenceOf(second), sequenceOf(first), 999_999] } },
      admin,
    );
    expect(many.body.data?.replayDeadLetters).toEqual({
      replayed: [sequenceOf(second)],
      errors: [
        {
          code: 'NOT_FOUND',
          message: `no dead letter ${sequenceOf(first)}`,
          field: ['input', 'sequences', '1'],
        },
        { code: 'NOT_FOUND', message: 'no dead letter 999999', field: ['input', 'sequences', '2'] },
      ],
    });
    await waitFor(async () => (await kitsOf(second)) === 1);

    const discarded = await graphql(
      stack.url,
      DiscardDeadLetterDocument,
      { input: { sequence: sequenceOf(third) } },
      admin,
    );
    expect(discarded.body.data?.discardDeadLetter).toEqual({ discarded: sequenceOf(third), errors: [] });
    const again = await graphql(
      stack.url,
      DiscardDeadLetterDocument,
      { input: { sequence: sequenceOf(third) } },
      admin,
    );
    expect(again.body.data?.discardDeadLetter.errors[0]?.code).toBe('NOT_FOUND');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await kitsOf(third)).toBe(0);
    expect(await kitsOf(first)).toBe(1);
  });

  it('replays everything for a consumer by filter, and rejects an empty request', async () => {
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await deadLetterFor(id, 'timeout');
    const empty = await graphql(stack.url, ReplayDeadLettersDocument, { input: {} }, admin);
    expect(empty.body.data?.replayDeadLetters.errors[0]).toMatchObject({
      code: 'INVALID_INPUT',
      field: ['input', 'sequences'],
    });
    const all = await graphql(
      stack.url,
      ReplayDeadLettersDocument,
      { input: { filter: { consumer: BRANDING_CONSUMER } } },
      admin,
    );
    expect(all.body.data?.replayDeadLetters.replayed.length).toBeGreaterThanOrEqual(2);
    for (const id of ids) await waitFor(async () => (await kitsOf(id)) === 1);
  });
});
