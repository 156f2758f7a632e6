import { captureLogs } from '@bilten/testkit';
import { afterAll, expect, it } from 'vitest';
import { createHttpApp } from '../src/http.ts';
import { createServiceMetrics } from '../src/metrics.ts';

// What the HPAs scale on besides CPU (k8s/autoscaling): requests received and not yet answered.
const metrics = createServiceMetrics('in-flight-test', { events: false });
const app = createHttpApp({ log: captureLogs().log, metrics, health: [] });
let release: () => void = () => {};
const held = new Promise<void>((resolve) => {
  release = resolve;
});
let arrived: () => void = () => {};
const bothArrived = new Promise<void>((resolve) => {
  let count = 0;
  arrived = () => {
    count += 1;
    if (count === 2) resolve();
  };
});
app.get('/slow', async () => {
  arrived();
  await held;
  return { ok: true };
});
let stuckArrived: () => void = () => {};
const stuckHasArrived = new Promise<void>((resolve) => {
  stuckArrived = resolve;
});
app.get('/stuck', async () => {
  stuckArrived();
  // Never answers: only the client's going away ends it.
  await new Promise(() => {});
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
afterAll(() => app.close());

const inFlight = async () =>
  (await metrics.registry.getSingleMetric('http_requests_in_flight')!.get()).values[0]?.value ?? 0;

it('counts requests in flight on /metrics, up while they run and back to 0 once answered', async () => {
  expect(await inFlight()).toBe(0);
  const answers = [fetch(`${url}/slow`), fetch(`${url}/slow`)];
  await bothArrived;
  expect(await inFlight()).toBe(2);
  const scrape = await (await fetch(`${url}/metrics`)).text();
  // The scrape is itself in flight while it renders.
  expect(scrape).toMatch(/^http_requests_in_flight\{service="in-flight-test"\} 3$/m);
  release();
  for (const answer of await Promise.all(answers)) expect(answer.status).toBe(200);
  const deadline = Date.now() + 2_000;
  while ((await inFlight()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(await inFlight()).toBe(0);
});

it('forgets a request whose client went away before the answer', async () => {
  const before = await inFlight();
  const client = new AbortController();
  const gone = fetch(`${url}/stuck`, { signal: client.signal }).catch(() => 'aborted');
  await stuckHasArrived;
  expect(await inFlight()).toBe(before + 1);
  client.abort();
  expect(await gone).toBe('aborted');
  const deadline = Date.now() + 2_000;
  while ((await inFlight()) !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(await inFlight()).toBe(before);
});
