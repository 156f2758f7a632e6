import { createHash } from 'node:crypto';
import { type BrandedContext, brandFacts, escapeHtml, pdfColorsOf } from '@bilten/platform';
import type { FastifyReply } from 'fastify';
import { qrMatrix, type TicketSheet, ticketWhen } from '../domain/ticket-pdf.ts';

// `GET /tickets/{id}`: the ticket as a page to show at the door from a phone, in the
// organization's brand. Its link token may be in the URL, so the page loads nothing but its logo,
// runs no script, sends no referrer and is never cached.

/** CSS font stacks of the brand fonts (branding's BrandFont): local fonts only, the page loads none. */
const FONT_STACKS: Record<string, string> = {
  SYSTEM_UI: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  INTER: 'Inter, system-ui, sans-serif',
  ROBOTO: 'Roboto, system-ui, sans-serif',
  OPEN_SANS: '"Open Sans", system-ui, sans-serif',
  LATO: 'Lato, system-ui, sans-serif',
  SOURCE_SERIF: '"Source Serif 4", "Source Serif Pro", Georgia, serif',
  MERRIWEATHER: 'Merriweather, Georgia, serif',
  GEORGIA: 'Georgia, "Times New Roman", serif',
};

/** The logo's URL when it is a plain http(s) URL, else null (no image rather than a strange one). */
function logoUrlOf(context: BrandedContext): URL | null {
  if (!context.logoUrl) return null;
  try {
    const url = new URL(context.logoUrl);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : null;
  } catch {
    return null;
  }
}

/** The QR code as inline SVG, from the same matrix as the PDF's, with its four-module quiet zone. */
export function qrSvg(payload: string): string {
  const matrix = qrMatrix(payload);
  const size = matrix.length + 8;
  const squares = matrix.flatMap((cells, row) =>
    cells.flatMap((dark, column) => (dark ? [`M${column + 4} ${row + 4}h1v1h-1z`] : [])),
  );
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges" ` +
    `role="img" aria-label="Ticket QR code"><rect width="${size}" height="${size}" fill="#FFFFFF"/>` +
    `<path fill="#000000" d="${squares.join('')}"/></svg>`
  );
}

/** The page's HTML and the style hash its Content-Security-Policy allows. */
export function renderTicketPage(sheet: TicketSheet, context: BrandedContext): { html: string; csp: string } {
  const colors = pdfColorsOf(context);
  const font = FONT_STACKS[context.fontFamily] ?? FONT_STACKS.SYSTEM_UI!;
  const logo = logoUrlOf(context);
  const layout = context.ticketLayout.toLowerCase();
  // Every value in the stylesheet is a checked #RRGGBB or one of the fixed stacks above.
  const style = [
    `body{margin:0;background:${colors.background};color:${colors.text};font-family:${font}}`,
    `header{background:${colors.primary};color:${colors.background};padding:16px 24px;display:flex;align-items:center;gap:16px}`,
    '.poster header{padding:56px 24px}',
    'header img{max-height:48px;max-width:160px}',
    'h1{margin:0;font-size:1.6em}',
    'main{max-width:560px;margin:0 auto;padding:24px}',
    '.compact main{max-width:420px}',
    'svg{display:block;width:100%;max-width:320px;margin:24px auto}',
    'dt{font-size:.75em;text-transform:uppercase;opacity:.7}dd{margin:0 0 12px;font-weight:bold}',
    `.id{font-family:monospace;text-align:center}a{color:${colors.accent}}`,
  ].join('');
  const styleHash = createHash('sha256').update(style).digest('base64');
  const when = ticketWhen(sheet);
  const facts = brandFacts(context, logo && context.logo ? context.logo.sha256 : null);
  const html = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">',
    `<meta name="bilten-brand" content="${escapeHtml(facts)}">`,
    `<title>Ticket · ${escapeHtml(sheet.eventTitle)}</title><style>${style}</style></head>`,
    `<body class="${escapeHtml(layout)}"><header>`,
    logo ? `<img src="${escapeHtml(logo.href)}" alt="">` : '',
    `<div><h1>${escapeHtml(sheet.eventTitle)}</h1>`,
    when ? `<div>${escapeHtml(when)}</div>` : '',
    '</div></header><main>',
    qrSvg(sheet.payload),
    `<dl><dt>Ticket</dt><dd>${escapeHtml(sheet.ticketTypeName)}</dd>`,
    `<dt>Attendee</dt><dd>${escapeHtml(sheet.attendeeName)}</dd></dl>`,
    `<p class="id">${escapeHtml(sheet.ticketId)}</p>`,
    '<p>Show this code at the entrance. Each ticket admits one person once.</p>',
    '</main></body></html>',
  ].join('');
  const csp = [
    "default-src 'none'",
    `style-src 'sha256-${styleHash}'`,
    // Only the logo's own origin; an origin has no characters that could end the directive.
    `img-src ${logo ? logo.origin : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

/** Sends the page: no cache, no referrer (the token may be in its URL), no framing, no sniffing. */
export function sendTicketPage(reply: FastifyReply, sheet: TicketSheet, context: BrandedContext) {
  const { html, csp } = renderTicketPage(sheet, context);
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .send(html);
}
