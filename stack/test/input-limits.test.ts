/** Inputs that cost before they are refused, and bad input answered INTERNAL (issue 12), through the gateway. */
import { graphql } from '@bilten/testkit';
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventInput, startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

let stack: TestStack;
let organizationId: string;
let owner: Record<string, string>;
beforeAll(async () => {
  stack = await startTestStack('in-process');
  const created = await stack.organizationOwner('limits');
  organizationId = created.organizationId;
  owner = created.owner.headers;
});
afterAll(async () => {
  await stack?.dispose();
});

interface Answer {
  body: ExecutionResult<Record<string, unknown>>;
  /** Lines any service logged at error level or above while it was answered. */
  errorLogs: Array<Record<string, unknown>>;
  ms: number;
}

async function post(
  query: string,
  variables: Record<string, unknown> = {},
  headers = owner,
): Promise<Answer> {
  const mark = stack.logs.length;
  const started = performance.now();
  const { body } = await graphql<Record<string, unknown>, Record<string, unknown>>(
    stack.url,
    query,
    variables,
    headers,
  );
  const errorLogs = stack.logs.slice(mark).filter((line) => Number(line.level) >= 50);
  return { body, errorLogs, ms: performance.now() - started };
}

const CREATE_EVENT = `mutation($input: CreateEventInput!) {
  createEvent(input: $input) { event { id } errors { code message field } }
}`;
const eventsNamed = async (title: string) =>
  (await stack.sql`select id from catalog.events where title = ${title}`).length;

describe('bad input is the client’s error: BAD_USER_INPUT or a field error, never INTERNAL', () => {
  it.each([
    ['garbage in a literal', '{ events(filter: { startsAfter: "garbage" }) { totalCount } }', {}],
    [
      'month 13 in a literal',
      '{ events(filter: { startsBefore: "2027-13-45T99:00:00Z" }) { totalCount } }',
      {},
    ],
    ['a number in a literal', '{ events(filter: { startsAfter: 1700000000 }) { totalCount } }', {}],
    [
      'garbage in a variable',
      'query($f: EventFilter) { events(filter: $f) { totalCount } }',
      { f: { startsAfter: 'garbage' } },
    ],
  ])('answers a malformed DateTime (%s) with BAD_USER_INPUT', async (_, query, variables) => {
    const { body, errorLogs } = await post(query, variables);
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toMatch(/DateTime must be an ISO-8601/);
    expect(errorLogs).toEqual([]);
  });

  it.each([
    ['a NUL in a slug', 'query($s: String!) { organizationBySlug(slug: $s) { id } }', { s: 'lim\u0000its' }],
    ['a NUL in a literal', '{ organizationBySlug(slug: "lim\\u0000its") { id } }', {}],
    [
      'a NUL in a search',
      'query($f: EventFilter) { events(filter: $f) { totalCount } }',
      { f: { query: 'jazz\u0000' } },
    ],
    [
      'a 300 KB slug',
      'query($s: String!) { organizationBySlug(slug: $s) { id } }',
      { s: 'x'.repeat(300_000) },
    ],
    [
      'a 300 KB filter',
      'query($f: EventFilter) { events(filter: $f) { totalCount } }',
      { f: { query: 'x'.repeat(300_000) } },
    ],
  ])('answers %s with BAD_USER_INPUT that says what is wrong', async (_, query, variables) => {
    const { body, errorLogs } = await post(query, variables);
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toMatch(/control characters|at most 100000 characters/);
    expect(errorLogs).toEqual([]);
  });

  it.each([
    ['description', { description: 'Doors at 8\u0000' }],
    ['onlineUrl', { onlineUrl: 'https://stream.example/live\u0000' }],
  ])('answers a NUL in an event’s %s with a field error, storing nothing', async (field, override) => {
    const title = `NUL in ${field}`;
    const { body, errorLogs } = await post(CREATE_EVENT, {
      input: eventInput(organizationId, title, override),
    });
    expect(body.errors).toBeUndefined();
    expect(body.data!.createEvent).toEqual({
      event: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: expect.stringMatching(/control characters/),
          field: ['input', field],
        },
      ],
    });
    expect(errorLogs).toEqual([]);
    expect(await eventsNamed(title)).toBe(0);
  });
});

describe('inputs that would cost seconds are refused before they cost', () => {
  it('refuses 24 000 HTML comment openers at once (PostgreSQL’s text-search parser took 11–14 s)', async () => {
    const title = 'Comment openers';
    const answer = await post(CREATE_EVENT, {
      input: eventInput(organizationId, title, { description: '<!--'.repeat(24_000) }),
    });
    expect(answer.ms).toBeLessThan(2_000);
    expect(answer.body.data!.createEvent).toMatchObject({
      event: null,
      errors: [{ code: 'INVALID_INPUT', field: ['input', 'description'] }],
    });
    expect(await eventsNamed(title)).toBe(0);
  });

  it('refuses 99 000 > at once instead of overflowing the renderer’s stack (INTERNAL)', async () => {
    const answer = await post(CREATE_EVENT, {
      input: eventInput(organizationId, 'Quote markers', { description: '>'.repeat(99_000) }),
    });
    expect(answer.body.data!.createEvent).toMatchObject({
      event: null,
      errors: [{ code: 'INVALID_INPUT', field: ['input', 'description'] }],
    });
    expect(answer.errorLogs).toEqual([]);
  });
});

describe('a mutation the gateway gave up on commits nothing, so retrying it is safe', () => {
  it('rolls back a createEvent that outlives the gateway’s deadline; the retry makes exactly one event', async () => {
    const title = 'Timed out once';
    // Another transaction holds the table, so the insert waits past the gateway's deadline.
    const blocker = await stack.sql.reserve();
    let timedOut: Answer;
    try {
      await blocker`begin`;
      await blocker`lock table catalog.events in exclusive mode`;
      timedOut = await post(CREATE_EVENT, { input: eventInput(organizationId, title) });
    } finally {
      await blocker`rollback`;
      blocker.release();
    }
    expect(timedOut.ms).toBeLessThan(TEST_LIMITS.subgraphTimeoutMs + 1_000);
    expect(timedOut.body.errors?.map((error) => error.extensions?.code)).toEqual(['INTERNAL']);
    // Long enough for an insert that was only waiting for the lock to commit.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await eventsNamed(title)).toBe(0);

    const retried = await post(CREATE_EVENT, { input: eventInput(organizationId, title) });
    expect(retried.body.data!.createEvent).toMatchObject({ errors: [] });
    expect(await eventsNamed(title)).toBe(1);
  });
});
