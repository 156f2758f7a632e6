import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type CallerHeaders, startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import { compactVerify, decodeProtectedHeader, generateKeyPair, importJWK, SignJWT } from 'jose';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersSubgraph } from '../src/server.ts';
import { type PaidTicket, paidTickets as paidOrder, refundInFull } from './paid-tickets.ts';
import { catalogOffers, type OfferPayload, offerPayload } from './support.ts';

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

// ---------------------------------------------------------------- helpers

type Ticket = PaidTicket;
interface UserError {
  code: string;
  message: string;
  field: string[] | null;
}

const staffOf = (offer: OfferPayload) =>
  subgraph.bearer({ sub: uuidv7(), orgs: { [offer.organizationId]: 'STAFF' } });
const apiKeyOf = (organizationId: string, scopes: string[]) =>
  subgraph.bearer({ sub: uuidv7(), kind: 'api_key', org: organizationId, scopes, mode: 'LIVE' });

const paidTickets = (offer: OfferPayload, quantity: number) => paidOrder(subgraph, offer, quantity, buyer);

async function publishedEvent(overrides: Partial<OfferPayload> = {}) {
  return catalog.announce(offerPayload(overrides));
}

interface ManifestPage {
  eventId: string;
  keys: Array<{ kid: string; publicJwk: string; activatesAt: string }>;
  tickets: {
    edges: Array<{
      cursor: string;
      node: {
        id: string;
        ticketTypeId: string;
        status: string;
        checkedInAt: string | null;
        checkedInGate: string | null;
      };
    }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

async function manifest(eventId: string, headers: CallerHeaders, first?: number, after?: string) {
  return subgraph.gql<{ checkInManifest: ManifestPage | null }>(
    `query($eventId: ID!, $first: Int, $after: String) {
      checkInManifest(eventId: $eventId) {
        eventId keys { kid publicJwk activatesAt }
        tickets(first: $first, after: $after) {
          edges { cursor node { id ticketTypeId status checkedInAt checkedInGate } }
          pageInfo { hasNextPage endCursor }
        }
      }
    }`,
    { eventId, first, after },
    headers,
  );
}

interface Scan {
  code: string;
  scannedAt: string;
  gate: string;
  deviceId?: string;
}
interface ScanResult {
  index: number;
  ticketId: string | null;
  outcome: string;
  checkedInAt: string | null;
  gate: string | null;
  message: string | null;
}

async function callSync(eventId: string, scans: Scan[], headers: CallerHeaders) {
  const { data, errors } = await subgraph.gql<{
    syncCheckIns: { results: ScanResult[] | null; errors: UserError[] };
  }>(
    `mutation($input: SyncCheckInsInput!) {
      syncCheckIns(input: $input) {
        results { index ticketId outcome checkedInAt gate message }
        errors { code message field }
      }
    }`,
    { input: { eventId, scans } },
    headers,
  );
  return { payload: data?.syncCheckIns ?? null, errors };
}

async function sync(eventId: string, scans: Scan[], headers: CallerHeaders) {
  const { payload, errors } = await callSync(eventId, scans, headers);
  expect(errors).toBeUndefined();
  return payload!;
}

async function checkInOnline(code: string, headers: CallerHeaders, gate: string) {
  const { data, errors } = await subgraph.gql<{
    checkInTicket: { ticket: { status: string; checkedInAt: string } | null; errors: UserError[] };
  }>(
    `mutation($input: CheckInTicketInput!) {
      checkInTicket(input: $input) { ticket { status checkedInAt } errors { code message } }
    }`,
    { input: { code, gate } },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.checkInTicket;
}

const ticketRow = async (id: string) => {
  const [row] = await subgraph.sql<
    [{ status: string; checked_in_at: Date | null; checked_in_gate: string | null }]
  >`
    select status, checked_in_at, checked_in_gate from orders.tickets where id = ${id}`;
  return row;
};

/**
 * A scan time after the tickets of the test were issued (they were, just now): `offset` seconds
 * from now, within the clock skew a scanner is allowed (smaller is earlier).
 */
const scanTime = (offset: number) => new Date(Date.now() + offset * 1000).toISOString();

// ---------------------------------------------------------------- manifest

describe('checkInManifest', () => {
  it('gives staff the public keys, which verify every ticket offline, and pages the tickets that may enter', async () => {
    const offer = await publishedEvent();
    const { tickets } = await paidTickets(offer, 5);
    const staff = await staffOf(offer);

    const first = await manifest(offer.eventId, staff, 2);
    expect(first.errors).toBeUndefined();
    const page = first.data!.checkInManifest!;
    expect(page.eventId).toBe(offer.eventId);
    expect(page.keys.length).toBeGreaterThanOrEqual(1);
    // A scanner with the manifest alone tells a genuine ticket: the key its header names verifies it.
    for (const ticket of tickets) {
      const { kid } = decodeProtectedHeader(ticket.signedPayload);
      const key = page.keys.find((candidate) => candidate.kid === kid)!;
      const jwk = JSON.parse(key.publicJwk);
      expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid });
      expect(jwk).not.toHaveProperty('d');
      await expect(compactVerify(ticket.signedPayload, await importJWK(jwk, 'EdDSA'))).resolves.toBeTruthy();
    }

    const seen = [...page.tickets.edges];
    expect(seen).toHaveLength(2);
    expect(page.tickets.pageInfo.hasNextPage).toBe(true);
    let after = page.tickets.pageInfo.endCursor!;
    for (;;) {
      const next = (await manifest(offer.eventId, staff, 2, after)).data!.checkInManifest!.tickets;
      seen.push(...next.edges);
      if (!next.pageInfo.hasNextPage) break;
      after = next.pageInfo.endCursor!;
    }
    expect(seen.map((edge) => edge.node.id)).toEqual(tickets.map((ticket) => ticket.id).sort());
    expect(seen[0]!.node).toEqual({
      id: seen[0]!.node.id,
      ticketTypeId: offer.ticketTypes[0]!.ticketTypeId,
      status: 'VALID',
      checkedInAt: null,
      checkedInGate: null,
    });
  });

  it('lists checked-in tickets with their time and gate, and leaves out void ones', async () => {
    const offer = await publishedEvent();
    const staff = await staffOf(offer);
    const { tickets } = await paidTickets(offer, 2);
    const refunded = await paidTickets(offer, 1);
    await checkInOnline(tickets[0]!.signedPayload, staff, 'North');
    await refundInFull(subgraph, refunded);

    const nodes = (await manifest(offer.eventId, staff)).data!.checkInManifest!.tickets.edges.map(
      (edge) => edge.node,
    );
    expect(nodes.map((node) => node.id).sort()).toEqual(tickets.map((ticket) => ticket.id).sort());
    expect(nodes.find((node) => node.id === tickets[0]!.id)).toMatchObject({
      status: 'CHECKED_IN',
      checkedInGate: 'North',
    });
    expect(nodes.find((node) => node.id === tickets[0]!.id)!.checkedInAt).not.toBeNull();
  });

  it("answers only the organization's staff and its checkin keys; anyone else as for an unknown event", async () => {
    const offer = await publishedEvent();
    await paidTickets(offer, 1);
    const allowed = [await staffOf(offer), await apiKeyOf(offer.organizationId, ['checkin'])];
    for (const headers of allowed) {
      expect((await manifest(offer.eventId, headers)).data!.checkInManifest!.tickets.edges).toHaveLength(1);
    }
    const refused = [
      {},
      buyer,
      await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'OWNER' } }),
      await apiKeyOf(offer.organizationId, ['events:write', 'orders:read']),
      await apiKeyOf(uuidv7(), ['checkin']),
    ];
    for (const headers of refused) {
      const { data, errors } = await manifest(offer.eventId, headers);
      expect(errors).toBeUndefined();
      expect(data!.checkInManifest).toBeNull();
    }
    // An unknown event and an id that is none are no different.
    for (const eventId of [uuidv7(), 'not-an-id']) {
      expect((await manifest(eventId, allowed[0]!)).data!.checkInManifest).toBeNull();
    }
    for (const first of [0, 501]) {
      const { errors } = await manifest(offer.eventId, allowed[0]!, first);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const { errors } = await manifest(offer.eventId, allowed[0]!, 10, 'garbage!');
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

// ---------------------------------------------------------------- uploads

describe('syncCheckIns', () => {
  it('applies scans in scannedAt order, first scan wins, and reports every conflict with the winner', async () => {
    const offer = await publishedEvent();
    const staff = await staffOf(offer);
    const { tickets } = await paidTickets(offer, 4);
    const [early, online, valid, voided] = tickets as [Ticket, Ticket, Ticket, Ticket];
    // Ticket `online` went through an online scanner before the upload.
    const onlineScan = await checkInOnline(online.signedPayload, staff, 'Main');
    expect(onlineScan.errors).toEqual([]);
    const [issued] = await subgraph.sql<[{ created_at: Date }]>`
      select created_at from orders.tickets where id = ${online.id}`;

    const scans: Scan[] = [
      // Uploaded later in the batch but scanned earlier: it wins.
      { code: early.signedPayload, scannedAt: scanTime(40), gate: 'East', deviceId: 'scanner-7' },
      { code: early.signedPayload, scannedAt: scanTime(30), gate: 'West', deviceId: 'scanner-2' },
      // Scanned offline before the online scan, but recorded after it: the online one stays first.
      {
        code: online.signedPayload,
        scannedAt: new Date(issued.created_at.getTime() + 1).toISOString(),
        gate: 'West',
      },
      { code: valid.signedPayload, scannedAt: scanTime(50), gate: 'East' },
    ];
    const { results, errors } = await sync(offer.eventId, scans, staff);
    expect(errors).toEqual([]);
    expect(results).toEqual([
      {
        index: 0,
        ticketId: early.id,
        outcome: 'ALREADY_CHECKED_IN',
        checkedInAt: scans[1]!.scannedAt,
        gate: 'West',
        message: expect.stringContaining('West'),
      },
      {
        index: 1,
        ticketId: early.id,
        outcome: 'CHECKED_IN',
        checkedInAt: scans[1]!.scannedAt,
        gate: 'West',
        message: null,
      },
      {
        index: 2,
        ticketId: online.id,
        outcome: 'ALREADY_CHECKED_IN',
        checkedInAt: onlineScan.ticket!.checkedInAt,
        gate: 'Main',
        message: expect.stringContaining('Main'),
      },
      {
        index: 3,
        ticketId: valid.id,
        outcome: 'CHECKED_IN',
        checkedInAt: scans[3]!.scannedAt,
        gate: 'East',
        message: null,
      },
    ]);
    expect(await ticketRow(early.id)).toEqual({
      status: 'CHECKED_IN',
      checked_in_at: new Date(scans[1]!.scannedAt),
      checked_in_gate: 'West',
    });
    expect((await ticketRow(voided.id))!.status).toBe('VALID');

    // The same upload again (its answer was lost): nothing changes, the same answers.
    const before = await Promise.all(tickets.map((ticket) => ticketRow(ticket.id)));
    expect((await sync(offer.eventId, scans, staff)).results).toEqual(results);
    expect(await Promise.all(tickets.map((ticket) => ticketRow(ticket.id)))).toEqual(before);

    // An online scan after the upload sees the offline check-in as the first.
    const late = await checkInOnline(valid.signedPayload, staff, 'North');
    expect(late.errors[0]).toMatchObject({ code: 'ALREADY_CHECKED_IN' });
    expect(late.errors[0]!.message).toContain(scans[3]!.scannedAt);
  });

  it('refuses forged codes, foreign and void tickets, and impossible scan times, one by one', async () => {
    const offer = await publishedEvent();
    const sibling = await publishedEvent({ organizationId: offer.organizationId });
    const foreign = await publishedEvent();
    const scanner = await apiKeyOf(offer.organizationId, ['checkin']);
    const { tickets } = await paidTickets(offer, 3);
    const refunded = await paidTickets(offer, 1);
    const ofSibling = (await paidTickets(sibling, 1)).tickets[0]!;
    const ofForeign = (await paidTickets(foreign, 1)).tickets[0]!;
    await refundInFull(subgraph, refunded);
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await new SignJWT({ ticketId: tickets[0]!.id })
      .setProtectedHeader({ alg: 'EdDSA', typ: decodeProtectedHeader(tickets[0]!.signedPayload).typ })
      .sign(privateKey);
    const [issuedAt] = await subgraph.sql<[{ created_at: Date }]>`
      select created_at from orders.tickets where id = ${tickets[2]!.id}`;

    const scans: Scan[] = [
      { code: forged, scannedAt: scanTime(50), gate: 'A' },
      { code: 'hello', scannedAt: scanTime(50), gate: 'A' },
      { code: ofSibling.signedPayload, scannedAt: scanTime(50), gate: 'A' },
      { code: ofForeign.signedPayload, scannedAt: scanTime(50), gate: 'A' },
      { code: refunded.tickets[0]!.signedPayload, scannedAt: scanTime(50), gate: 'A' },
      {
        code: tickets[0]!.signedPayload,
        scannedAt: new Date(Date.now() + 3_600_000).toISOString(),
        gate: 'A',
      },
      {
        code: tickets[1]!.signedPayload,
        scannedAt: new Date(issuedAt.created_at.getTime() - 60_000).toISOString(),
        gate: 'A',
      },
      // A little ahead of the server's clock is a scanner's clock, not an error.
      { code: tickets[2]!.signedPayload, scannedAt: new Date(Date.now() + 60_000).toISOString(), gate: 'A' },
    ];
    const { results, errors } = await sync(offer.eventId, scans, scanner);
    expect(errors).toEqual([]);
    expect(results!.map(({ index, ticketId, outcome }) => ({ index, ticketId, outcome }))).toEqual([
      { index: 0, ticketId: null, outcome: 'INVALID' },
      { index: 1, ticketId: null, outcome: 'INVALID' },
      { index: 2, ticketId: ofSibling.id, outcome: 'INVALID' },
      { index: 3, ticketId: null, outcome: 'NOT_FOUND' },
      { index: 4, ticketId: refunded.tickets[0]!.id, outcome: 'VOID' },
      { index: 5, ticketId: tickets[0]!.id, outcome: 'INVALID' },
      { index: 6, ticketId: tickets[1]!.id, outcome: 'INVALID' },
      { index: 7, ticketId: tickets[2]!.id, outcome: 'CHECKED_IN' },
    ]);
    expect(results![2]!.message).toBe('a ticket of another event');
    expect(results![5]!.message).toContain('future');
    expect(results![6]!.message).toContain('before the ticket was issued');
    for (const ticket of [ofSibling, ofForeign, tickets[0]!, tickets[1]!])
      expect((await ticketRow(ticket.id))!.status).toBe('VALID');
  });

  it('lets exactly one of two uploads racing for a ticket check it in', async () => {
    const offer = await publishedEvent();
    const { tickets } = await paidTickets(offer, 1);
    const [a, b] = [await staffOf(offer), await apiKeyOf(offer.organizationId, ['checkin'])];
    const code = tickets[0]!.signedPayload;
    const answers = await Promise.all([
      sync(offer.eventId, [{ code, scannedAt: scanTime(10), gate: 'North' }], a),
      sync(offer.eventId, [{ code, scannedAt: scanTime(20), gate: 'South' }], b),
    ]);
    const outcomes = answers.map((answer) => answer.results![0]!.outcome).sort();
    expect(outcomes).toEqual(['ALREADY_CHECKED_IN', 'CHECKED_IN']);
    const winner = answers.find((answer) => answer.results![0]!.outcome === 'CHECKED_IN')!.results![0]!;
    const loser = answers.find((answer) => answer.results![0]!.outcome !== 'CHECKED_IN')!.results![0]!;
    expect({ checkedInAt: loser.checkedInAt, gate: loser.gate }).toEqual({
      checkedInAt: winner.checkedInAt,
      gate: winner.gate,
    });
  });

  it('refuses callers who do not scan for the event, and malformed uploads, storing nothing', async () => {
    const offer = await publishedEvent();
    const { tickets } = await paidTickets(offer, 1);
    const scan = { code: tickets[0]!.signedPayload, scannedAt: scanTime(50), gate: 'A' };
    for (const headers of [buyer, await apiKeyOf(offer.organizationId, ['events:write'])]) {
      const { payload, errors } = await callSync(offer.eventId, [scan], headers);
      expect(payload).toBeNull();
      expect(errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await callSync(offer.eventId, [scan], {})).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const notFound = {
      results: null,
      errors: [{ code: 'NOT_FOUND', message: 'no such event', field: ['input', 'eventId'] }],
    };
    for (const headers of [
      await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'STAFF' } }),
      await apiKeyOf(uuidv7(), ['checkin']),
    ])
      expect(await sync(offer.eventId, [scan], headers)).toEqual(notFound);
    const staff = await staffOf(offer);
    expect(await sync(uuidv7(), [scan], staff)).toEqual(notFound);

    const invalid = async (eventId: string, scans: Scan[]) => {
      const { results, errors } = await sync(eventId, scans, staff);
      expect(results).toBeNull();
      return errors.map((error) => ({ code: error.code, field: error.field }));
    };
    expect(await invalid('nope', [scan])).toEqual([{ code: 'INVALID_INPUT', field: ['input', 'eventId'] }]);
    expect(await invalid(offer.eventId, [])).toEqual([{ code: 'INVALID_INPUT', field: ['input', 'scans'] }]);
    expect(
      await invalid(
        offer.eventId,
        Array.from({ length: 501 }, () => scan),
      ),
    ).toEqual([{ code: 'INVALID_INPUT', field: ['input', 'scans'] }]);
    expect(await invalid(offer.eventId, [{ ...scan, gate: ' ' }])).toEqual([
      { code: 'INVALID_INPUT', field: ['input', 'scans', '0', 'gate'] },
    ]);
    expect((await ticketRow(tickets[0]!.id))!.status).toBe('VALID');
    // 500 scans is the limit, not over it.
    const full = await sync(
      offer.eventId,
      Array.from({ length: 500 }, () => scan),
      staff,
    );
    expect(full.results).toHaveLength(500);
    expect(full.results!.filter((result) => result.outcome === 'CHECKED_IN')).toHaveLength(500);
  });
});

// ---------------------------------------------------------------- key rotation

describe('npm run tickets:rotate-key', () => {
  it('makes new tickets carry the new key; old tickets still check in; the manifest lists both keys', async () => {
    const offer = await publishedEvent();
    const staff = await staffOf(offer);
    const old = (await paidTickets(offer, 1)).tickets[0]!;
    const oldKid = decodeProtectedHeader(old.signedPayload).kid;

    const run = (args: string[]) =>
      promisify(execFile)('npx', ['tsx', 'subgraphs/orders/src/cli/rotate-ticket-key.ts', ...args], {
        cwd: new URL('../../../', import.meta.url),
        env: { ...process.env, DATABASE_URL: subgraph.database.url, NODE_ENV: 'test' },
      });
    await expect(run(['--activate-in', 'soon'])).rejects.toMatchObject({ code: 2 });
    // A key for later is known to scanners before it signs anything.
    const later = await run(['--activate-in', '7d']);
    const laterKid = /key ([0-9a-f-]{36})/.exec(later.stdout)![1]!;
    expect(decodeProtectedHeader((await paidTickets(offer, 1)).tickets[0]!.signedPayload).kid).toBe(oldKid);
    const now = await run([]);
    const newKid = /key ([0-9a-f-]{36})/.exec(now.stdout)![1]!;

    const fresh = (await paidTickets(offer, 1)).tickets[0]!;
    expect(decodeProtectedHeader(fresh.signedPayload).kid).toBe(newKid);
    expect(JSON.parse(Buffer.from(fresh.signedPayload.split('.')[1]!, 'base64url').toString()).kid).toBe(
      newKid,
    );
    const keys = (await manifest(offer.eventId, staff)).data!.checkInManifest!.keys.map((key) => key.kid);
    expect(keys).toEqual(expect.arrayContaining([oldKid, newKid, laterKid]));
    expect((await checkInOnline(old.signedPayload, staff, 'Gate 1')).errors).toEqual([]);
    expect((await checkInOnline(fresh.signedPayload, staff, 'Gate 1')).errors).toEqual([]);
  }, 60_000);
});
