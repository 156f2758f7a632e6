/** Issue 17, one brand everywhere: receipts print with the organization's brand as branding last announced it. */
import { createHash } from 'node:crypto';
import { brandKitChanged } from '@bilten/contracts/branding';
import { newEvent } from '@bilten/platform';
import { startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { startTestAssetServer, type TestAssetServer } from '@bilten/testkit/asset-server';
import { pdfBrandFacts, pdfFillColors, pdfText } from '@bilten/testkit/pdf';
import sharp from 'sharp';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { billingSubgraph } from '../src/server.ts';
import { announceOrder, announceOrganization, payAnnouncedOrder } from './support.ts';

type BrandPayload = z.input<typeof brandKitChanged.payload>;

let subgraph: TestSubgraph;
let assets: TestAssetServer;
let assetsUrl: string;
let logo: { bytes: Buffer; sha256: string };
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  const bytes = await sharp({ create: { width: 160, height: 40, channels: 3, background: '#0F766E' } })
    .png()
    .toBuffer();
  logo = { bytes, sha256: sha256(bytes) };
  assets = await startTestAssetServer();
  assets.serve(bytes);
  assetsUrl = assets.url;
  subgraph = await startTestSubgraph(billingSubgraph, 'jetstream', {
    env: { BRAND_ASSETS_URL: assetsUrl, PUBLIC_GATEWAY_URL: 'https://gateway.bilten.test' },
  });
});

afterAll(async () => {
  await subgraph?.dispose();
  await assets?.close();
});

function brand(organizationId: string, overrides: Partial<BrandPayload> = {}): BrandPayload {
  return {
    organizationId,
    primaryColor: '#0F766E',
    accentColor: '#9333EA',
    backgroundColor: '#F8FAFC',
    textColor: '#0F172A',
    logoUrl: `${assetsUrl}/assets/${logo.sha256}`,
    logo: { sha256: logo.sha256, contentType: 'image/png', width: 160, height: 40 },
    fontFamily: 'GEORGIA',
    ticketLayout: 'CLASSIC',
    domain: 'tickets.example-org.test',
    version: 2,
    changedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** Publishes branding's event and resolves once billing's consumer handled it (applied or not). */
async function announce(payload: BrandPayload) {
  const event = newEvent(brandKitChanged, payload.organizationId, payload.version ?? 1, payload);
  await subgraph.testBus.bus.publish(event);
  await waitFor(
    async () =>
      (await subgraph.sql`select 1 from billing.inbox where event_id = ${event.id}`).length > 0 || undefined,
  );
}

/** A paid order of a fresh organization; its receipt's id and its buyer. */
async function receiptOf(organizationId: string) {
  await announceOrganization(subgraph, { organizationId, name: 'Sevdah Večeri' });
  const order = await announceOrder(subgraph, { organizationId });
  expect((await payAnnouncedOrder(subgraph, order)).status).toBe('SUCCEEDED');
  const [receipt] = await subgraph.sql<Array<{ id: string }>>`
    select id from billing.receipts where order_id = ${order.orderId} and kind = 'RECEIPT'`;
  return { receiptId: receipt!.id, buyer: order.buyer };
}

async function receiptPdf({ receiptId, buyer }: { receiptId: string; buyer: Record<string, string> }) {
  const response = await fetch(new URL(`/receipts/${receiptId}.pdf`, subgraph.service.url), {
    headers: buyer,
  });
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

const hasImage = (pdf: Buffer) => pdf.toString('latin1').includes('/Subtype /Image');

describe('the receipt PDF', () => {
  it("prints in the organization's colours, logo and font, linking at its domain, the facts in its Keywords", async () => {
    const organizationId = uuidv7();
    await announce(brand(organizationId));
    const receipt = await receiptOf(organizationId);
    const pdf = await receiptPdf(receipt);
    expect(pdfBrandFacts(pdf)).toEqual({
      'brand-version': '2',
      'brand-primary': '#0F766E',
      'brand-logo': logo.sha256,
      'brand-domain': 'tickets.example-org.test',
    });
    const colors = pdfFillColors(pdf);
    for (const color of ['#0F766E', '#F8FAFC', '#0F172A', '#9333EA']) expect(colors).toContain(color);
    expect(hasImage(pdf)).toBe(true);
    expect(pdf.toString('latin1')).toMatch(/\/Width 160\s/);
    expect(pdf.toString('latin1')).toContain('/BaseFont /Times-Bold');
    const text = pdfText(pdf);
    expect(text).toContain(`https://tickets.example-org.test/receipts/${receipt.receiptId}.pdf`);
    for (const line of ['Receipt', 'Sevdah Veceri', 'Total paid']) expect(text).toContain(line);
    // The same receipt and brand print the same document.
    expect((await receiptPdf(receipt)).equals(pdf)).toBe(true);
  });

  it("prints Bilten's own look, linking at the gateway, for an organization whose brand has not arrived", async () => {
    const receipt = await receiptOf(uuidv7());
    const pdf = await receiptPdf(receipt);
    expect(pdfBrandFacts(pdf)).toEqual({
      'brand-version': '0',
      'brand-primary': '#1F2937',
      'brand-logo': 'none',
      'brand-domain': 'none',
    });
    expect(hasImage(pdf)).toBe(false);
    expect(pdfText(pdf)).toContain(`https://gateway.bilten.test/receipts/${receipt.receiptId}.pdf`);
  });

  it('goes without the logo when the bytes served do not match its hash', async () => {
    const organizationId = uuidv7();
    const claimed = sha256(Buffer.from('what branding stored'));
    assets.serve(logo.bytes, claimed);
    await announce(
      brand(organizationId, { logo: { sha256: claimed, contentType: 'image/png', width: 160, height: 40 } }),
    );
    const pdf = await receiptPdf(await receiptOf(organizationId));
    expect(pdfBrandFacts(pdf)['brand-logo']).toBe('none');
    expect(hasImage(pdf)).toBe(false);
    expect(pdfFillColors(pdf)).toContain('#0F766E');
  });
});

describe('propagation', () => {
  it('the next receipt render after a newer brand uses it; an older one arriving late does not win', async () => {
    const organizationId = uuidv7();
    const first = new Date(Date.now() - 60_000);
    await announce(brand(organizationId, { version: 2, changedAt: first.toISOString() }));
    const receipt = await receiptOf(organizationId);
    expect(pdfBrandFacts(await receiptPdf(receipt))['brand-primary']).toBe('#0F766E');

    const published = performance.now();
    await subgraph.testBus.bus.publish(
      newEvent(
        brandKitChanged,
        organizationId,
        3,
        brand(organizationId, { version: 3, primaryColor: '#1D4ED8', changedAt: new Date().toISOString() }),
      ),
    );
    const next = await waitFor(async () => {
      const pdf = await receiptPdf(receipt);
      return pdfBrandFacts(pdf)['brand-primary'] === '#1D4ED8' ? pdf : undefined;
    });
    const elapsed = performance.now() - published;
    console.log(
      `receipt PDF: brand_kit.changed published → next render shows it in ${elapsed.toFixed(0)} ms`,
    );
    expect(elapsed).toBeLessThan(5_000);
    expect(pdfFillColors(next)).toContain('#1D4ED8');
    expect(pdfFillColors(next)).not.toContain('#0F766E');

    await announce(
      brand(organizationId, {
        version: 2,
        primaryColor: '#000000',
        changedAt: new Date(first.getTime() + 1000).toISOString(),
      }),
    );
    expect(pdfBrandFacts(await receiptPdf(receipt))).toMatchObject({
      'brand-version': '3',
      'brand-primary': '#1D4ED8',
    });
  });
});
