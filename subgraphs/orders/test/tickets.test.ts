import { paymentSucceeded, refundSucceeded } from '@bilten/contracts/billing';
import { ConfigError, newEvent } from '@bilten/platform';
import { type CallerHeaders, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import {
  CompactSign,
  compactVerify,
  decodeProtectedHeader,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketKeys } from '../src/adapters/ticket-keys.ts';
import { ordersSubgraph } from '../src/server.ts';
import {
  catalogOffers,
  type Money,
  type OfferPayload,
  offerPayload,
  reserve,
  ticketTypeOffer,
} from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
const BUYER = uuidv7();
let buyer: CallerHeaders;

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  buyer = await subgraph.bearer({ sub: BUYER });
});

afterAll(async () => {
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface Ticket {
  id: string;
  event: { id: string };
  ticketType: { id: string };
  attendeeName: string;
  status: string;
  signedPayload: string;
  qrCode: string;
  checkedInAt: string | null;
  checkedInGate: string | null;
}
interface UserError {
  code: string;
  message: string;
  field: string[] | null;
}

const TICKET_FIELDS =
  'id event { id } ticketType { id } attendeeName status signedPayload qrCode checkedInAt checkedInGate';

const staffOf = (offer: OfferPayload, role = 'STAFF') =>
  subgraph.bearer({ sub: uuidv7(), orgs: { [offer.organizationId]: role } });
const apiKeyOf = (offer: OfferPayload, scopes: string[]) =>
  subgraph.bearer({ sub: uuidv7(), kind: 'api_key', org: offer.organizationId, scopes, mode: 'LIVE' });

/** A published event with two ticket types, and a checked-out order of 2 Regular and 1 VIP. */
async function checkedOutOrder(attendees: Array<{ name: string }> = []) {
  const offer = await catalog.announce(
    offerPayload({ ticketTypes: [ticketTypeOffer({ name: 'Regular' }), ticketTypeOffer({ name: 'VIP' })] }),
  );
  const [regular, vip] = offer.ticketTypes.map((type) => type.ticketTypeId) as [string, string];
  const { reservation } = await reserve(
    subgraph,
    {
      eventId: offer.eventId,
      items: [
        { ticketTypeId: regular, quantity: 2 },
        { ticketTypeId: vip, quantity: 1 },
      ],
    },
    buyer,
  );
  const { data, errors } = await subgraph.gql<{
    checkout: { order: { id: string; total: Money } | null; errors: UserError[] };
  }>(
    `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id total { amount currency } } errors { code message } } }`,
    {
      input: {
        reservationId: reservation!.id,
        buyer: { name: 'Ana Kovač', email: 'ana@example.com' },
        attendees,
      },
    },
    buyer,
  );
  expect(errors).toBeUndefined();
  expect(data!.checkout.errors).toEqual([]);
  return { offer, order: data!.checkout.order!, regular, vip };
}

async function ticketsSeenBy(orderId: string, headers: CallerHeaders) {
  const { data, errors } = await subgraph.gql<{ order: { status: string; tickets: Ticket[] } | null }>(
    `query($id: ID!) { order(id: $id) { status tickets { ${TICKET_FIELDS} } } }`,
    { id: orderId },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.order;
}

/** Billing's payment, simulated; resolves once the order is paid and ticketed. */
async function pay(order: { id: string; total: Money }) {
  await subgraph.testBus.bus.publish(
    newEvent(paymentSucceeded, uuidv7(), 1, { paymentId: uuidv7(), orderId: order.id, amount: order.total }),
  );
  return waitFor(async () => {
    const seen = await ticketsSeenBy(order.id, buyer);
    return seen?.status === 'PAID' ? seen.tickets : undefined;
  });
}

async function paidOrder(attendees: Array<{ name: string }> = []) {
  const made = await checkedOutOrder(attendees);
  return { ...made, tickets: await pay(made.order) };
}

async function callCheckIn(code: string, headers: CallerHeaders, gate?: string) {
  const { data, errors } = await subgraph.gql<{
    checkInTicket: { ticket: Ticket | null; errors: UserError[] };
  }>(
    `mutation($input: CheckInTicketInput!) {
      checkInTicket(input: $input) { ticket { ${TICKET_FIELDS} } errors { code message field } }
    }`,
    { input: { code, gate } },
    headers,
  );
  return { payload: data?.checkInTicket ?? null, errors };
}

async function checkIn(code: string, headers: CallerHeaders, gate?: string) {
  const { payload, errors } = await callCheckIn(code, headers, gate);
  expect(errors).toBeUndefined();
  return payload!;
}

const statusInTable = async (ticketId: string) => {
  const [row] = await subgraph.sql<[{ status: string; checked_in_gate: string | null }]>`
    select status, checked_in_gate from orders.tickets where id = ${ticketId}`;
  return row;
};

const publicKeys = async () => {
  const rows = await subgraph.sql<Array<{ kid: string; public_jwk: JWK; private_jwk_encrypted: string }>>`
    select kid, public_jwk, private_jwk_encrypted from orders.ticket_signing_keys`;
  return rows;
};

const notAValidTicket = [{ code: 'INVALID_INPUT', message: 'not a valid ticket', field: ['input', 'code'] }];

// ---------------------------------------------------------------- issuing

describe('tickets on PAID', () => {
  it('issues one signed ticket per admission, verifiable with the public key alone, with an SVG QR code', async () => {
    const { offer, order, regular, vip } = await checkedOutOrder([{ name: 'Emina' }, { name: 'Luka' }]);
    expect((await ticketsSeenBy(order.id, buyer))!.tickets).toEqual([]);
    const tickets = await pay(order);

    expect(tickets).toHaveLength(3);
    const byType = (id: string) => tickets.filter((ticket) => ticket.ticketType.id === id);
    expect(byType(regular)).toHaveLength(2);
    expect(byType(vip)).toHaveLength(1);
    // Attendee names in the order of the lines (ticket type order), then the buyer's.
    const admissions = [...tickets].sort(
      (a, b) => a.ticketType.id.localeCompare(b.ticketType.id) || a.id.localeCompare(b.id),
    );
    expect(admissions.map((ticket) => ticket.attendeeName)).toEqual(['Emina', 'Luka', 'Ana Kovač']);

    const keys = await publicKeys();
    expect(keys).toHaveLength(1);
    // The private half is sealed at rest: no JWK `d` in sight.
    expect(keys[0]!.private_jwk_encrypted).not.toContain('"d"');
    expect(keys[0]!.public_jwk).not.toHaveProperty('d');
    const publicKey = await importJWK(keys[0]!.public_jwk, 'EdDSA');
    const codes = new Set<string>();
    for (const ticket of tickets) {
      expect(ticket).toMatchObject({ status: 'VALID', event: { id: offer.eventId }, checkedInAt: null });
      expect(ticket.qrCode).toMatch(/^<svg[\s\S]*<path[\s\S]*<\/svg>\s*$/);
      const { payload, protectedHeader } = await compactVerify(ticket.signedPayload, publicKey);
      expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: keys[0]!.kid });
      const claims = JSON.parse(new TextDecoder().decode(payload));
      const [row] = await subgraph.sql<
        [{ code: string }]
      >`select code from orders.tickets where id = ${ticket.id}`;
      expect(claims).toEqual({
        ticketId: ticket.id,
        eventId: offer.eventId,
        ticketTypeId: ticket.ticketType.id,
        code: row.code,
        kid: keys[0]!.kid,
      });
      codes.add(row.code);
    }
    expect(codes.size).toBe(3);
  });

  it("shows the tickets to the organization's staff, and the order to no one else", async () => {
    const { offer, order, tickets } = await paidOrder();
    expect((await ticketsSeenBy(order.id, await staffOf(offer)))!.tickets.map((t) => t.id).sort()).toEqual(
      tickets.map((t) => t.id).sort(),
    );
    expect(await ticketsSeenBy(order.id, await subgraph.bearer({ sub: uuidv7() }))).toBeNull();
    const otherStaff = await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'OWNER' } });
    expect(await ticketsSeenBy(order.id, otherStaff)).toBeNull();
  });

  it('voids the tickets of an order refunded in full', async () => {
    const { offer, order, tickets } = await paidOrder();
    await subgraph.testBus.bus.publish(
      newEvent(refundSucceeded, uuidv7(), 1, { refundId: uuidv7(), orderId: order.id, amount: order.total }),
    );
    await waitFor(async () => (await statusInTable(tickets[0]!.id))!.status === 'VOID');
    const { ticket, errors } = await checkIn(tickets[0]!.signedPayload, await staffOf(offer));
    expect(ticket).toBeNull();
    expect(errors).toEqual([
      { code: 'INVALID_INPUT', message: 'this ticket is void', field: ['input', 'code'] },
    ]);
  });

  it('needs TICKET_KEY_ENCRYPTION_SECRET in production', () => {
    expect(() =>
      createTicketKeys({ NODE_ENV: 'production', TICKET_KEY_ENCRYPTION_SECRET: undefined }),
    ).toThrow(ConfigError);
  });
});

