/** What the catalog test files share: the subgraph, its callers, their mutations and seed data. */
import type { RunningService } from '@bilten/platform';
import { type CallerHeaders, startTestSubgraph, type TestSubgraph, type UserError } from '@bilten/testkit';
import type postgres from 'postgres';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, expect } from 'vitest';
import { catalogSubgraph } from '../src/server.ts';

export let subgraph: TestSubgraph;
export let service: RunningService;
export let sql: postgres.Sql;

export const ORG = uuidv7();
export const OTHER_ORG = uuidv7();
export const OWNER_ID = uuidv7();
export const ADMIN_ID = uuidv7();
export const WRITE_KEY_ID = uuidv7();
export type Role =
  | 'anonymous'
  | 'customer'
  | 'staff'
  | 'admin'
  | 'owner'
  | 'otherOwner'
  /** API keys (as the gateway exchanges them): ORG's with events:write, ORG's with events:read only, OTHER_ORG's with both. */
  | 'writeKey'
  | 'readKey'
  | 'otherKey';
export const headers = {} as Record<Role, CallerHeaders>;

/** Starts catalog on a database of its own before the calling file's tests, and stops it after them. */
export function startCatalog() {
  beforeAll(async () => {
    // Every test searches from 127.0.0.1: no per-client search limit (RATE_LIMIT_SEARCH).
    subgraph = await startTestSubgraph(catalogSubgraph, 'in-process', { env: { RATE_LIMIT_SEARCH: 'off' } });
    ({ service, sql } = subgraph);
    const { bearer } = subgraph;
    headers.anonymous = {};
    headers.customer = await bearer({});
    headers.staff = await bearer({ orgs: { [ORG]: 'STAFF' } });
    headers.admin = await bearer({ sub: ADMIN_ID, orgs: { [ORG]: 'ADMIN' } });
    headers.owner = await bearer({ sub: OWNER_ID, orgs: { [ORG]: 'OWNER' } });
    headers.otherOwner = await bearer({ orgs: { [OTHER_ORG]: 'OWNER' } });
    // The claims identity signs when it exchanges an API key (see exchangeApiKey).
    const apiKey = (sub: string, org: string, scopes: string[]) =>
      bearer({ sub, kind: 'api_key', org, scopes, mode: 'LIVE' });
    headers.writeKey = await apiKey(WRITE_KEY_ID, ORG, ['events:write']);
    headers.readKey = await apiKey(uuidv7(), ORG, ['events:read']);
    headers.otherKey = await apiKey(uuidv7(), OTHER_ORG, ['events:read', 'events:write']);
  });

  afterAll(async () => {
    await subgraph?.dispose();
  });
}

export type { UserError };
export interface Event {
  id: string;
  title: string;
  status: string;
  version: number;
  currency: string;
  startsAt: string;
  endsAt: string;
  descriptionHtml: string | null;
  ticketTypes: Array<{
    id: string;
    name: string;
    hidden: boolean;
    price: { amount: number; currency: string };
  }>;
}
export interface EventPayload {
  event: Event | null;
  errors: UserError[];
  currentVersion: number | null;
}

export const EVENT = `id title status version currency startsAt endsAt descriptionHtml
  ticketTypes { id name hidden price { amount currency } }`;
const EVENT_PAYLOAD = `{ event { ${EVENT} } errors { code message field } currentVersion }`;
const TICKET_TYPE_PAYLOAD =
  '{ ticketType { id name capacity price { amount currency } } errors { code message field } }';

export const MUTATIONS = {
  createEvent: `mutation($input: CreateEventInput!) { createEvent(input: $input) ${EVENT_PAYLOAD} }`,
  updateEvent: `mutation($input: UpdateEventInput!) { updateEvent(input: $input) ${EVENT_PAYLOAD} }`,
  addTicketType: `mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) ${TICKET_TYPE_PAYLOAD} }`,
  updateTicketType: `mutation($input: UpdateTicketTypeInput!) { updateTicketType(input: $input) ${TICKET_TYPE_PAYLOAD} }`,
  publishEvent: `mutation($input: EventIdInput!) { publishEvent(input: $input) ${EVENT_PAYLOAD} }`,
  unpublishEvent: `mutation($input: EventIdInput!) { unpublishEvent(input: $input) ${EVENT_PAYLOAD} }`,
  cancelEvent: `mutation($input: CancelEventInput!) { cancelEvent(input: $input) ${EVENT_PAYLOAD} }`,
  deleteEvent: `mutation($input: EventIdInput!) {
    deleteEvent(input: $input) { deletedEventId event { ${EVENT} } errors { code message field } }
  }`,
  duplicateEvent: `mutation($input: DuplicateEventInput!) { duplicateEvent(input: $input) ${EVENT_PAYLOAD} }`,
  addOccurrences: `mutation($input: AddOccurrencesInput!) {
    addOccurrences(input: $input) { occurrences { id startsAt endsAt status } errors { code message field } }
  }`,
  restoreEventVersion: `mutation($input: RestoreEventVersionInput!) { restoreEventVersion(input: $input) ${EVENT_PAYLOAD} }`,
};
export type MutationName = keyof typeof MUTATIONS;

