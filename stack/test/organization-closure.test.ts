/**
 * Closing an organization end to end: identity asks, catalog (which knows the sales) refuses or
 * cancels the upcoming events, identity removes the team. Sales are set in catalog's table
 * directly: nothing sells tickets until orders does (issue 13).
 */
import { graphql, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddTicketTypeDocument,
  CancelEventDocument,
  CreateEventDocument,
  DeleteOrganizationDocument,
  OrganizationClosureDocument,
  PublishEventDocument,
} from './generated/operations.ts';
import { eventInput, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('in-process');
});
afterAll(async () => {
  await stack?.dispose();
});

async function createEvent(organizationId: string, headers: Record<string, string>, title: string) {
  const created = await graphql(
    stack.url,
    CreateEventDocument,
    { input: eventInput(organizationId, title) },
    headers,
  );
  expect(created.body.data?.createEvent.errors).toEqual([]);
  return created.body.data!.createEvent.event!.id;
}

async function publish(eventId: string, headers: Record<string, string>) {
  const added = await graphql(
    stack.url,
    AddTicketTypeDocument,
    { input: { eventId, name: 'Regular', price: { amount: 1500, currency: 'EUR' }, capacity: 50 } },
    headers,
  );
  expect(added.body.data?.addTicketType.errors).toEqual([]);
  const published = await graphql(stack.url, PublishEventDocument, { input: { id: eventId } }, headers);
  expect(published.body.data?.publishEvent.errors).toEqual([]);
}

/** Asks to close, then waits for the saga to settle (ACTIVE again, or CLOSED). */
async function close(organizationId: string, headers: Record<string, string>) {
  const asked = await graphql(
    stack.url,
    DeleteOrganizationDocument,
    { input: { id: organizationId } },
    headers,
  );
  expect(asked.body.data?.deleteOrganization).toEqual({
    organization: { id: organizationId, status: 'CLOSING' },
    errors: [],
  });
  return waitFor(async () => {
    const { body } = await graphql(stack.url, OrganizationClosureDocument, { id: organizationId }, headers);
    return body.data?.organization?.status !== 'CLOSING' && body.data!.organization!;
  });
}

const statusOf = async (eventId: string) =>
  (await stack.sql<Array<{ status: string }>>`select status from catalog.events where id = ${eventId}`)[0]!
    .status;

describe('deleteOrganization through the gateway', () => {
  it('is refused while an upcoming event has sales, then cancels the rest and dissolves the team', async () => {
    const { organizationId, owner } = await stack.organizationOwner('closing-time');
    const gala = await createEvent(organizationId, owner.headers, 'Gala Night');
    await publish(gala, owner.headers);
    const draft = await createEvent(organizationId, owner.headers, 'Someday');
    await stack.sql`update catalog.events set tickets_sold = 2 where id = ${gala}`;

    const refused = await close(organizationId, owner.headers);
    expect(refused.status).toBe('ACTIVE');
    expect(refused.closureRefusal).toContain('“Gala Night” (2 sold)');
    expect(await statusOf(gala)).toBe('PUBLISHED');
    expect(await statusOf(draft)).toBe('DRAFT');

    // The owner cancels the sold event (its buyers are refunded), and then may close.
    const cancelled = await graphql(stack.url, CancelEventDocument, { input: { id: gala } }, owner.headers);
    expect(cancelled.body.data?.cancelEvent.event?.status).toBe('CANCELLED');
    const closed = await close(organizationId, owner.headers);
    expect(closed).toMatchObject({ status: 'CLOSED', closureRefusal: null, closedAt: expect.any(String) });
    expect(await statusOf(draft)).toBe('CANCELLED');

    // The owner's token still names the organization; the gateway forwards the roles of now.
    const after = await graphql(
      stack.url,
      CreateEventDocument,
      { input: eventInput(organizationId, 'After closing') },
      owner.headers,
    );
    expect(after.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
