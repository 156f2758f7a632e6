/**
 * Orders alone, without the gateway: the statements one reservation sends (counted with the kit's
 * `onStatement`), and the same rush called on the subgraph directly, which shows what the gateway
 * and identity's tokens add on top of the inventory logic.
 */
import { eventOfferChanged } from '@bilten/contracts/catalog';
import { ordersSubgraph } from '@bilten/orders';
import { newEvent } from '@bilten/platform';
import { graphql, startTestSubgraph, type TestSubgraphOptions, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { type CpuUsage, cpuMeter } from '../stats.ts';
import { type Outcome, RESERVE, type Rush, rush } from './rush.ts';

const DAY = 86_400_000;

/** Catalog's offer of a published event a month away with two ticket types of 60 % each, as catalog publishes it. */
function offerOf(capacity: number) {
  const startsAt = Date.now() + 30 * DAY;
  const type = (name: string) => ({
    ticketTypeId: uuidv7(),
    name,
    priceAmount: 2500,
    capacity: Math.ceil(capacity * 0.6),
    salesStartAt: null,
    salesEndAt: null,
    minPerOrder: 1,
    maxPerOrder: 10,
    maxPerBuyer: null,
    transferable: true,
    hidden: false,
  });
  return eventOfferChanged.payload.parse({
    eventId: uuidv7(),
    organizationId: uuidv7(),
    title: 'On-sale rush',
    status: 'PUBLISHED',
    startsAt: new Date(startsAt).toISOString(),
    endsAt: new Date(startsAt + DAY / 8).toISOString(),
    timezone: 'Europe/Sarajevo',
    currency: 'EUR',
    capacity,
    refundPolicy: { kind: 'NONE', daysBeforeStart: null, percent: null },
    ticketTypes: [type('Floor'), type('Balcony')],
  });
}

export interface Profile {
  /** Statements the request pool sent for one reservation that got a hold (as postgres.js reports them). */
  statementsPerHold: number;
  /** The same for a reservation answered SOLD_OUT. */
  statementsPerSoldOut: number;
  /** The statements of one hold, in order, without parameters. */
  holdStatements: string[];
  direct: Rush & { cpu: CpuUsage };
}

export async function profileOrders(config: {
  buyers: number;
  tickets: number;
  concurrency: number;
}): Promise<Profile> {
  let current: string[] = [];
  const subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream', {
    onStatement: (query: string) => current.push(query),
  } as TestSubgraphOptions);
  try {
    const announce = async (capacity: number) => {
      const payload = offerOf(capacity);
      await subgraph.testBus.bus.publish(newEvent(eventOfferChanged, payload.eventId, 1, payload));
      await waitFor(async () => {
        const rows = await subgraph.sql`select 1 from orders.offers where event_id = ${payload.eventId}`;
        return rows.length > 0;
      });
      return payload;
    };
    const buyers = await Promise.all(
      Array.from({ length: config.buyers }, () => subgraph.bearer({ sub: uuidv7() })),
    );
    const reserveOn =
      (offer: Awaited<ReturnType<typeof announce>>) =>
      async (i: number): Promise<Outcome> => {
        const { body } = await graphql<
          { reserveTickets: { reservation: { id: string } | null; errors: Array<{ code: string }> } },
          unknown
        >(
          subgraph.service.url,
          RESERVE,
          {
            input: {
              eventId: offer.eventId,
              items: [{ ticketTypeId: offer.ticketTypes[i % 2]!.ticketTypeId, quantity: 1 }],
            },
          },
          buyers[i % buyers.length]!,
        );
        const payload = body.data?.reserveTickets;
        if (payload?.reservation) return 'held';
        const code = payload?.errors[0]?.code ?? body.errors?.[0]?.message ?? 'no answer';
        return code === 'SOLD_OUT' ? 'soldOut' : `error: ${code}`;
      };

    // Statements of one hold and of one SOLD_OUT, one request at a time so nothing else is counted.
    const small = await announce(1);
    const countOne = async (i: number) => {
      current = [];
      await reserveOn(small)(i);
      const sent = current;
      current = [];
      return sent;
    };
    const warm = await announce(100);
    for (let i = 0; i < 50; i++) await reserveOn(warm)(i);
    const hold = await countOne(0);
    const soldOut = await countOne(1);

    const offer = await announce(config.tickets);
    const cpu = cpuMeter();
    const direct = await rush(config.buyers, config.concurrency, reserveOn(offer));
    return {
      statementsPerHold: hold.length,
      statementsPerSoldOut: soldOut.length,
      holdStatements: hold.map((query) => query.replace(/\s+/g, ' ')),
      direct: { ...direct, cpu: cpu() },
    };
  } finally {
    await subgraph.dispose();
  }
}
