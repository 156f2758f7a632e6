import { type CallerHeaders, startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import QRCode from 'qrcode';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketLinks } from '../src/adapters/ticket-links.ts';
import { qrMatrix, renderTicketPdf } from '../src/domain/ticket-pdf.ts';
import { ordersSubgraph } from '../src/server.ts';
import { paidTickets, refundInFull } from './paid-tickets.ts';
import { catalogOffers, type OfferPayload, offerPayload } from './support.ts';

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
const BUYER = uuidv7();
let buyer: CallerHeaders;
// The subgraph runs without TICKET_KEY_ENCRYPTION_SECRET outside production: the development key.
const links = createTicketLinks({ NODE_ENV: 'development' });

beforeAll(async () => {
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream');
  catalog = catalogOffers(subgraph);
  buyer = await subgraph.bearer({ sub: BUYER });
});

afterAll(async () => {
  await subgraph?.dispose();
});

const fileUrl = (path: string) => new URL(path, subgraph.service.url).toString();
const getFile = (path: string, headers: CallerHeaders = {}) => fetch(fileUrl(path), { headers });

async function ticketOf(offer?: OfferPayload) {
  const event = offer ?? (await catalog.announce(offerPayload()));
  const paid = await paidTickets(subgraph, event, 1, buyer, [{ name: 'Emina Hadžić' }]);
  return { offer: event, paid, ticket: paid.tickets[0]! };
}

