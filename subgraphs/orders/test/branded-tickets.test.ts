/** Issue 17, one brand everywhere: tickets (PDF and QR page) render with the organization's brand as branding last announced it. */
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { brandKitChanged } from '@bilten/contracts/branding';
import { newEvent } from '@bilten/platform';
import { type CallerHeaders, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { startTestAssetServer, type TestAssetServer } from '@bilten/testkit/asset-server';
import { pdfFillColors as fillColors, pdfBrandFacts as pdfFacts, pdfText } from '@bilten/testkit/pdf';
import sharp from 'sharp';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createTicketLinks } from '../src/adapters/ticket-links.ts';
import { ordersSubgraph } from '../src/server.ts';
import { paidTickets, refundInFull } from './paid-tickets.ts';
import { catalogOffers, offerPayload } from './support.ts';

type BrandPayload = z.input<typeof brandKitChanged.payload>;

let subgraph: TestSubgraph;
let catalog: ReturnType<typeof catalogOffers>;
let buyer: CallerHeaders;
let assets: TestAssetServer;
let assetsUrl: string;
const links = createTicketLinks({ NODE_ENV: 'development' });

let logo: { bytes: Buffer; sha256: string };
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  const bytes = await sharp({ create: { width: 120, height: 60, channels: 3, background: '#E11D48' } })
    .png()
    .toBuffer();
  logo = { bytes, sha256: sha256(bytes) };
  assets = await startTestAssetServer();
  assets.serve(bytes);
  assetsUrl = assets.url;
  subgraph = await startTestSubgraph(ordersSubgraph, 'jetstream', {
    env: { BRAND_ASSETS_URL: assetsUrl, PUBLIC_GATEWAY_URL: 'https://gateway.bilten.test/' },
  });
  catalog = catalogOffers(subgraph);
  buyer = await subgraph.bearer({ sub: uuidv7() });
});

afterAll(async () => {
  await subgraph?.dispose();
  await assets?.close();
});

