import { ticketCheckedIn } from '@bilten/contracts/orders';
import { type CallerHeaders, startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';
import { paidTickets } from './paid-tickets.ts';
import { catalogOffers, offerPayload } from './support.ts';

// `ticketCheckedIn` (the organizations' `ticket.checked_in` webhooks): once per ticket admitted,
// online or synced from an offline scanner, never for a repeated scan.

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let buyer: CallerHeaders;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  buyer = await subgraph.bearer({ sub: uuidv7() });
});

afterAll(async () => {
  await subgraph?.dispose();
});

const checkInEventsOf = (ticketId: string) =>
  subgraph.sql<Array<{ payload: Record<string, unknown> }>>`
    select payload from orders.outbox where type = ${ticketCheckedIn.type} and aggregate_id = ${ticketId}`;

describe('ticketCheckedIn', () => {
  it('is published once for an online check-in, not for the scans after it', async () => {
    const offer = await catalog.announce(offerPayload());
    const { order, tickets } = await paidTickets(subgraph, offer, 1, buyer);
    const staff = await subgraph.bearer({ orgs: { [offer.organizationId]: 'STAFF' } });
    const scan = (gate: string) =>
      subgraph.gql<{ checkInTicket: { errors: Array<{ code: string }> } }>(
        `mutation($input: CheckInTicketInput!) { checkInTicket(input: $input) { errors { code } } }`,
        { input: { code: tickets[0]!.signedPayload, gate } },
        staff,
      );
    expect((await scan('North')).data!.checkInTicket.errors).toEqual([]);
    expect((await scan('South')).data!.checkInTicket.errors).toEqual([{ code: 'ALREADY_CHECKED_IN' }]);
    const events = await checkInEventsOf(tickets[0]!.id);
    expect(events.map((event) => event.payload)).toEqual([
      {
        ticketId: tickets[0]!.id,
        orderId: order.id,
        eventId: offer.eventId,
        organizationId: offer.organizationId,
        gate: 'North',
        checkedInAt: expect.any(String),
      },
    ]);
  });

  it('is published once for an offline scan, with its time, however often the upload repeats', async () => {
    const offer = await catalog.announce(offerPayload());
    const { tickets } = await paidTickets(subgraph, offer, 1, buyer);
    const staff = await subgraph.bearer({ orgs: { [offer.organizationId]: 'STAFF' } });
    const scannedAt = new Date().toISOString();
    const upload = () =>
      subgraph.gql<{ syncCheckIns: { results: Array<{ outcome: string }> } }>(
        `mutation($input: SyncCheckInsInput!) { syncCheckIns(input: $input) { results { outcome } } }`,
        {
          input: {
            eventId: offer.eventId,
            scans: [{ code: tickets[0]!.signedPayload, scannedAt, gate: 'East' }],
          },
        },
        staff,
      );
    expect((await upload()).data!.syncCheckIns.results).toEqual([{ outcome: 'CHECKED_IN' }]);
    expect((await upload()).data!.syncCheckIns.results).toEqual([{ outcome: 'CHECKED_IN' }]);
    const events = await checkInEventsOf(tickets[0]!.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({ gate: 'East', checkedInAt: scannedAt });
  });
});