/** The filled squares of an uncompressed page (`x y w h re`), as a matrix of modules. */
function drawnMatrix(pdf: Buffer): boolean[][] {
  const squares = [...pdf.toString('latin1').matchAll(/^([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re$/gm)].map(
    (match) => match.slice(1, 5).map(Number) as [number, number, number, number],
  );
  const size = squares[0]![2];
  const left = Math.min(...squares.map(([x]) => x));
  const top = Math.min(...squares.map(([, y]) => y));
  const cells = new Set(
    squares.map(([x, y]) => `${Math.round((y - top) / size)},${Math.round((x - left) / size)}`),
  );
  const count = Math.round(Math.max(...squares.map(([x]) => x)) - left) / size + 1;
  return Array.from({ length: Math.round(count) }, (_, row) =>
    Array.from({ length: Math.round(count) }, (_, column) => cells.has(`${row},${column}`)),
  );
}

/** The text an uncompressed page shows: each `[<hex> kerning <hex>] TJ` line, its pieces joined. */
function pageText(pdf: Buffer): string[] {
  return [...pdf.toString('latin1').matchAll(/^\[(.*)\] TJ$/gm)].map((line) =>
    [...line[1]!.matchAll(/<([0-9a-f]*)>/g)]
      .map((piece) => Buffer.from(piece[1]!, 'hex').toString('latin1'))
      .join(''),
  );
}

describe('the ticket page', () => {
  it("draws the QR code of the ticket's own payload, module for module", async () => {
    const { ticket } = await ticketOf();
    const pdf = await renderTicketPdf(
      {
        ticketId: ticket.id,
        eventTitle: 'Sarajevo Jazz Night',
        startsAt: new Date('2026-06-01T18:00:00Z'),
        timezone: 'Europe/Sarajevo',
        ticketTypeName: 'Regular',
        attendeeName: 'Emina Hadžić',
        payload: ticket.signedPayload,
      },
      { compress: false },
    );
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const { modules } = QRCode.create(ticket.signedPayload, { errorCorrectionLevel: 'M' });
    const expected = qrMatrix(ticket.signedPayload);
    expect(expected).toHaveLength(modules.size);
    // The drawn squares span the quiet-zone-free matrix: its dark border modules fix the grid.
    expect(drawnMatrix(pdf)).toEqual(expected);
    // Another payload draws another code.
    expect(
      drawnMatrix(await renderTicketPdf({ ...sheetFor(ticket.id), payload: 'x' }, { compress: false })),
    ).not.toEqual(expected);
    expect(pdf.toString('latin1')).toContain(`(Ticket ${ticket.id})`);
    const text = pageText(pdf);
    for (const line of [
      'Sarajevo Jazz Night',
      'Monday, 1 June 2026 at 20:00 (Europe/Sarajevo)',
      'Regular',
      ticket.id,
      // Letters the standard fonts lack lose their accents rather than print as garbage.
      'Emina Hadzic',
    ])
      expect(text).toContain(line);
  });
});

const sheetFor = (ticketId: string) => ({
  ticketId,
  eventTitle: 'E',
  startsAt: null,
  timezone: null,
  ticketTypeName: 'T',
  attendeeName: 'A',
  payload: '',
});

describe('GET /tickets/{id}.pdf', () => {
  it("gives the buyer, the organization's staff and platform ADMINs the PDF, never cached", async () => {
    const { offer, ticket } = await ticketOf();
    const callers = [
      buyer,
      await subgraph.bearer({ sub: uuidv7(), orgs: { [offer.organizationId]: 'STAFF' } }),
      await subgraph.bearer({ sub: uuidv7(), roles: ['ADMIN'] }),
    ];
    for (const headers of callers) {
      const response = await getFile(`/tickets/${ticket.id}.pdf`, headers);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/pdf');
      expect(response.headers.get('cache-control')).toBe('private, no-store');
      const body = Buffer.from(await response.arrayBuffer());
      expect(body.subarray(0, 5).toString()).toBe('%PDF-');
      expect(body.toString('latin1')).toContain(`(Ticket ${ticket.id})`);
      expect(body.toString('latin1')).toContain(`(${offer.title})`);
    }
  });

  it('opens with the link token alone, and only for its own ticket', async () => {
    const { ticket } = await ticketOf();
    const other = (await ticketOf()).ticket;
    const opened = await getFile(`/tickets/${ticket.id}.pdf?token=${links.token(ticket.id)}`);
    expect(opened.status).toBe(200);
    expect(
      Buffer.from(await opened.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');
    for (const token of [links.token(other.id), 'nope', links.token(ticket.id).slice(1), 'x'.repeat(5000)]) {
      expect((await getFile(`/tickets/${ticket.id}.pdf?token=${encodeURIComponent(token)}`)).status).toBe(
        404,
      );
    }
  });

  it('answers anyone else as for an unknown ticket, malformed ids too, and a bad token 401', async () => {
    const { ticket } = await ticketOf();
    const strangers = [
      {},
      await subgraph.bearer({ sub: uuidv7() }),
      await subgraph.bearer({ sub: uuidv7(), orgs: { [uuidv7()]: 'OWNER' } }),
      // API keys read no ticket files: they are people's.
      await subgraph.bearer({
        sub: uuidv7(),
        kind: 'api_key',
        org: uuidv7(),
        scopes: ['checkin'],
        mode: 'LIVE',
      }),
    ];
    for (const headers of strangers) {
      const response = await getFile(`/tickets/${ticket.id}.pdf`, headers);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await response.text()).toBe('no such ticket');
    }
    for (const path of [
      `/tickets/${uuidv7()}.pdf`,
      // `/tickets/{id}` is the ticket's QR page (branded-tickets.test.ts); other endings name nothing.
      `/tickets/${ticket.id}.png`,
      `/tickets/${uuidv7()}`,
      `/tickets/${ticket.id}.pdf.pdf`,
      `/tickets/${ticket.id.slice(1)}.pdf`,
      '/tickets/..%2F..%2Fetc%2Fpasswd.pdf',
      '/tickets/%00.pdf',
    ]) {
      expect((await getFile(path, buyer)).status).toBe(404);
    }
    // A name longer than any route parameter is refused by the HTTP layer itself.
    expect((await getFile(`/tickets/${'a'.repeat(5000)}.pdf`, buyer)).status).toBe(414);
    expect((await getFile(`/tickets/${ticket.id}.pdf`, { authorization: 'Bearer not.a.token' })).status).toBe(
      401,
    );
  });

  it('answers 410 Gone for a void ticket, to those who may see it', async () => {
    const { paid, ticket } = await ticketOf();
    await refundInFull(subgraph, paid);
    const gone = await getFile(`/tickets/${ticket.id}.pdf`, buyer);
    expect(gone.status).toBe(410);
    expect(await gone.text()).toBe('this ticket is void');
    expect(
      (await getFile(`/tickets/${ticket.id}.pdf`, await subgraph.bearer({ sub: uuidv7() }))).status,
    ).toBe(404);
  });
});
