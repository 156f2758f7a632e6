/** A rush: a fixed list of requests, one per buyer, drained by `concurrency` loops. */
import { type LatencySummary, now, summarize } from '../stats.ts';

export const RESERVE = `mutation($input: ReserveTicketsInput!) {
  reserveTickets(input: $input) { reservation { id expiresAt } errors { code message } }
}`;

/** `held`, `soldOut`, or `error: <what>` (anything else: a GraphQL error, a failed request, another code). */
export type Outcome = 'held' | 'soldOut' | `error: ${string}`;

export interface Rush {
  requests: number;
  holds: number;
  soldOut: number;
  /** Other answers, by kind: must be none. */
  errors: Record<string, number>;
  /** Holds per second, from the first request to the answer of the last hold. */
  holdsPerSecond: number;
  /** Answers of every kind per second, over the whole rush. */
  answersPerSecond: number;
  /** Latency of the requests that got a hold, and of every request. */
  holdLatencyMs: LatencySummary;
  latencyMs: LatencySummary;
  elapsedMs: number;
}

const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1_000 * 10) / 10;

/** Sends request `i` for i = 0..count-1, `concurrency` at a time, and sorts the answers. */
export async function rush(
  count: number,
  concurrency: number,
  request: (i: number) => Promise<Outcome>,
): Promise<Rush> {
  const all: number[] = [];
  const held: number[] = [];
  const errors: Record<string, number> = {};
  let soldOut = 0;
  let lastHoldAt = 0;
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const began = now();
        const outcome = await request(i).catch((err: Error): Outcome => `error: ${err.message}`);
        const ended = now();
        all.push(ended - began);
        if (outcome === 'held') {
          held.push(ended - began);
          lastHoldAt = Math.max(lastHoldAt, ended);
        } else if (outcome === 'soldOut') soldOut++;
        else errors[outcome] = (errors[outcome] ?? 0) + 1;
      }
    }),
  );
  const elapsedMs = now() - start;
  return {
    requests: count,
    holds: held.length,
    soldOut,
    errors,
    holdsPerSecond: held.length ? perSecond(held.length, lastHoldAt - start) : 0,
    answersPerSecond: perSecond(count, elapsedMs),
    holdLatencyMs: summarize(held),
    latencyMs: summarize(all),
    elapsedMs: Math.round(elapsedMs),
  };
}

/** `count` requests that only need to succeed, `concurrency` at a time: requests per second. */
export async function drain(
  count: number,
  concurrency: number,
  request: (i: number) => Promise<boolean>,
): Promise<{ requests: number; failures: number; perSecond: number; latencyMs: LatencySummary }> {
  const samples: number[] = [];
  let failures = 0;
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const began = now();
        const ok = await request(i).catch(() => false);
        samples.push(now() - began);
        if (!ok) failures++;
      }
    }),
  );
  return {
    requests: count,
    failures,
    perSecond: perSecond(count, now() - start),
    latencyMs: summarize(samples),
  };
}
