import { startOtlpReceiver } from '@bilten/testkit/otlp';
import { expect, it } from 'vitest';
import { parseEnv, platformEnv } from '../src/config.ts';
import { endServerSpan, startServerSpan, startTracing } from '../src/tracing.ts';

it('samples about OTEL_TRACES_SAMPLER_ARG of new traces, and exports only those', async () => {
  const receiver = await startOtlpReceiver();
  const tracing = await startTracing(
    parseEnv(platformEnv, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    }),
    'sampling-test',
  );
  try {
    let sampled = 0;
    const requests = 4_000;
    for (let i = 0; i < requests; i++) {
      const server = startServerSpan('gateway', { method: 'POST', route: '/graphql', headers: {} })!;
      if (server.span.isRecording()) sampled++;
      endServerSpan(server, 200);
    }
    // Binomial(4000, 0.1): σ ≈ 19, so 300–500 is more than 5σ either side.
    expect(sampled).toBeGreaterThan(300);
    expect(sampled).toBeLessThan(500);
    await tracing.flush();
    expect(receiver.spans).toHaveLength(sampled);

    // A caller's sampled trace is kept whatever the ratio (parent-based).
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const child = startServerSpan('gateway', {
      method: 'POST',
      route: '/graphql',
      headers: { traceparent },
    })!;
    expect(child.span.isRecording()).toBe(true);
    expect(child.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    endServerSpan(child, 200);
  } finally {
    await tracing.stop();
    await receiver.close();
  }
});
