import { ApolloServer } from '@apollo/server';
import { afterAll, describe, expect, it } from 'vitest';
import {
  boundedLabelValues,
  createServiceMetrics,
  graphqlMetricsPlugin,
  MAX_OPERATION_LABELS,
  OTHER_LABEL,
} from '../src/metrics.ts';

/** The distinct values of one label in a Prometheus text exposition. */
const labelValues = (text: string, label: string) =>
  new Set([...text.matchAll(new RegExp(`[{,]${label}="([^"]*)"`, 'g'))].map(([, value]) => value!));

describe('GraphQL metrics labels', () => {
  const metrics = createServiceMetrics('metrics-test', { events: false });
  const server = new ApolloServer({
    typeDefs: 'type Query { hello: String }',
    resolvers: { Query: { hello: () => 'hi' } },
    plugins: [graphqlMetricsPlugin(metrics)],
  });
  const started = server.start();
  afterAll(() => server.stop());
  const run = async (query: string) => {
    await started;
    await server.executeOperation({ query });
  };

  it('keep /metrics small and the operation names bounded, however many long names clients send', async () => {
    await run('query Early { hello }');
    // Long names (a GraphQL name is one token, so only the body limit bounds it) and many short ones.
    for (let i = 0; i < 40; i++) await run(`query Long${i}_${'x'.repeat(50_000)} { hello }`);
    for (let i = 0; i < 2 * MAX_OPERATION_LABELS; i++) await run(`query Short${i} { hello }`);
    // And their errors, counted by operation too.
    for (let i = 0; i < 2 * MAX_OPERATION_LABELS; i++) await run(`query Broken${i} { nope }`);
    await run('query Early { hello }');

    const text = await metrics.registry.metrics();
    expect(text.length).toBeLessThan(1_000_000);
    const operations = labelValues(text, 'operation');
    expect(operations.size).toBeLessThanOrEqual(MAX_OPERATION_LABELS + 1);
    expect(operations).toContain(OTHER_LABEL);
    expect([...operations].every((name) => name.length <= 100)).toBe(true);
    // A name seen before the limit keeps its own series.
    expect(text).toMatch(/graphql_operation_duration_seconds_count\{[^}]*operation="Early"[^}]*\} 2$/m);
  });
});

describe('boundedLabelValues', () => {
  it('keeps the first values it sees, sends later and overlong ones to "other"', () => {
    const label = boundedLabelValues({ maxValues: 2, maxLength: 5 });
    expect(['a', 'b', 'c', 'a', 'toolong', 'b'].map(label)).toEqual([
      'a',
      'b',
      OTHER_LABEL,
      'a',
      OTHER_LABEL,
      'b',
    ]);
  });
});
