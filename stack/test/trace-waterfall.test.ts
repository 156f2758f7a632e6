import { describe, expect, it } from 'vitest';
import { renderWaterfall, type WaterfallSpan, waterfallRows } from '../src/trace-waterfall.ts';

const span = (
  spanId: string,
  start: number,
  end: number,
  extra: Partial<WaterfallSpan> = {},
): WaterfallSpan => ({
  spanId,
  name: `op ${spanId}`,
  service: 'gateway',
  startNs: BigInt(start) * 1_000_000n,
  endNs: BigInt(end) * 1_000_000n,
  ...extra,
});

describe('trace waterfall', () => {
  const spans = [
    span('c', 5, 8, { parentSpanId: 'a', service: 'orders' }),
    span('a', 0, 10),
    span('b', 1, 4, { parentSpanId: 'a', service: 'catalog' }),
    // A consumer span: its own root, linked to the relay's publish span `d`.
    span('e', 12, 14, { links: ['d'], service: 'messaging' }),
    span('d', 9, 11, { parentSpanId: 'c', service: 'orders' }),
    span('z', 20, 21, { parentSpanId: 'not-collected' }),
  ];

  it('puts children under their parent by start time, and a linked consumer span under its producer', () => {
    expect(waterfallRows(spans).map(({ span, depth }) => `${span.spanId}${depth}`)).toEqual([
      'a0',
      'b1',
      'c1',
      'd2',
      'e3',
      'z0',
    ]);
  });

  it('draws one bar per span, scaled to the trace, with a legend per service and escaped labels', () => {
    const svg = renderWaterfall(
      [...spans, span('x', 2, 3, { name: '<script>', parentSpanId: 'a' })],
      'A <purchase>',
    );
    expect(svg.match(/<rect x="[\d.]+" y="\d+" width="[\d.]+" height="14"/g)).toHaveLength(7);
    expect(svg).toContain('A &lt;purchase&gt;');
    expect(svg).toContain('gateway: &lt;script&gt;');
    expect(svg).not.toContain('<script>');
    for (const service of ['catalog', 'gateway', 'messaging', 'orders'])
      expect(svg).toContain(`>${service}</text>`);
    // The root spans 0-10 ms of a 21 ms trace: 10/21 of the 640 px bar area.
    expect(svg).toContain(`width="${((10 / 21) * 640).toFixed(1)}"`);
    expect(svg).toContain('7 spans, 21.0 ms');
  });
});
