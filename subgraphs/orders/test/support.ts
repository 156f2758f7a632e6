/** What the orders test files share: the subgraph on JetStream, catalog's offers as catalog sends them, reservations. */
import { eventOfferChanged } from '@bilten/contracts/catalog';
import { connectDatabase, type Database, newEvent, personKeysFromEnv } from '@bilten/platform';
import { type CallerHeaders, type TestSubgraph, type UserError, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import type { z } from 'zod';
import type { OrdersPeople } from '../src/db/person-data.ts';
import { personKeys } from '../src/db/schema.ts';

export type OfferPayload = z.input<typeof eventOfferChanged.payload>;
export type TicketTypeOffer = OfferPayload['ticketTypes'][number];
export type { UserError };

const DAY = 86_400_000;

/** Orders' per-person keys as the subgraph builds them (the development KEK and blind-index key). */
export const testPeople = (db: Database): OrdersPeople => ({
  keys: personKeysFromEnv(db, personKeys, { NODE_ENV: 'test' }),
  guests: personKeysFromEnv(db, personKeys, { NODE_ENV: 'test' }, { renewAfterShred: true }).vault,
});

/** Those keys over a connection of the test's own, to open what the subgraph sealed; `close` it after. */
export function peopleOf(subgraph: TestSubgraph) {
  const handle = connectDatabase({
    url: subgraph.database.url,
    poolSize: 2,
    applicationName: 'orders-test-keys',
  });
  return { db: handle.db, people: testPeople(handle.db), close: () => handle.close() };
}

export function ticketTypeOffer(overrides: Partial<TicketTypeOffer> = {}): TicketTypeOffer {
  return {
    ticketTypeId: uuidv7(),
    name: 'Regular',
    priceAmount: 2500,
    capacity: 100,
    salesStartAt: null,
    salesEndAt: null,
    minPerOrder: 1,
    maxPerOrder: 10,
    maxPerBuyer: null,
    transferable: true,
    hidden: false,
    ...overrides,
  };
}

/** A published event a month from now, with the ticket types given (one Regular by default). */
export function offerPayload(overrides: Partial<OfferPayload> = {}): OfferPayload {
  const startsAt = Date.now() + 30 * DAY;
  return {
    eventId: uuidv7(),
    organizationId: uuidv7(),
    title: 'Sarajevo Jazz Night',
    status: 'PUBLISHED',
    startsAt: new Date(startsAt).toISOString(),
    endsAt: new Date(startsAt + DAY / 8).toISOString(),
    timezone: 'Europe/Sarajevo',
    currency: 'EUR',
    capacity: 500,
    refundPolicy: { kind: 'NONE', daysBeforeStart: null, percent: null },
    ticketTypes: [ticketTypeOffer()],
    ...overrides,
  };
}

/** Catalog's side of the copy: numbers each event's offers in order, publishes them, waits until orders applied them. */
export function catalogOffers(subgraph: TestSubgraph) {
  const sequences = new Map<string, number>();
  const applied = async (eventId: string, sequence: number) => {
    const [row] = await subgraph.sql<Array<{ last: number }>>`
      select last_sequence::int as last from orders.consumer_positions
      where consumer = 'orders-offer-copy' and aggregate_type = 'event_offer' and aggregate_id = ${eventId}`;
    return (row?.last ?? 0) >= sequence;
  };
  return {
    /** Publishes the next snapshot of the event's offer and resolves once orders applied it. */
    async announce(payload: OfferPayload): Promise<OfferPayload> {
      const sequence = (sequences.get(payload.eventId) ?? 0) + 1;
      sequences.set(payload.eventId, sequence);
      await subgraph.testBus.bus.publish(newEvent(eventOfferChanged, payload.eventId, sequence, payload));
      await waitFor(() => applied(payload.eventId, sequence));
      return payload;
    },
    applied,
  };
}

export interface Money {
  amount: number;
  currency: string;
}

export interface Reservation {
  id: string;
  status: string;
  expiresAt: string;
  event: { id: string };
  items: Array<{ ticketType: { id: string }; quantity: number; unitPrice: Money; subtotal: Money }>;
  total: Money;
}

export const RESERVATION_FIELDS = `id status expiresAt event { id }
  items { ticketType { id } quantity unitPrice { amount currency } subtotal { amount currency } }
  total { amount currency }`;

type Payload = { reservation: Reservation | null; guestToken?: string | null; errors: UserError[] };

export interface ReserveInput {
  eventId: string;
  items: Array<{ ticketTypeId: string; quantity: number }>;
  idempotencyKey?: string;
}

/** Calls reserveTickets as the caller `headers` names; GraphQL errors are the caller's to check. */
export async function callReserve(subgraph: TestSubgraph, input: ReserveInput, headers: CallerHeaders) {
  const { data, errors } = await subgraph.gql<{ reserveTickets: Payload }>(
    `mutation($input: ReserveTicketsInput!) {
      reserveTickets(input: $input) { reservation { ${RESERVATION_FIELDS} } guestToken errors { code message field } }
    }`,
    { input },
    headers,
  );
  return { payload: data?.reserveTickets ?? null, errors };
}

/** reserveTickets without GraphQL errors: its payload. */
export async function reserve(subgraph: TestSubgraph, input: ReserveInput, headers: CallerHeaders) {
  const { payload, errors } = await callReserve(subgraph, input, headers);
  if (errors) throw new Error(`reserveTickets failed: ${JSON.stringify(errors)}`);
  return payload!;
}

export async function release(subgraph: TestSubgraph, id: string, headers: CallerHeaders) {
  const { data, errors } = await subgraph.gql<{ releaseReservation: Payload }>(
    `mutation($input: ReleaseReservationInput!) {
      releaseReservation(input: $input) { reservation { ${RESERVATION_FIELDS} } errors { code message field } }
    }`,
    { input: { id } },
    headers,
  );
  if (errors) throw new Error(`releaseReservation failed: ${JSON.stringify(errors)}`);
  return data!.releaseReservation;
}

export interface Stock {
  capacity: number;
  sold: number;
  held: number;
}

/**
 * The event's stock straight from orders' tables, by the rule the API must keep: a hold counts
 * while HELD and unexpired. `event` is the shared quota; `types` each ticket type's own.
 */
export async function stockOf(subgraph: TestSubgraph, eventId: string) {
  const types = await subgraph.sql<Array<Stock & { id: string }>>`
    select t.id, t.capacity, t.sold,
      coalesce(sum(i.quantity) filter (where r.status in ('HELD', 'CHECKED_OUT') and r.expires_at > clock_timestamp()), 0)::int as held
    from orders.offer_ticket_types t
      left join orders.reservation_items i on i.ticket_type_id = t.id
      left join orders.reservations r on r.id = i.reservation_id
    where t.event_id = ${eventId}
    group by t.id`;
  const [offer] = await subgraph.sql<Array<{ capacity: number }>>`
    select capacity from orders.offers where event_id = ${eventId}`;
  const sum = (key: 'sold' | 'held') => types.reduce((total, type) => total + type[key], 0);
  return {
    event: { capacity: offer!.capacity, sold: sum('sold'), held: sum('held') },
    types: new Map(types.map(({ id, ...stock }) => [id, stock])),
  };
}