/** One request as `role` (plus any `extra` headers). */
export const call = <T = Record<string, unknown>>(
  role: Role,
  query: string,
  variables: Record<string, unknown> = {},
  extra: CallerHeaders = {},
) => subgraph.gql<T>(query, variables, { ...headers[role], ...extra });

/** What the subgraph logged as unexpected errors (internal failures) so far. */
export const unexpectedErrors = () => subgraph.logs.filter((line) => line.msg === 'unexpected error');

/** A mutation that must succeed: its payload, with no user errors. */
export async function mutate<T = EventPayload>(
  role: Role,
  name: MutationName,
  input: Record<string, unknown>,
): Promise<T> {
  const { data, errors } = await call<Record<string, T & { errors: UserError[] }>>(role, MUTATIONS[name], {
    input,
  });
  expect(errors).toBeUndefined();
  return data![name]!;
}

export const inAYear = (hours = 0) =>
  new Date(Date.now() + 365 * 86_400_000 + hours * 3_600_000).toISOString();

/** Start and end from one clock reading, so the event lasts exactly 4 hours. */
export const eventInput = (overrides: Record<string, unknown> = {}, startsAt = inAYear()) => ({
  organizationId: ORG,
  title: 'Jazz Fest',
  description: 'Three **nights** of [jazz](https://jazz.example).',
  category: 'MUSIC',
  tags: ['Jazz', 'live'],
  startsAt,
  endsAt: new Date(Date.parse(startsAt) + 4 * 3_600_000).toISOString(),
  timezone: 'Europe/Sarajevo',
  venue: {
    name: 'Dom mladih',
    address: 'Terezija bb',
    city: 'Sarajevo',
    country: 'BA',
    latitude: 43.85,
    longitude: 18.4,
  },
  currency: 'EUR',
  capacity: 300,
  refundPolicy: { kind: 'FULL_UNTIL', daysBeforeStart: 7 },
  ...overrides,
});

export async function seedEvent(overrides: Record<string, unknown> = {}): Promise<Event> {
  const { event, errors } = await mutate('owner', 'createEvent', eventInput(overrides));
  expect(errors).toEqual([]);
  return event!;
}

export async function seedTicketType(eventId: string, overrides: Record<string, unknown> = {}) {
  const { ticketType, errors } = await mutate<{ ticketType: { id: string } | null; errors: UserError[] }>(
    'owner',
    'addTicketType',
    { eventId, name: 'Regular', price: { amount: 2500, currency: 'EUR' }, capacity: 100, ...overrides },
  );
  expect(errors).toEqual([]);
  return ticketType!;
}

export async function seedPublished(overrides: Record<string, unknown> = {}) {
  const event = await seedEvent(overrides);
  await seedTicketType(event.id);
  const published = await mutate('owner', 'publishEvent', { id: event.id });
  expect(published.errors).toEqual([]);
  return published.event!;
}

export const count = async (query: string, ...params: unknown[]) =>
  (await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from ${query}`, params as never[]))[0]!.n;

/** What a denied call must leave untouched. */
export const footprint = async () => ({
  events: await count('catalog.events'),
  ticketTypes: await count('catalog.ticket_types'),
  versions: await count('catalog.event_versions'),
  audit: await count('catalog.audit_log'),
  // Domain events only: a refusal also leaves a security event there, which monitoring counts.
  outbox: await count("catalog.outbox where type <> 'bilten.catalog.security_event.recorded'"),
  state: await sql`select id, version, status, title from catalog.events order by id`,
});

interface Version {
  version: number;
  action: string;
  snapshot: Record<string, unknown>;
  diff: Record<string, { from: unknown; to: unknown }>;
  actorId: string | null;
  requestId: string | null;
}

export const versionsOf = async (eventId: string) => {
  const { data, errors } = await call<{ event: { versions: { edges: Array<{ node: Version }> } } }>(
    'staff',
    `query($id: ID!) { event(id: $id) { versions(first: 100) {
      edges { node { version action snapshot diff actorId requestId createdAt } } } } }`,
    { id: eventId },
  );
  expect(errors).toBeUndefined();
  return data!.event.versions.edges.map((edge) => edge.node);
};
