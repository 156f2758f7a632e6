import { organizationClosureRequested } from '@bilten/contracts/identity';
import { newEvent } from '@bilten/platform';
import { recordEvents, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventCancelled, organizationClosureRefused, organizationEventsClosed } from '../src/events.ts';
import {
  call,
  eventInput,
  inAYear,
  MUTATIONS,
  mutate,
  ORG,
  OTHER_ORG,
  OWNER_ID,
  seedEvent,
  seedPublished,
  sql,
  startCatalog,
  subgraph,
} from './support.ts';

startCatalog();

let refusals: Awaited<ReturnType<typeof recordEvents<typeof organizationClosureRefused.payload>>>;
let closures: Awaited<ReturnType<typeof recordEvents<typeof organizationEventsClosed.payload>>>;
let cancellations: Awaited<ReturnType<typeof recordEvents<typeof eventCancelled.payload>>>;
beforeAll(async () => {
  refusals = await recordEvents(subgraph.testBus.bus, organizationClosureRefused);
  closures = await recordEvents(subgraph.testBus.bus, organizationEventsClosed);
  cancellations = await recordEvents(subgraph.testBus.bus, eventCancelled);
});

/** identity's request, as its outbox would publish it. */
async function requestClosure(organizationId: string, sequence = 1) {
  const closureId = uuidv7();
  const request = newEvent(organizationClosureRequested, organizationId, sequence, {
    organizationId,
    closureId,
    requestedBy: OWNER_ID,
  });
  await subgraph.testBus.bus.publish(request);
  return { closureId, request };
}

/** Moves an event into the past (sales there no longer stand in the way). */
const endedYesterday = (eventId: string) =>
  sql`update catalog.events set starts_at = now() - interval '2 days', ends_at = now() - interval '1 day' where id = ${eventId}`;

const statusOf = async (eventId: string) =>
  (await sql<Array<{ status: string }>>`select status from catalog.events where id = ${eventId}`)[0]?.status;

describe("closing an organization (identity's deleteOrganization)", () => {
  it('refuses while an upcoming event has sold tickets, naming it and the count, and changes nothing', async () => {
    const sold = await seedPublished({ title: 'Sold Out Night' });
    const draft = await seedEvent({ title: 'Draft in waiting' });
    const past = await seedPublished({ title: 'Last Year' });
    await sql`update catalog.events set tickets_sold = 3 where id in (${sold.id}, ${past.id})`;
    await endedYesterday(past.id);

    const { closureId } = await requestClosure(ORG);
    const refusal = await waitFor(async () =>
      refusals.find((event) => event.payload.closureId === closureId),
    );
    expect(refusal.payload.organizationId).toBe(ORG);
    expect(refusal.payload.events).toEqual([
      { eventId: sold.id, title: 'Sold Out Night', startsAt: expect.any(String), ticketsSold: 3 },
    ]);
    expect(refusal.payload.reason).toContain('“Sold Out Night” (3 sold)');
    expect(await statusOf(sold.id)).toBe('PUBLISHED');
    expect(await statusOf(draft.id)).toBe('DRAFT');
    expect(await sql`select 1 from catalog.closed_organizations where organization_id = ${ORG}`).toHaveLength(
      0,
    );

    // Once that event is over (or cancelled), the same organization can close: see the next test.
    await endedYesterday(sold.id);
  });

  it('cancels every upcoming event once, as the owner, and creates none in the organization after', async () => {
    const published = await seedPublished({ title: 'Spring Gala' });
    const draft = await seedEvent({ title: 'Autumn idea' });
    const other = await mutate('otherOwner', 'createEvent', eventInput({ organizationId: OTHER_ORG }));

    const upcoming = await sql<Array<{ id: string }>>`
      select id from catalog.events
      where organization_id = ${ORG} and status in ('DRAFT', 'PUBLISHED') and ends_at > now()`;
    expect(upcoming.map((row) => row.id)).toEqual(expect.arrayContaining([published.id, draft.id]));

    const { closureId, request } = await requestClosure(ORG, 2);
    const closed = await waitFor(async () => closures.find((event) => event.payload.closureId === closureId));
    expect(new Set(closed.payload.cancelledEventIds)).toEqual(new Set(upcoming.map((row) => row.id)));
    expect(await statusOf(published.id)).toBe('CANCELLED');
    expect(await statusOf(draft.id)).toBe('CANCELLED');
    expect(await statusOf(other.event!.id)).toBe('DRAFT');
    const cancelled = await waitFor(async () => {
      const found = cancellations.filter((event) =>
        closed.payload.cancelledEventIds.includes(event.aggregateId),
      );
      return found.length === upcoming.length && found;
    });
    expect(new Set(cancelled.map((event) => event.payload.reason))).toEqual(
      new Set(['the organizer closed their organization']),
    );
    const [audit] = await sql`
      select actor_id, action from catalog.audit_log where target_id = ${published.id} order by id desc limit 1`;
    expect(audit).toEqual({ actor_id: OWNER_ID, action: 'event.cancelled_by_closure' });

    // A redelivery of the request finds its inbox row: nothing is cancelled or announced twice.
    await subgraph.testBus.bus.publish(request);
    await requestClosure(OTHER_ORG); // a later event on the same subscription, to know the first was handled
    await waitFor(
      async () =>
        closures.some((event) => event.payload.organizationId === OTHER_ORG) ||
        refusals.some((event) => event.payload.organizationId === OTHER_ORG),
    );
    expect(closures.filter((event) => event.payload.closureId === closureId)).toHaveLength(1);

    const created = await call<{ createEvent: unknown }>('owner', MUTATIONS.createEvent, {
      input: eventInput(),
    });
    expect(created.errors?.[0]).toMatchObject({
      message: 'this organization is closed',
      extensions: { code: 'FORBIDDEN' },
    });
  });

  it('creates no event, duplicate or occurrence while a closure runs, without waiting for it', async () => {
    const organizationId = uuidv7();
    const owner = await subgraph.bearer({ orgs: { [organizationId]: 'OWNER' } });
    const created = await subgraph.gql<{ createEvent: { event: { id: string } } }>(
      MUTATIONS.createEvent,
      { input: eventInput({ organizationId }) },
      owner,
    );
    const sourceId = created.data!.createEvent.event.id;
    // This transaction plays catalog's closure step: it holds the organization's lock alone.
    const answers = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtextextended(${organizationId}, 0))`;
      return Promise.all([
        subgraph.gql(MUTATIONS.createEvent, { input: eventInput({ organizationId }) }, owner),
        subgraph.gql(MUTATIONS.duplicateEvent, { input: { id: sourceId } }, owner),
        subgraph.gql(
          MUTATIONS.addOccurrences,
          { input: { eventId: sourceId, startsAt: [inAYear(48)] } },
          owner,
        ),
      ]);
    });
    for (const answer of answers) {
      expect(answer.errors?.[0]).toMatchObject({
        message: 'this organization is closed',
        extensions: { code: 'FORBIDDEN' },
      });
    }
    expect(await sql`select id from catalog.events where organization_id = ${organizationId}`).toEqual([
      { id: sourceId },
    ]);
  });
});
