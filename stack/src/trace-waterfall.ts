import { escapeHtml } from '@bilten/platform';

/**
 * A trace drawn as a waterfall (SVG), from the spans an OTLP receiver collected: the picture of
 * one purchase in docs/operations.md. One row per span, indented under its parent; a consumer
 * span that starts a new trace branch from a message is drawn under the span it links to.
 */
export interface WaterfallSpan {
  spanId: string;
  parentSpanId?: string;
  /** Spans this one links to (a consumer's link to its producer). */
  links?: string[];
  name: string;
  service: string;
  startNs: bigint;
  endNs: bigint;
}

const ROW = 22;
const LABEL_WIDTH = 420;
const BAR_WIDTH = 640;
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#9c755f'];

/** Depth-first order: children (and linked spans) after their parent, each level by start time. */
export function waterfallRows(spans: WaterfallSpan[]): Array<{ span: WaterfallSpan; depth: number }> {
  const ids = new Set(spans.map((span) => span.spanId));
  const parentOf = (span: WaterfallSpan) =>
    span.parentSpanId && ids.has(span.parentSpanId)
      ? span.parentSpanId
      : span.links?.find((link) => ids.has(link));
  const children = new Map<string | undefined, WaterfallSpan[]>();
  for (const span of spans) {
    const parent = parentOf(span);
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const rows: Array<{ span: WaterfallSpan; depth: number }> = [];
  const visit = (parent: string | undefined, depth: number) => {
    const level = [...(children.get(parent) ?? [])].sort((a, b) => Number(a.startNs - b.startNs));
    for (const span of level) {
      rows.push({ span, depth });
      visit(span.spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return rows;
}

export function renderWaterfall(spans: WaterfallSpan[], title: string): string {
  const rows = waterfallRows(spans);
  // Nanosecond timestamps are bigints: no Math.min/max.
  let start = spans[0]?.startNs ?? 0n;
  let end = start + 1n;
  for (const span of spans) {
    if (span.startNs < start) start = span.startNs;
    if (span.endNs > end) end = span.endNs;
  }
  const scale = BAR_WIDTH / Number(end - start);
  const services = [...new Set(spans.map((span) => span.service))].sort();
  const colour = (service: string) => PALETTE[services.indexOf(service) % PALETTE.length]!;
  const height = (rows.length + 4) * ROW;
  const width = LABEL_WIDTH + BAR_WIDTH + 90;
  const lines = rows.map(({ span, depth }, index) => {
    const y = (index + 3) * ROW;
    const x = LABEL_WIDTH + Number(span.startNs - start) * scale;
    const barWidth = Math.max(1, Number(span.endNs - span.startNs) * scale);
    const ms = (Number(span.endNs - span.startNs) / 1e6).toFixed(1);
    const label = `${span.service}: ${span.name}`;
    return [
      `<text x="${8 + depth * 12}" y="${y + 15}">${escapeHtml(label.length > 60 ? `${label.slice(0, 57)}…` : label)}</text>`,
      `<rect x="${x.toFixed(1)}" y="${y + 4}" width="${barWidth.toFixed(1)}" height="${ROW - 8}" fill="${colour(span.service)}"/>`,
      `<text x="${(x + barWidth + 4).toFixed(1)}" y="${y + 15}" fill="#555">${ms} ms</text>`,
    ].join('');
  });
  const legend = services
    .map(
      (service, index) =>
        `<rect x="${8 + index * 100}" y="${ROW * 1.4}" width="10" height="10" fill="${colour(service)}"/>` +
        `<text x="${8 + index * 100 + 14}" y="${ROW * 1.4 + 10}">${escapeHtml(service)}</text>`,
    )
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeHtml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="${ROW * 0.4 + 10}" font-weight="bold">${escapeHtml(title)}</text>`,
    legend,
    ...lines,
    `<text x="8" y="${height - 8}" fill="#555">${rows.length} spans, ${(Number(end - start) / 1e6).toFixed(1)} ms</text>`,
    '</svg>',
  ].join('\n');
}