// ---------------------------------------------------------------- check-in

describe('checkInTicket', () => {
  it('checks a ticket in once; a second scan answers ALREADY_CHECKED_IN with the first time and gate', async () => {
    const { offer, tickets } = await paidOrder();
    const staff = await staffOf(offer);
    const first = await checkIn(tickets[0]!.signedPayload, staff, 'North entrance');
    expect(first.errors).toEqual([]);
    expect(first.ticket).toMatchObject({
      id: tickets[0]!.id,
      status: 'CHECKED_IN',
      checkedInGate: 'North entrance',
    });
    const at = first.ticket!.checkedInAt!;
    expect(Date.now() - Date.parse(at)).toBeLessThan(60_000);

    const second = await checkIn(tickets[0]!.signedPayload, await staffOf(offer, 'OWNER'), 'South entrance');
    expect(second.ticket).toBeNull();
    expect(second.errors).toHaveLength(1);
    expect(second.errors[0]).toMatchObject({ code: 'ALREADY_CHECKED_IN', field: ['input', 'code'] });
    expect(second.errors[0]!.message).toContain(at);
    expect(second.errors[0]!.message).toContain('North entrance');
    expect(await statusInTable(tickets[0]!.id)).toEqual({
      status: 'CHECKED_IN',
      checked_in_gate: 'North entrance',
    });
    // The other tickets of the order are untouched.
    expect((await statusInTable(tickets[1]!.id))!.status).toBe('VALID');
  });

  it("takes the organization's API key with checkin, and no other key (events:write is not enough)", async () => {
    const { offer, tickets } = await paidOrder();
    for (const scopes of [['events:read'], ['events:write', 'orders:write']]) {
      const { errors } = await callCheckIn(tickets[0]!.signedPayload, await apiKeyOf(offer, scopes));
      expect(errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const done = await checkIn(tickets[0]!.signedPayload, await apiKeyOf(offer, ['checkin']));
    expect(done.errors).toEqual([]);
    expect(done.ticket).toMatchObject({ status: 'CHECKED_IN', checkedInGate: null });
  });

  it('refuses a payload signed with another key, even under our key id', async () => {
    const { tickets } = await paidOrder();
    const [ours] = await publicKeys();
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const claims = JSON.parse(
      new TextDecoder().decode(
        (await compactVerify(tickets[0]!.signedPayload, await importJWK(ours!.public_jwk, 'EdDSA'))).payload,
      ),
    );
    const staff = await staffOf((await checkedOutOrder()).offer);
    for (const kid of [ours!.kid, uuidv7()]) {
      const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify({ ...claims, kid })))
        .setProtectedHeader({ alg: 'EdDSA', typ: decodeProtectedHeader(tickets[0]!.signedPayload).typ, kid })
        .sign(privateKey);
      const { errors, ticket } = await checkIn(forged, staff);
      expect(ticket).toBeNull();
      expect(errors).toEqual(notAValidTicket);
    }
    expect((await statusInTable(tickets[0]!.id))!.status).toBe('VALID');
  });

  it('refuses a tampered payload and anything that is not a ticket', async () => {
    const { offer, tickets } = await paidOrder();
    const staff = await staffOf(offer);
    const [header, body, signature] = tickets[0]!.signedPayload.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    const other = JSON.parse(
      Buffer.from(tickets[1]!.signedPayload.split('.')[1]!, 'base64url').toString('utf8'),
    );
    const tampered = [
      // Another ticket's id under this ticket's signature.
      { ...claims, ticketId: other.ticketId },
      { ...claims, ticketTypeId: uuidv7() },
      { ...claims, kid: uuidv7() },
    ].map(
      (changed) => `${header}.${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${signature}`,
    );
    const flipped = `${header}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BA' : 'AA'}`;
    for (const code of [
      ...tampered,
      flipped,
      'hello',
      `${header}.${body}.`,
      tickets[0]!.signedPayload.slice(0, -1),
    ]) {
      const { errors, ticket } = await checkIn(code, staff);
      expect(ticket).toBeNull();
      expect(errors).toEqual(notAValidTicket);
    }
    for (const ticket of tickets) expect((await statusInTable(ticket.id))!.status).toBe('VALID');
  });

  it("answers another organization's staff as for an unknown ticket, and refuses customers and strangers", async () => {
    const { tickets } = await paidOrder();
    const code = tickets[0]!.signedPayload;
    const elsewhere = await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'OWNER' } });
    expect(await checkIn(code, elsewhere)).toEqual({
      ticket: null,
      errors: [{ code: 'NOT_FOUND', message: 'no such ticket', field: ['input', 'code'] }],
    });
    const foreignKey = await subgraph.bearer({
      sub: uuidv7(),
      kind: 'api_key',
      org: uuidv7(),
      scopes: ['checkin'],
      mode: 'LIVE',
    });
    expect((await checkIn(code, foreignKey)).errors[0]!.code).toBe('NOT_FOUND');
    // A customer, even the ticket's own buyer, does not check tickets in.
    for (const customer of [buyer, await subgraph.bearer({ sub: uuidv7() })]) {
      const { payload, errors } = await callCheckIn(code, customer);
      expect(payload).toBeNull();
      expect(errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const anonymous = await callCheckIn(code, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await statusInTable(tickets[0]!.id))!.status).toBe('VALID');
  });

  it('lets exactly one of many simultaneous scans check a ticket in', async () => {
    const { offer, tickets } = await paidOrder();
    const scanners = await Promise.all(Array.from({ length: 12 }, () => staffOf(offer)));
    const results = await Promise.all(
      scanners.map((staff, index) => checkIn(tickets[0]!.signedPayload, staff, `Gate ${index}`)),
    );
    const won = results.filter((result) => result.ticket !== null);
    expect(won).toHaveLength(1);
    const { checkedInAt, checkedInGate } = won[0]!.ticket!;
    for (const lost of results.filter((result) => result.ticket === null)) {
      expect(lost.errors).toHaveLength(1);
      expect(lost.errors[0]!.code).toBe('ALREADY_CHECKED_IN');
      expect(lost.errors[0]!.message).toContain(checkedInAt!);
      expect(lost.errors[0]!.message).toContain(checkedInGate!);
    }
    expect(await statusInTable(tickets[0]!.id)).toEqual({
      status: 'CHECKED_IN',
      checked_in_gate: checkedInGate,
    });
  });
});