function brand(organizationId: string, overrides: Partial<BrandPayload> = {}): BrandPayload {
  return {
    organizationId,
    primaryColor: '#7C3AED',
    accentColor: '#0E7490',
    backgroundColor: '#FFFBEB',
    textColor: '#1C1917',
    logoUrl: `${assetsUrl}/assets/${logo.sha256}`,
    logo: { sha256: logo.sha256, contentType: 'image/png', width: 120, height: 60 },
    emailHeader: null,
    fontFamily: 'SOURCE_SERIF',
    emailFooter: null,
    ticketLayout: 'CLASSIC',
    domain: 'tickets.example-org.test',
    version: 3,
    changedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** Publishes branding's event and resolves once orders' consumer handled it (applied or not). */
async function announce(payload: BrandPayload) {
  const event = newEvent(brandKitChanged, payload.organizationId, payload.version ?? 1, payload);
  await subgraph.testBus.bus.publish(event);
  await waitFor(
    async () =>
      (await subgraph.sql`select 1 from orders.inbox where event_id = ${event.id}`).length > 0 || undefined,
  );
}

async function ticketOf(organizationId: string, title = 'Sarajevo Jazz Night') {
  const offer = await catalog.announce(offerPayload({ organizationId, title }));
  const paid = await paidTickets(subgraph, offer, 1, buyer, [{ name: 'Emina Hadžić' }]);
  return { offer, paid, ticket: paid.tickets[0]! };
}

async function ticketPdf(ticketId: string): Promise<Buffer> {
  const response = await fetch(new URL(`/tickets/${ticketId}.pdf`, subgraph.service.url), { headers: buyer });
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

/** Every content stream (images left out), inflated: the page's drawing operators. */
function pdfDrawing(pdf: Buffer): string {
  const source = pdf.toString('latin1');
  let drawing = '';
  for (const match of source.matchAll(/\bobj\s*<<((?:(?!endobj)[\s\S])*?)>>\s*stream\r?\n/g)) {
    if (match[1]!.includes('/Subtype /Image')) continue;
    const start = match.index + match[0].length;
    const bytes = pdf.subarray(start, source.indexOf('endstream', start));
    drawing += (match[1]!.includes('/FlateDecode') ? inflateSync(bytes) : bytes).toString('latin1');
  }
  return drawing;
}

const hasImage = (pdf: Buffer) => pdf.toString('latin1').includes('/Subtype /Image');
const mediaBox = (pdf: Buffer) => /\/MediaBox \[([^\]]*)\]/.exec(pdf.toString('latin1'))?.[1];

describe('the ticket PDF', () => {
  it("renders in the organization's colours, logo, font and domain, with the facts in its Keywords", async () => {
    const organizationId = uuidv7();
    await announce(brand(organizationId));
    const { ticket } = await ticketOf(organizationId);
    const pdf = await ticketPdf(ticket.id);
    expect(pdfFacts(pdf)).toEqual({
      'brand-version': '3',
      'brand-primary': '#7C3AED',
      'brand-logo': logo.sha256,
      'brand-domain': 'tickets.example-org.test',
    });
    const colors = fillColors(pdf);
    for (const color of ['#7C3AED', '#FFFBEB', '#1C1917', '#0E7490']) expect(colors).toContain(color);
    // The logo is embedded as an image of its own size; the serif family prints in Times.
    expect(hasImage(pdf)).toBe(true);
    expect(pdf.toString('latin1')).toMatch(/\/Width 120\s/);
    expect(pdf.toString('latin1')).toContain('/BaseFont /Times-Bold');
    expect(pdf.toString('latin1')).not.toContain('/BaseFont /Helvetica');
    expect(mediaBox(pdf)).toBe('0 0 595.28 841.89');
    const text = pdfText(pdf);
    expect(text).toContain(`https://tickets.example-org.test/tickets/${ticket.id}`);
    for (const line of ['Sarajevo Jazz Night', 'Emina Hadzic', ticket.id]) expect(text).toContain(line);
  });

  it("renders Bilten's own look, linking at the gateway, for an organization whose brand has not arrived", async () => {
    const { ticket } = await ticketOf(uuidv7());
    const pdf = await ticketPdf(ticket.id);
    expect(pdfFacts(pdf)).toEqual({
      'brand-version': '0',
      'brand-primary': '#1F2937',
      'brand-logo': 'none',
      'brand-domain': 'none',
    });
    expect(hasImage(pdf)).toBe(false);
    expect(pdf.toString('latin1')).toContain('/BaseFont /Helvetica-Bold');
    expect(pdfText(pdf)).toContain(`https://gateway.bilten.test/tickets/${ticket.id}`);
  });

  it('lays out COMPACT on half a sheet and POSTER under a wide band', async () => {
    const compact = uuidv7();
    await announce(brand(compact, { ticketLayout: 'COMPACT', fontFamily: 'INTER' }));
    const compactPdf = await ticketPdf((await ticketOf(compact)).ticket.id);
    // A5 landscape: half an A4 sheet, two to print on one.
    expect(mediaBox(compactPdf)).toBe('0 0 595.28 419.53');
    expect(compactPdf.toString('latin1')).toContain('/BaseFont /Helvetica-Bold');
    expect(pdfFacts(compactPdf)['brand-logo']).toBe(logo.sha256);

    const poster = uuidv7();
    await announce(brand(poster, { ticketLayout: 'POSTER' }));
    const posterPdf = await ticketPdf((await ticketOf(poster)).ticket.id);
    expect(mediaBox(posterPdf)).toBe('0 0 595.28 841.89');
    // The band: the page's width, 200 points tall, in the primary colour.
    expect(pdfDrawing(posterPdf)).toMatch(/^595\.28 200 l$/m);
    const classicPdf = await ticketPdf((await ticketOf(uuidv7())).ticket.id);
    expect(pdfDrawing(classicPdf)).not.toMatch(/^595\.28 200 l$/m);
  });

  it('goes without the logo when the bytes served do not match its hash, and never fails for it', async () => {
    const organizationId = uuidv7();
    const other = await sharp({ create: { width: 90, height: 90, channels: 3, background: '#000000' } })
      .png()
      .toBuffer();
    // Another image under the hash of ours: a mixed-up or tampered store.
    const claimed = sha256(Buffer.concat([logo.bytes, Buffer.from('x')]));
    assets.serve(other, claimed);
    const missing = sha256(Buffer.from('never stored'));
    await announce(
      brand(organizationId, { logo: { sha256: claimed, contentType: 'image/png', width: 90, height: 90 } }),
    );
    const pdf = await ticketPdf((await ticketOf(organizationId)).ticket.id);
    expect(pdfFacts(pdf)['brand-logo']).toBe('none');
    expect(hasImage(pdf)).toBe(false);
    expect(fillColors(pdf)).toContain('#7C3AED');
    // A logo branding no longer has (404): the same.
    const gone = uuidv7();
    await announce(
      brand(gone, { logo: { sha256: missing, contentType: 'image/png', width: 90, height: 90 } }),
    );
    const without = await ticketPdf((await ticketOf(gone)).ticket.id);
    expect(pdfFacts(without)['brand-logo']).toBe('none');
  });
});

describe('propagation', () => {
  it('the next render after a newer brand uses it; an older one arriving late does not win', async () => {
    const organizationId = uuidv7();
    const first = new Date(Date.now() - 60_000);
    await announce(brand(organizationId, { version: 3, changedAt: first.toISOString() }));
    const { ticket } = await ticketOf(organizationId);
    expect(pdfFacts(await ticketPdf(ticket.id))['brand-primary']).toBe('#7C3AED');

    const published = performance.now();
    await subgraph.testBus.bus.publish(
      newEvent(
        brandKitChanged,
        organizationId,
        4,
        brand(organizationId, {
          version: 4,
          primaryColor: '#B91C1C',
          domain: null,
          changedAt: new Date().toISOString(),
        }),
      ),
    );
    const next = await waitFor(async () => {
      const pdf = await ticketPdf(ticket.id);
      return pdfFacts(pdf)['brand-primary'] === '#B91C1C' ? pdf : undefined;
    });
    const elapsed = performance.now() - published;
    console.log(`ticket PDF: brand_kit.changed published → next render shows it in ${elapsed.toFixed(0)} ms`);
    expect(elapsed).toBeLessThan(5_000);
    expect(fillColors(next)).toContain('#B91C1C');
    expect(fillColors(next)).not.toContain('#7C3AED');
    // No active domain any more: the link falls back to the gateway.
    expect(pdfText(next)).toContain(`https://gateway.bilten.test/tickets/${ticket.id}`);

    // Version 3 again, changed before version 4 but delivered after it.
    await announce(
      brand(organizationId, {
        version: 3,
        primaryColor: '#000000',
        changedAt: new Date(first.getTime() + 1000).toISOString(),
      }),
    );
    const after = await ticketPdf(ticket.id);
    expect(pdfFacts(after)).toMatchObject({ 'brand-version': '4', 'brand-primary': '#B91C1C' });
  });
});

describe('GET /tickets/{id}: the QR page', () => {
  it('shows the QR code, event and attendee in the brand, behind a strict policy, never cached', async () => {
    const organizationId = uuidv7();
    await announce(brand(organizationId));
    const { ticket } = await ticketOf(organizationId, '<script>alert(1)</script> & "Jazz"');
    const response = await fetch(
      new URL(`/tickets/${ticket.id}?token=${links.token(ticket.id)}`, subgraph.service.url),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`img-src ${assetsUrl}`);
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    const html = await response.text();
    expect(html).toContain(
      `<meta name="bilten-brand" content="brand-version:3 brand-primary:#7C3AED brand-logo:${logo.sha256} brand-domain:tickets.example-org.test">`,
    );
    // The stylesheet the policy allows by its hash, with the brand's colours.
    const style = /<style>([^<]*)<\/style>/.exec(html)![1]!;
    expect(csp).toContain(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    for (const color of ['#7C3AED', '#FFFBEB', '#1C1917', '#0E7490']) expect(style).toContain(color);
    expect(html).toContain(`<img src="${assetsUrl}/assets/${logo.sha256}" alt="">`);
    // The title is text, never markup; names keep their letters on the page.
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Jazz&quot;');
    expect(html).toContain('Emina Hadžić');
    expect(html).toContain('<svg');
    expect(html).toContain(ticket.id);
  });

  it('draws the QR code of the ticket’s own payload', async () => {
    const { ticket } = await ticketOf(uuidv7());
    const html = await (
      await fetch(new URL(`/tickets/${ticket.id}`, subgraph.service.url), { headers: buyer })
    ).text();
    const { qrSvg } = await import('../src/adapters/ticket-page.ts');
    expect(html).toContain(qrSvg(ticket.signedPayload));
    // Bilten's own look when the brand has not arrived: no logo, no image source allowed.
    expect(html).toContain('brand-logo:none brand-domain:none');
    expect(html).not.toContain('<img');
  });

  it('has the same access rules as the PDF', async () => {
    const organizationId = uuidv7();
    const { paid, ticket } = await ticketOf(organizationId);
    const page = (path: string, headers: CallerHeaders = {}) =>
      fetch(new URL(path, subgraph.service.url), { headers });
    const staff = await subgraph.bearer({ sub: uuidv7(), orgs: { [organizationId]: 'STAFF' } });
    expect((await page(`/tickets/${ticket.id}`, staff)).status).toBe(200);
    for (const headers of [{}, await subgraph.bearer({ sub: uuidv7() })]) {
      const response = await page(`/tickets/${ticket.id}`, headers);
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('no such ticket');
    }
    expect((await page(`/tickets/${ticket.id}?token=${links.token(uuidv7())}`)).status).toBe(404);
    expect((await page(`/tickets/${ticket.id}`, { authorization: 'Bearer not.a.token' })).status).toBe(401);
    for (const path of [`/tickets/${uuidv7()}`, `/tickets/${ticket.id}.html`, '/tickets/%3Cscript%3E'])
      expect((await page(path, buyer)).status).toBe(404);
    await refundInFull(subgraph, paid);
    expect((await page(`/tickets/${ticket.id}`, buyer)).status).toBe(410);
  });
});
